from sqlalchemy import ForeignKey, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from whistle.submit.models.base import Base


class Chunk(Base):
    """A piece (about 1 MiB) of one record's ciphertext."""

    __tablename__ = "chunks"

    record_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("records.id", ondelete="CASCADE"), primary_key=True
    )
    sequence: Mapped[int] = mapped_column(Integer, primary_key=True)
    data: Mapped[bytes] = mapped_column(LargeBinary)
