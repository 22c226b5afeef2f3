"""A desk's key pair in one key epoch, its secret sealed to the storage key."""

from sqlalchemy import ForeignKey, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from whistle.inbox.models.base import Base


class DeskKey(Base):
    """A desk's X25519 key pair in one epoch; the secret sealed to the storage key."""

    __tablename__ = "desk_key"

    epoch: Mapped[int] = mapped_column(
        Integer, ForeignKey("key_epoch.epoch"), primary_key=True, autoincrement=False
    )
    desk_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    public_key: Mapped[bytes] = mapped_column(LargeBinary(32))
    sealed_secret: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
