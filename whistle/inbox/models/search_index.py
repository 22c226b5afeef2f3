"""The search index: one envelope sealed to the storage key with every case's searchable text.

A cache of what the sealed record summaries and notes say, kept so that searching after an
unlock opens one envelope instead of one per record. ``version`` grows at every rewrite.
"""

from datetime import datetime

from sqlalchemy import DateTime, Integer, LargeBinary
from sqlalchemy.orm import Mapped, mapped_column

from whistle.inbox.models.base import Base


class SearchIndex(Base):
    __tablename__ = "search_index"

    id: Mapped[int] = mapped_column(primary_key=True)
    version: Mapped[int] = mapped_column(Integer)
    blob: Mapped[bytes] = mapped_column(LargeBinary)
    updated_at: Mapped[datetime] = mapped_column(DateTime)
