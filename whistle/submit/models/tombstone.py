import datetime

from sqlalchemy import Date, String
from sqlalchemy.orm import Mapped, mapped_column

from whistle.submit.models.base import Base


class Tombstone(Base):
    """A purged case or an expired reply: no bundle may bring it back."""

    __tablename__ = "tombstones"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)  # case or record id
    kind: Mapped[str] = mapped_column(String(16))  # "case" or "record"
    day: Mapped[datetime.date] = mapped_column(Date)
