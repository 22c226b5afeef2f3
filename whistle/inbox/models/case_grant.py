"""One holder's copy of a case key (a key grant, 96 bytes)."""

from sqlalchemy import ForeignKey, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from whistle.inbox.models.base import Base


class CaseGrant(Base):
    """``holder`` is ``desk:<desk id>:<generation>`` (sealed to that compartment key: every
    member opens it), ``officer:<id>`` (a case someone stepped aside from: sealed to each
    other member one by one) or ``recovery``."""

    __tablename__ = "case_grant"

    case_id: Mapped[str] = mapped_column(ForeignKey("case.id"), primary_key=True)
    generation: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    holder: Mapped[str] = mapped_column(String(80), primary_key=True, index=True)
    grant: Mapped[bytes] = mapped_column(LargeBinary(96))
