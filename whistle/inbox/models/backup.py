"""One backup this inbox made (or was restored from): when, by whom, what it covered.

``records`` and ``last_import_at`` say what the backup holds: every record imported
up to then. ``restored`` marks the row a restore adds for the backup it came from.
"""

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, DateTime, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from whistle.inbox.models.base import Base


class Backup(Base):
    __tablename__ = "backup"

    id: Mapped[int] = mapped_column(primary_key=True)
    backup_id: Mapped[str] = mapped_column(String(32), unique=True)
    made_at: Mapped[datetime] = mapped_column(DateTime)
    officer_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    file_name: Mapped[str] = mapped_column(String(255))
    size: Mapped[int] = mapped_column(BigInteger)
    records: Mapped[int] = mapped_column(Integer)
    last_import_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    audit_entries: Mapped[int] = mapped_column(Integer)
    restored: Mapped[bool] = mapped_column(Boolean, default=False)
    #: The directory it was written to (None: made before this was kept, or restored).
    directory: Mapped[str | None] = mapped_column(String(4096), nullable=True)
