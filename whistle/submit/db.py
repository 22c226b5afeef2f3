"""The database: engine (SQLite in WAL mode by default, or PostgreSQL), sessions, migrations.

The schema comes only from Alembic (``whistle/submit/migrations``), in tests too,
and is the same for SQLite and PostgreSQL.

Transactions, the same rules on both:

- ``writing(sessions)``: a transaction that will write. On SQLite it starts with
  ``BEGIN IMMEDIATE`` (the write lock is taken before the first read, so a read
  followed by a write never fails with "database is locked" when another writer
  committed in between); on PostgreSQL, READ COMMITTED plus the row locks that
  ``store`` takes (the case's login row). On SQLite the threads of one process also
  queue on a lock of their own first: SQLite has one writer at a time anyway, and its
  busy handler polls with sleeps of up to 100 ms, so sixteen threads waiting on it left
  the database idle between writers (bench/submit_load.py --profile; docs/benchmarks.md).
  Under gunicorn's gevent workers (whistle/deploy/workers.py) the two calls that can wait in C —
  ``BEGIN IMMEDIATE`` (SQLite's busy handler, while the other process writes) and ``COMMIT``
  (its fsync) — run in gevent's thread pool, so the worker's other connections go on meanwhile.
- ``snapshot(sessions)``: a read-only transaction that sees one consistent state
  from its first query to its end (PostgreSQL REPEATABLE READ; SQLite: a real
  ``BEGIN``, which in WAL mode fixes the snapshot at the first read). Exports
  list records and read their chunks inside one.
- ``start_export(session)``: an export, which reads in one snapshot and writes its
  bundle log row (``bundles.export_outbox``).
- ``sessions()`` / ``sessions.begin()``: plain reads (READ COMMITTED; on SQLite a
  deferred ``BEGIN``).
"""

import os
import sqlite3
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar, cast

from alembic import command
from alembic.config import Config as AlembicConfig
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.exc import DBAPIError, NoSuchModuleError
from sqlalchemy.orm import Session, sessionmaker

from whistle.submit.config import ConfigError

MIGRATIONS = Path(__file__).parent / "migrations"
#: Session.info key of the per-process write lock (SQLite only).
WRITE_LOCK = "whistle_write_lock"
#: Longest wait on that lock; then the transaction goes to SQLite's own busy handler, which
#: waits its busy_timeout and fails as before (a "temporarily unavailable" page).
WRITE_LOCK_SECONDS = 30.0
#: Execution option: this transaction writes (SQLite: BEGIN IMMEDIATE).
WRITE = "whistle_write"

T = TypeVar("T")


def off_the_hub(call: Callable[..., T], *args: Any) -> T:
    """``call(*args)``; in a gevent worker, in gevent's thread pool, so that a call that blocks
    in C (an fsync, SQLite's busy handler) holds this greenlet only, not the whole worker."""
    monkey = sys.modules.get("gevent.monkey")
    if monkey is not None and monkey.is_module_patched("threading"):
        from gevent import get_hub

        # An exception comes back as a value: gevent's pool would print its traceback to the
        # log before re-raising it here (a full disk is a page, not a traceback).
        def outcome() -> tuple[T | None, BaseException | None]:
            try:
                return call(*args), None
            except BaseException as exc:
                return None, exc

        result, error = get_hub().threadpool.apply(outcome)
        if error is not None:
            raise error
        return cast("T", result)  # the pool is untyped; ``outcome`` gave a T or raised
    return call(*args)


class _SQLiteConnection(sqlite3.Connection):
    def commit(self) -> None:
        off_the_hub(super().commit)


def make_engine(url: str) -> Engine:
    if url.startswith("postgresql"):
        # A host restarted or failed over: a dead pooled connection is replaced, not used.
        return create_engine(url, pool_pre_ping=True)
    sqlite = url.startswith("sqlite")
    engine = create_engine(url, connect_args={"factory": _SQLiteConnection} if sqlite else {})
    if engine.dialect.name == "sqlite":

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(connection: Any, _record: Any) -> None:
            # The driver's own transaction handling would start one only before a write,
            # so reads would not be isolated; BEGIN is emitted below instead.
            connection.isolation_level = None
            cursor = connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            # Deleted ciphertext is overwritten with zeros (best effort, see docs).
            cursor.execute("PRAGMA secure_delete=ON")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(connection: Connection) -> None:
            options = connection.get_execution_options()
            if options.get("isolation_level") == "AUTOCOMMIT":
                return  # VACUUM and the like run outside any transaction
            if options.get(WRITE):
                off_the_hub(connection.exec_driver_sql, "BEGIN IMMEDIATE")
            else:
                connection.exec_driver_sql("BEGIN")

    return engine


def make_sessions(engine: Engine) -> sessionmaker[Session]:
    info = {WRITE_LOCK: threading.RLock()} if engine.dialect.name == "sqlite" else {}
    return sessionmaker(engine, expire_on_commit=False, info=info)


def start_write(session: Session) -> None:
    """Begin ``session``'s transaction as a write (call before its first query)."""
    session.connection(execution_options={WRITE: True})


def start_export(session: Session) -> None:
    """Begin ``session``'s transaction as an export: one snapshot that may also write (its
    bundle log row). PostgreSQL: REPEATABLE READ (two exports at once: the second fails on
    the bundle sequence and changes nothing); SQLite: BEGIN IMMEDIATE (writers wait for it)."""
    if session.get_bind().dialect.name == "postgresql":
        session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
    else:
        start_write(session)
    session.execute(text("SELECT count(*) FROM alembic_version"))  # the snapshot starts now


@contextmanager
def writing(sessions: sessionmaker[Session]) -> Iterator[Session]:
    """A session in a write transaction, committed at the end (rolled back on error)."""
    with sessions() as session:
        lock: threading.RLock | None = session.info.get(WRITE_LOCK)
        held = lock if lock is not None and lock.acquire(timeout=WRITE_LOCK_SECONDS) else None
        try:
            with session.begin():
                start_write(session)
                yield session
        finally:
            if held is not None:
                held.release()


@contextmanager
def snapshot(sessions: sessionmaker[Session]) -> Iterator[Session]:
    """A read-only session that sees one consistent state, fixed on entry (see module doc)."""
    with sessions() as session:
        if session.get_bind().dialect.name == "postgresql":
            session.connection(
                execution_options={
                    "isolation_level": "REPEATABLE READ",
                    "postgresql_readonly": True,
                }
            )
        # Both take their snapshot at the first read of a table, not at BEGIN: read one now.
        session.execute(text("SELECT count(*) FROM alembic_version"))
        try:
            yield session
        finally:
            session.rollback()


def connection_problem(exc: Exception) -> ConfigError:
    """One line for a database that cannot be reached (no traceback, no password)."""
    detail = str(getattr(exc, "orig", None) or exc).strip().splitlines()
    first = detail[0] if detail else type(exc).__name__
    return ConfigError(f"cannot connect to the database (database_url in config.toml): {first}")


def alembic_config(url: str) -> AlembicConfig:
    config = AlembicConfig()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def check_connection(url: str) -> None:
    """Raise ``ConfigError`` (one line) unless the database answers."""
    try:
        engine = make_engine(url)
    except (NoSuchModuleError, ModuleNotFoundError) as exc:
        raise connection_problem(exc) from exc
    try:
        with engine.connect():
            pass
    except DBAPIError as exc:
        raise connection_problem(exc) from exc
    finally:
        engine.dispose()


def upgrade(url: str, revision: str = "head") -> None:
    check_connection(url)
    command.upgrade(alembic_config(url), revision)


def downgrade(url: str, revision: str) -> None:
    command.downgrade(alembic_config(url), revision)


def schema_revisions(engine: Engine) -> tuple[str | None, str | None]:
    """The database's migration revision (None: no schema) and the newest this code has."""
    head = ScriptDirectory.from_config(alembic_config(str(engine.url))).get_current_head()
    try:
        with engine.connect() as connection:
            current = MigrationContext.configure(connection).get_current_revision()
    except DBAPIError as exc:
        raise connection_problem(exc) from exc
    return current, head


def check_schema(engine: Engine) -> None:
    """Raise ``ConfigError`` unless the database is at the newest migration."""
    current, head = schema_revisions(engine)
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
    except ConfigError as exc:
        # Only "cannot connect" (a DBAPIError underneath), never a schema that is behind.
        if not isinstance(exc.__cause__, DBAPIError) or not _on_read_only_file_system(engine):
            raise
        # app_from_directory has named the problem already (health.data_directory_problems).
