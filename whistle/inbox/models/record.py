"""One imported record (submission, follow-up, reply), re-encrypted under the storage key.

``meta`` is a small envelope (sealed to the storage key) with what lists and
search need; the whole record lives in ``store/<stored_name>``. The original
envelope's hash is kept for acknowledgements to the server.
"""

from datetime import date, datetime

from sqlalchemy import Date, DateTime, ForeignKey, Index, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from whistle.inbox.models.base import Base

KINDS = ("submission", "followup", "reply")


class Record(Base):
    __tablename__ = "record"
    #: Follow-ups counted without reading the rows' sealed summaries (migration 0014_perf).
    __table_args__ = (Index("ix_record_kind_case", "kind", "case_id", "imported_at"),)

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("case.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    received_day: Mapped[date] = mapped_column(Date)
    original_hash: Mapped[bytes] = mapped_column(LargeBinary)
    original_size: Mapped[int] = mapped_column(Integer)
    stored_name: Mapped[str] = mapped_column(String(64), unique=True)
    meta: Mapped[bytes] = mapped_column(LargeBinary)
    imported_at: Mapped[datetime] = mapped_column(DateTime)
    #: When a backup first held this record (None: in no backup yet; see ``backup.py``).
    backed_up_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
