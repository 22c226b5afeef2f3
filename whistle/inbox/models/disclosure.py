"""A custodian's decision to open a reporter's identification; the reason is sealed."""

from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, LargeBinary
from sqlalchemy.orm import Mapped, mapped_column

from whistle.inbox.models.base import Base


class Disclosure(Base):
    __tablename__ = "disclosure"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("case.id"), index=True)
    officer_id: Mapped[int] = mapped_column(ForeignKey("officer.id"))
    decided_at: Mapped[datetime] = mapped_column(DateTime)
    reason: Mapped[bytes] = mapped_column(LargeBinary)
