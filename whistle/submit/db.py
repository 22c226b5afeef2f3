"""The database: engine (SQLite in WAL mode by default), sessions, Alembic migrations.

The schema comes only from Alembic (``whistle/submit/migrations``), in tests too.
"""

import logging
import os
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config as AlembicConfig
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from whistle.submit.config import ConfigError

MIGRATIONS = Path(__file__).parent / "migrations"


def make_engine(url: str) -> Engine:
    engine = create_engine(url)
    if engine.dialect.name == "sqlite":

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(connection: Any, _record: Any) -> None:
            cursor = connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            # Deleted ciphertext is overwritten with zeros (best effort, see docs).
            cursor.execute("PRAGMA secure_delete=ON")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()

    return engine


def make_sessions(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


def alembic_config(url: str) -> AlembicConfig:
    config = AlembicConfig()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade(url: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(url), revision)


def downgrade(url: str, revision: str) -> None:
    command.downgrade(alembic_config(url), revision)


def check_schema(engine: Engine) -> None:
    """Raise ``ConfigError`` unless the database is at the newest migration."""
    head = ScriptDirectory.from_config(alembic_config(str(engine.url))).get_current_head()
    with engine.connect() as connection:
        current = MigrationContext.configure(connection).get_current_revision()
    if current != head:
        raise ConfigError(
            f"the database schema is at {current or 'nothing'}, not {head}: "
            "run `whistle server upgrade DIR`"
        )


def _on_read_only_file_system(engine: Engine) -> bool:
    """True when the SQLite database's directory is on a file system mounted read-only."""
    database = engine.url.database
    if engine.dialect.name != "sqlite" or not database:
        return False
    try:
        return bool(os.statvfs(Path(database).parent).f_flag & os.ST_RDONLY)
    except OSError:
        return False


def check_schema_at_start(engine: Engine) -> None:
    """``check_schema``, except on a read-only file system (e.g. ext4 ``errors=remount-ro``).

    There the database cannot be opened in WAL mode, but nothing can have changed it either:
    the site starts anyway and answers every request that needs the database with its
    "temporarily unavailable" page, until the file system is writable again.
    """
    try:
        check_schema(engine)
    except OperationalError:
        if not _on_read_only_file_system(engine):
            raise
        logging.getLogger(__name__).error(
            "the data directory is on a read-only file system: reports cannot be stored"
        )
