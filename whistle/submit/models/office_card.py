import datetime

from sqlalchemy import Date, Integer, LargeBinary
from sqlalchemy.orm import Mapped, mapped_column

from whistle.submit.models.base import Base


class OfficeCardRow(Base):
    """An office card a replies bundle brought (a key rotation): the highest epoch is current.

    In the database, not in the data directory, so every host sharing it encrypts to the
    same card. With no row, the card pinned at ``whistle server init`` is current.
    """

    __tablename__ = "office_cards"

    epoch: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    card: Mapped[bytes] = mapped_column(LargeBinary)
    #: The day the server applied it: the previous epoch is accepted a while longer.
    applied: Mapped[datetime.date] = mapped_column(Date)
