"""What the register keeps of a purged case: dates, desk, state and why it was purged (no content).

The ``tombstone`` row (bundles) is what stops an old bundle bringing the case back."""

from datetime import date, datetime

from sqlalchemy import Date, DateTime, ForeignKey, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from whistle.inbox.models.base import Base

GROUNDS = ("no-investigation", "retention", "other")


class PurgedCase(Base):
    __tablename__ = "purged_case"

    case_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    desk_id: Mapped[str] = mapped_column(String(32))
    received_day: Mapped[date] = mapped_column(Date)
    purged_at: Mapped[datetime] = mapped_column(DateTime)
    #: None: deleted by the inbox itself at the deadline, or again after a restore.
    officer_id: Mapped[int | None] = mapped_column(ForeignKey("officer.id"), nullable=True)
    grounds: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(32))
    outcome: Mapped[str | None] = mapped_column(String(32), nullable=True)
    #: The case's register line at deletion (``register.seal_line``: JSON sealed to the
    #: storage key, ``sealing.REGISTER``, as it holds the officers' words on measures), never
    #: its content or labels. None for cases purged before this column existed.
    register: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
