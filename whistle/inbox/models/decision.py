"""One workflow decision on a case (state change, assignment, extension, acknowledgement
withheld, deletion postponed);
its reason is sealed to the storage key (``sealing.DECISION``)."""

from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from whistle.inbox.models.base import Base

ACTIONS = ("status", "assign", "extend", "withhold-ack", "postpone-deletion")


class Decision(Base):
    __tablename__ = "decision"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("case.id"), index=True)
    officer_id: Mapped[int] = mapped_column(ForeignKey("officer.id"))
    at: Mapped[datetime] = mapped_column(DateTime)
    action: Mapped[str] = mapped_column(String(32))
    from_status: Mapped[str | None] = mapped_column(String(32), nullable=True)
    to_status: Mapped[str | None] = mapped_column(String(32), nullable=True)
    outcome: Mapped[str | None] = mapped_column(String(32), nullable=True)
    reason: Mapped[bytes] = mapped_column(LargeBinary)
