"""An officer stepping aside from a case (a conflict of interest); the reason is sealed."""

from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from whistle.inbox.models.base import Base


class Recusal(Base):
    __tablename__ = "recusal"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[str] = mapped_column(String(32), index=True)
    officer_id: Mapped[int] = mapped_column(ForeignKey("officer.id"))
    by_officer_id: Mapped[int] = mapped_column(ForeignKey("officer.id"))
    declared_at: Mapped[datetime] = mapped_column(DateTime)
    #: Sealed to the case key (``sealing.RECUSAL``): the conflict is the officer's words.
    reason: Mapped[bytes] = mapped_column(LargeBinary)
