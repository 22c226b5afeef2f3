"""A reply to the source: a draft (sealed to the storage key), then ready (queued outgoing).

``purpose`` says what the reply is for: an ordinary reply, the acknowledgement, the notice of a
disclosure decision, or the record of a meeting / oral report for the source to confirm.
"""

from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from whistle.inbox.models.base import Base

DRAFT = "draft"
READY = "ready"
PURPOSES = ("reply", "acknowledgement", "disclosure", "meeting")


class Reply(Base):
    __tablename__ = "reply"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("case.id"), index=True)
    author_id: Mapped[int] = mapped_column(ForeignKey("officer.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime)
    updated_at: Mapped[datetime] = mapped_column(DateTime)
    state: Mapped[str] = mapped_column(String(16), default=DRAFT)
    purpose: Mapped[str] = mapped_column(String(16), default="reply")
    body: Mapped[bytes] = mapped_column(LargeBinary)
    outgoing_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
