import datetime

from sqlalchemy import Date, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from whistle.submit.models.base import Base


class BundleLog(Base):
    """A bundle this server wrote (outbox) or applied (replies): the sequence chain.

    Dated to the day, like everything else the server keeps.
    """

    __tablename__ = "bundle_log"
    __table_args__ = (UniqueConstraint("direction", "sequence", name="uq_bundle_log_sequence"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    direction: Mapped[str] = mapped_column(String(16))
    sequence: Mapped[int] = mapped_column(Integer)
    bundle_id: Mapped[str] = mapped_column(String(64))
    day: Mapped[datetime.date] = mapped_column(Date)
