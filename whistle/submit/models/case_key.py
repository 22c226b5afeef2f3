import datetime

from sqlalchemy import Date, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from whistle.submit.models.base import Base


class CaseKeyRow(Base):
    """The office's newest announced case key of one case (docs/protocol.md §17), as a replies
    bundle brought it: follow-ups to the case are sealed to it alone.

    Signed by the office; verified when it arrived and again whenever a follow-up is sealed
    to it here, so a row written by anything else seals nothing. It goes with its case
    (``store.purge_case``).
    """

    __tablename__ = "case_keys"

    case_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    generation: Mapped[int] = mapped_column(Integer)
    #: The signed announcement, byte for byte as received (the page verifies it too).
    announcement: Mapped[bytes] = mapped_column(LargeBinary)
    #: The day the server applied it.
    applied: Mapped[datetime.date] = mapped_column(Date)
