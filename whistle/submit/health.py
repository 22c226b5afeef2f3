"""What an operator may know, and the start-up checks of the data directory.

A missing or unreadable office card, a missing key, or a bad or unreachable
database stop the server at start-up (found while the configuration loads). A
read-only or nearly full data directory does not stop it: ``data_directory_problems``
names the problem in one line on stderr before any request is served, and the
site keeps answering — pages load, and anything that needs storage gets the
"temporarily unavailable, nothing was kept" page — so a source sees a page
rather than tor's "onion site not found" (docs/decisions.md).
``server_status`` answers ``whistle server status``: counts, days and bytes —
never anything about what a record says.
"""

import datetime
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import func, select, text

from whistle.submit import db, store
from whistle.submit.config import ConfigError, SubmitConfig
from whistle.submit.models import BundleLog, Record, RecordKind
from whistle.submit.pepper import logins_on_previous

#: Free space the data directory needs beyond one maximal upload (SQLite, its WAL).
FREE_SPACE_MARGIN = 16 * 1024 * 1024


def required_free_bytes(config: SubmitConfig) -> int:
    return FREE_SPACE_MARGIN + config.limits.max_upload_bytes


def data_directory_problems(directory: Path, config: SubmitConfig) -> list[str]:
    """What keeps SQLite from storing reports in ``directory``, one line each (or nothing).

    A probe file is written and removed (``os.access`` says yes to root on a
    read-only mount). With PostgreSQL the directory only holds secrets and may
    be read-only.
    """
    if not config.database_url.startswith("sqlite"):
        return []
    try:
        fd, probe = tempfile.mkstemp(prefix=".write-probe-", dir=directory)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        return [
            f"the data directory {directory} is not writable ({exc.strerror}): check the mount "
            "and its owner; until then every report is refused with a page"
        ]
    free = shutil.disk_usage(directory).free
    needed = required_free_bytes(config)
    if free < needed:
        return [
            f"the data directory {directory} has {free // 2**20} MiB free and needs at least "
            f"{-(-needed // 2**20)} MiB (one maximal upload and a margin): free some space"
        ]
    return []


@dataclass(frozen=True)
class ServerStatus:
    submissions_waiting: int
    followups_waiting: int
    replies_held: int
    days_since_collection: int | None
    storage_used: int
    storage_quota: int
    schema_current: bool
    database_ok: bool
    free_bytes: int | None
    problems: tuple[str, ...]
    #: Logins whose lookup still needs the previous pepper; None when none is kept.
    logins_on_previous_pepper: int | None = None

    @property
    def healthy(self) -> bool:
        return self.schema_current and self.database_ok and not self.problems


def server_status(directory: Path, config: SubmitConfig, today: datetime.date) -> ServerStatus:
    """Counts and health; opens no record."""
    engine = db.make_engine(config.database_url)
    try:
        try:
            db.check_schema(engine)
            schema_current = True
        except ConfigError:
            schema_current = False
        sessions = db.make_sessions(engine)
        with sessions() as session:
            counts = dict(
                session.execute(select(Record.kind, func.count()).group_by(Record.kind)).all()
            )
            # The sources' copies count too, once their table exists (migration 0008).
            used = (
                store.storage_used(session)
                if schema_current
                else int(session.scalar(select(func.coalesce(func.sum(Record.size), 0))) or 0)
            )
            last_export = session.scalar(
                select(func.max(BundleLog.day)).where(BundleLog.direction == "outbox")
            )
            on_previous = logins_on_previous(session, config) if schema_current else None
            if engine.dialect.name == "sqlite":
                database_ok = session.scalar(text("PRAGMA quick_check")) == "ok"
            else:
                database_ok = session.scalar(text("SELECT 1")) == 1
    finally:
        engine.dispose()
    sqlite = config.database_url.startswith("sqlite")
    return ServerStatus(
        submissions_waiting=counts.get(RecordKind.SUBMISSION, 0),
        followups_waiting=counts.get(RecordKind.FOLLOWUP, 0),
        replies_held=counts.get(RecordKind.REPLY, 0),
        days_since_collection=(today - last_export).days if last_export else None,
        storage_used=used,
        storage_quota=config.limits.storage_quota_bytes,
        schema_current=schema_current,
        database_ok=database_ok,
        free_bytes=shutil.disk_usage(directory).free if sqlite else None,
        problems=tuple(data_directory_problems(directory, config)),
        logins_on_previous_pepper=on_previous,
    )
