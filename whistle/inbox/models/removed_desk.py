"""A desk the office removed: where reports still on their way to it go, and when it went."""

from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from whistle.inbox.models.base import Base


class RemovedDesk(Base):
    """The card without the desk reaches the server only with the next replies bundle, and
    the server accepts the previous card's keys for a grace period after that: a report sent
    to the desk in between is placed at ``successor_id`` when it is imported. Its members and
    compartment keys stay until no live epoch holds a key of the desk (records may still be in
    transit to it), then go (``keys_destroyed_at``)."""

    __tablename__ = "removed_desk"

    desk_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    successor_id: Mapped[str] = mapped_column(String(32))
    removed_at: Mapped[datetime] = mapped_column(DateTime)
    #: The first key epoch whose card no longer lists the desk.
    epoch: Mapped[int] = mapped_column(Integer)
    keys_destroyed_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    #: None: the recovery key at the command line.
    by_officer_id: Mapped[int | None] = mapped_column(ForeignKey("officer.id"), nullable=True)
