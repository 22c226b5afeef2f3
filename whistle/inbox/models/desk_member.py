"""An officer's membership of a desk: a manager's recorded act (the keys follow as grants)."""

from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from whistle.inbox.models.base import Base


class DeskMember(Base):
    __tablename__ = "desk_member"

    desk_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    officer_id: Mapped[int] = mapped_column(ForeignKey("officer.id"), primary_key=True)
    added_at: Mapped[datetime] = mapped_column(DateTime)
