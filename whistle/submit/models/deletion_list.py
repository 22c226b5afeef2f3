import datetime

from sqlalchemy import Date, Integer, LargeBinary
from sqlalchemy.orm import Mapped, mapped_column

from whistle.submit.models.base import Base


class DeletionListRow(Base):
    """The office's latest list of deletions (one row), as a replies bundle brought it.

    Signed by the office and sealed to its storage key inside: the server cannot read it and
    cannot forge one. It goes back in every outbox bundle, so an inbox restored from a backup
    older than its last deletions makes them again at its first import (docs/bundles.md).
    """

    __tablename__ = "deletion_list"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    #: How many deletions the office said it holds: a list with fewer never replaces it.
    entries: Mapped[int] = mapped_column(Integer)
    blob: Mapped[bytes] = mapped_column(LargeBinary)
    day: Mapped[datetime.date] = mapped_column(Date)
