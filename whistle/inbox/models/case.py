"""A case: what the inbox may know in plaintext (ids, desk, status, dates); content is sealed."""

from datetime import date, datetime

from sqlalchemy import Date, DateTime, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from whistle.inbox.models.base import Base

STATUS_NEW = "new"
STATUSES = (STATUS_NEW, "acknowledged", "investigating", "closed")


class Case(Base):
    __tablename__ = "case"

    #: The server's random case id, 16 bytes in hex.
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    desk_id: Mapped[str] = mapped_column(String(32), index=True)
    status: Mapped[str] = mapped_column(String(32), default=STATUS_NEW, index=True)
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("officer.id"), nullable=True)
    received_day: Mapped[date] = mapped_column(Date, index=True)
    last_activity_day: Mapped[date] = mapped_column(Date)
    imported_at: Mapped[datetime] = mapped_column(DateTime)
