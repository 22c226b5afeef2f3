"""An office setting chosen in the inbox (key → value as text); see ``settings.py``."""

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from whistle.inbox.models.base import Base


class Setting(Base):
    __tablename__ = "setting"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(String(200))
