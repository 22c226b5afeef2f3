"""One deletion the office made: a whole case, or one file, field or message of a case.

Kept after the case is gone, with no content (the reason is sealed, and dropped with the
case): the list every restore applies again (``deletions.py``, which writes it signed by
the office key beside every backup), and the trail of art. 32.2–32.4 deletions.
"""

from datetime import datetime

from sqlalchemy import DateTime, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from whistle.inbox.models.base import Base

#: What is deleted: the whole case, one stored record (a message or a file of it), one
#: form field of the submission, or one attachment of a record.
TARGETS = ("case", "record", "field", "file")
#: Why: art. 32.4 (no investigation within 3 months), the 10-year cap, special-category data
#: (32.2), data outside the law's scope (32.2), information shown false (32.3), other.
GROUNDS = (
    "no-investigation",
    "retention",
    "special-category",
    "out-of-scope",
    "shown-false",
    "other",
)


class Deletion(Base):
    __tablename__ = "deletion"

    #: Random (16 bytes, hex): entries made on two copies of the inbox never collide.
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime)
    officer_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    case_id: Mapped[str] = mapped_column(String(32), index=True)
    target: Mapped[str] = mapped_column(String(16))
    #: The record id ("record"), "record_id/field" ("field"), "record_id/file name" ("file").
    item: Mapped[str] = mapped_column(String(400), default="")
    grounds: Mapped[str] = mapped_column(String(32))
    #: The reason, sealed to the storage key (``sealing.DECISION``); None once the case is gone.
    reason: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
