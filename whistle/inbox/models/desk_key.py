"""A desk's key pair in one key epoch, its secret sealed to the desk's compartment key."""

from sqlalchemy import ForeignKey, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from whistle.inbox.models.base import Base


class DeskKey(Base):
    """A desk's X25519 key pair in one epoch (the key records in transit are sealed to).

    ``generation`` names the desk's compartment key generation ``sealed_secret`` is a key
    grant to (``wire/<desk>/<epoch>``); None: sealed to the storage key, as in an office
    from before desks (until its first sign-in after ``desks migrate``).
    """

    __tablename__ = "desk_key"

    epoch: Mapped[int] = mapped_column(
        Integer, ForeignKey("key_epoch.epoch"), primary_key=True, autoincrement=False
    )
    desk_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    public_key: Mapped[bytes] = mapped_column(LargeBinary(32))
    sealed_secret: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    generation: Mapped[int | None] = mapped_column(Integer, nullable=True)
