"""The one office this inbox belongs to: card, recovery copies of the keys, pinned server."""

from datetime import datetime

from sqlalchemy import DateTime, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from whistle.inbox.models.base import Base


class Office(Base):
    __tablename__ = "office"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime)
    card: Mapped[bytes] = mapped_column(LargeBinary)
    fingerprint: Mapped[str] = mapped_column(String(64))
    storage_public_key: Mapped[bytes] = mapped_column(LargeBinary)
    recovery_keyring: Mapped[bytes] = mapped_column(LargeBinary)
    recovery_custodian_keyring: Mapped[bytes] = mapped_column(LargeBinary)
    #: The recovery keyring's personal key: every desk key is also sealed to it.
    recovery_public_key: Mapped[bytes | None] = mapped_column(LargeBinary(32), nullable=True)
    #: When stored content moved from the storage key into desks' compartments (None: not yet).
    compartments_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    server_card: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    server_fingerprint: Mapped[str | None] = mapped_column(String(64), nullable=True)
    server_pinned_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
