"""One holder's copy of a case key (a key grant, 96 bytes)."""

from sqlalchemy import ForeignKey, Index, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from whistle.inbox.models.base import Base


class CaseGrant(Base):
    """``holder`` is ``desk:<desk id>:<generation>`` (sealed to that compartment key: every
    member opens it), ``officer:<id>`` (a case someone stepped aside from: sealed to each
    other member one by one) or ``recovery``."""

    __tablename__ = "case_grant"
    #: Which cases a holder's keys open, read from the index alone (migration 0014_perf).
    __table_args__ = (Index("ix_case_grant_holder_case", "holder", "case_id"),)

    case_id: Mapped[str] = mapped_column(ForeignKey("case.id"), primary_key=True)
    generation: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    holder: Mapped[str] = mapped_column(String(80), primary_key=True)
    grant: Mapped[bytes] = mapped_column(LargeBinary(96))
