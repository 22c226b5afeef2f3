"""Every bundle the inbox applied (outbox) or wrote (replies): the sequence chain."""

from datetime import datetime

from sqlalchemy import DateTime, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from whistle.inbox.models.base import Base


class BundleLog(Base):
    __tablename__ = "bundle_log"
    __table_args__ = (UniqueConstraint("direction", "sequence"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    #: "outbox" (received from the server) or "replies" (written for the server).
    direction: Mapped[str] = mapped_column(String(16))
    sequence: Mapped[int] = mapped_column(Integer)
    bundle_id: Mapped[str] = mapped_column(String(64))
    previous: Mapped[str | None] = mapped_column(String(64), nullable=True)
    at: Mapped[datetime] = mapped_column(DateTime)
