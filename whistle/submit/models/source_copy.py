import datetime

from sqlalchemy import Date, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from whistle.submit.models.base import Base


class SourceCopy(Base):
    """The source's own copy of one record they sent, sealed to a key only their code opens
    (whistle/crypto/source_copy.py).

    Not a ``Record``: bundles never carry it and the office's acknowledgement never names it;
    it goes when its case is purged or the source asks (``store.forget_copies``).
    ``position`` is that of the record it copies, so the conversation keeps its order after
    the record itself is collected.
    """

    __tablename__ = "source_copies"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)  # 16 random bytes, hex
    case_id: Mapped[str] = mapped_column(String(32), index=True)
    position: Mapped[int] = mapped_column(Integer)
    created: Mapped[datetime.date] = mapped_column(Date)
    size: Mapped[int] = mapped_column(Integer)
    data: Mapped[bytes] = mapped_column(LargeBinary)
