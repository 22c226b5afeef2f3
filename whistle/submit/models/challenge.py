from sqlalchemy import Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from whistle.submit.models.base import Base


class CourierChallenge(Base):
    """An outstanding courier challenge: single use, deleted when used or expired.

    ``expires`` is a Unix time in whole minutes: no finer time is kept, and only
    while the challenge is outstanding.
    """

    __tablename__ = "courier_challenges"

    nonce: Mapped[str] = mapped_column(String(64), primary_key=True)
    expires: Mapped[int] = mapped_column(Integer)
