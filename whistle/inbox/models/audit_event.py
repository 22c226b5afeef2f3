"""What happened, by whom, when: never content (reasons and notes are sealed elsewhere).

Append-only, hash-chained and keyed: see ``whistle/inbox/audit.py``.
"""

from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from whistle.inbox.models.base import Base


class AuditEvent(Base):
    __tablename__ = "audit_event"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    at: Mapped[datetime] = mapped_column(DateTime, index=True)
    officer_id: Mapped[int | None] = mapped_column(ForeignKey("officer.id"), nullable=True)
    action: Mapped[str] = mapped_column(String(64))
    case_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    record_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    detail: Mapped[str] = mapped_column(String(500), default="")
    prev_hash: Mapped[bytes] = mapped_column(LargeBinary, unique=True)
    entry_hash: Mapped[bytes] = mapped_column(LargeBinary)
    #: 1: unkeyed (before migration 0010); 2: sealed when an officer's key was at hand.
    chain: Mapped[int] = mapped_column(Integer, default=2, server_default="1")
    seal: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
