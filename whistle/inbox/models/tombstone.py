"""A purged case or record: an older bundle must not bring it back."""

from datetime import date

from sqlalchemy import Date, String
from sqlalchemy.orm import Mapped, mapped_column

from whistle.inbox.models.base import Base


class Tombstone(Base):
    __tablename__ = "tombstone"

    #: A case id (kind "case") or a record id (kind "record").
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    day: Mapped[date] = mapped_column(Date)
