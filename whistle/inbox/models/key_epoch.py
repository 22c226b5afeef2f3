"""The office's key epochs: each card, and its bundle key sealed to the storage key."""

from datetime import datetime

from sqlalchemy import DateTime, Integer, LargeBinary
from sqlalchemy.orm import Mapped, mapped_column

from whistle.inbox.models.base import Base


class KeyEpoch(Base):
    """One rotation of the desk and bundle keys: its card (the highest epoch is current).

    ``bundle_secret`` is the bundle secret key sealed to the office storage key (so every
    officer's keyring and the recovery keyring open it); it and the desk secrets become
    NULL when the epoch's keys are destroyed (``destroyed_at``), the card stays.
    """

    __tablename__ = "key_epoch"

    epoch: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    card: Mapped[bytes] = mapped_column(LargeBinary)
    bundle_public: Mapped[bytes] = mapped_column(LargeBinary(32))
    bundle_secret: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    #: When an outbox bundle first showed the server encrypting to this epoch.
    confirmed_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    destroyed_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
