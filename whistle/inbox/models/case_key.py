"""A case's content key in one generation: everything stored for the case is sealed to it."""

from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, Integer, LargeBinary
from sqlalchemy.orm import Mapped, mapped_column

from whistle.inbox.models.base import Base


class CaseKey(Base):
    """A new generation is made when an officer steps aside (new content goes to it)."""

    __tablename__ = "case_key"

    case_id: Mapped[str] = mapped_column(ForeignKey("case.id"), primary_key=True)
    generation: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    public_key: Mapped[bytes] = mapped_column(LargeBinary(32))
    #: When a backup's snapshot first held this key (``backup.make_backup``); the server is
    #: told of it only then (``case_announce.split_case_keys``): follow-ups sealed to a key
    #: only a lost laptop held would be lost.
    backed_up_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
