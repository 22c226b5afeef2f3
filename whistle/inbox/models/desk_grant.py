"""One holder's copy of a desk's compartment secret (a key grant, 96 bytes)."""

from sqlalchemy import Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from whistle.inbox.models.base import Base


class DeskGrant(Base):
    """``holder`` is ``officer:<id>`` (sealed to that officer's personal key), ``recovery``
    (the recovery keyring's key) or ``storage`` (the interim copy during the migration)."""

    __tablename__ = "desk_grant"

    desk_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    generation: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    holder: Mapped[str] = mapped_column(String(48), primary_key=True, index=True)
    grant: Mapped[bytes] = mapped_column(LargeBinary(96))
