"""A record from an outbox bundle that the importer could not file: kept as it arrived."""

from datetime import date, datetime

from sqlalchemy import Date, DateTime, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from whistle.inbox.models.base import Base


class HeldRecord(Base):
    """A record held back for a desk the importer is not in (``held.py``).

    ``envelope`` is the record exactly as the bundle carried it: sealed to desk keys of its
    key epoch, which only that desk's members (and the recovery key) open. ``desk_id`` is
    its desk when known (a follow-up of a case here); ``tried`` the desks whose keys failed
    to open a report (comma-separated), so it is for one of the others. A follow-up sealed
    to its case's key (``case_key``) opens only with that key: it waits for its holders.
    """

    __tablename__ = "held_record"

    record_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    case_id: Mapped[str] = mapped_column(String(32), index=True)
    received_day: Mapped[date] = mapped_column(Date)
    epoch: Mapped[int | None] = mapped_column(Integer, nullable=True)
    envelope: Mapped[bytes] = mapped_column(LargeBinary)
    desk_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    tried: Mapped[str] = mapped_column(String(1024), default="")
    held_at: Mapped[datetime] = mapped_column(DateTime)
    #: The case key (public, 32 bytes) the server says a follow-up was sealed to (None: to
    #: the desks), kept for whoever files it (docs/protocol.md §17).
    case_key: Mapped[bytes | None] = mapped_column(LargeBinary(32), nullable=True)
