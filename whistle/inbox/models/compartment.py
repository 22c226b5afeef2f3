"""A desk's compartment key in one generation: what a desk's cases are sealed to."""

from datetime import datetime

from sqlalchemy import DateTime, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from whistle.inbox.models.base import Base


class Compartment(Base):
    """A desk's X25519 compartment key pair in one generation (a new one when a member
    leaves); its secret exists only as grants (``DeskGrant``)."""

    __tablename__ = "compartment"

    desk_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    generation: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    public_key: Mapped[bytes] = mapped_column(LargeBinary(32))
    created_at: Mapped[datetime] = mapped_column(DateTime)
