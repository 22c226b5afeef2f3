import datetime
import enum

from sqlalchemy import Date, Enum, Integer, LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from whistle.submit.models.base import Base


class RecordKind(enum.StrEnum):
    SUBMISSION = "submission"
    FOLLOWUP = "followup"
    REPLY = "reply"


class Record(Base):
    """One envelope (ciphertext), stored as chunk rows.

    ``position`` orders a case's records (dates are only days); ``size`` is the
    envelope's length, which reveals only its padded size.
    """

    __tablename__ = "records"
    __table_args__ = (UniqueConstraint("case_id", "position", name="uq_records_case_position"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)  # 16 random bytes, hex
    case_id: Mapped[str] = mapped_column(String(32), index=True)
    position: Mapped[int] = mapped_column(Integer)
    kind: Mapped[RecordKind] = mapped_column(
        Enum(RecordKind, name="record_kind", values_callable=lambda e: [m.value for m in e])
    )
    created: Mapped[datetime.date] = mapped_column(Date)
    size: Mapped[int] = mapped_column(Integer)
    record_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    #: Replies only: the day the source first read it at check-in (expiry counts from it).
    first_read: Mapped[datetime.date | None] = mapped_column(Date, nullable=True)
    #: Submissions and follow-ups: the office key epoch they were encrypted to (None: the
    #: pinned card's, for records stored before key epochs existed).
    epoch: Mapped[int | None] = mapped_column(Integer, nullable=True)
    #: Follow-ups only: the public case key it was sealed to (docs/protocol.md §17), not its
    #: generation: an inbox restored from an older backup can make a generation again with
    #: another key. None: sealed to every desk of its epoch's card.
    case_key: Mapped[bytes | None] = mapped_column(LargeBinary(32), nullable=True)
