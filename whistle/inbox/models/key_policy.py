"""The office's key settings (the rotation reminder)."""

from sqlalchemy import Integer
from sqlalchemy.orm import Mapped, mapped_column

from whistle.inbox.models.base import Base


class KeyPolicy(Base):
    """The office's one row of key settings: remind to rotate every N days (None: never)."""

    __tablename__ = "key_policy"

    id: Mapped[int] = mapped_column(primary_key=True)
    reminder_days: Mapped[int | None] = mapped_column(Integer, nullable=True)
