"""When an officer last opened a case: what came after is new to them (dashboard, case list)."""

from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, Integer
from sqlalchemy.orm import Mapped, mapped_column

from whistle.inbox.models.base import Base


class CaseSeen(Base):
    __tablename__ = "case_seen"

    officer_id: Mapped[int] = mapped_column(ForeignKey("officer.id"), primary_key=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("case.id"), primary_key=True)
    seen_at: Mapped[datetime] = mapped_column(DateTime)
    #: How many of the case's replies the source had read then: the server reports a read as
    #: a day, so a later count above this one is what is new.
    replies_read: Mapped[int] = mapped_column(Integer, default=0)
