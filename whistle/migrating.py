"""The transaction Alembic migrations run in; shared by the server and the inbox (``env.py``).

On SQLite, Alembic's batch mode changes a table by copying it, dropping the original and
renaming the copy. With foreign keys on, that DROP first deletes every row, as a DELETE would:
the server's ``chunks`` (``ON DELETE CASCADE``) went with their records, and a table others
point to without a cascade (the inbox's ``case``) could not be rebuilt at all. So, as SQLite's
own procedure for such changes says, the migrations run with foreign keys off, in one
transaction that ``PRAGMA foreign_key_check`` must pass before it commits. PostgreSQL changes
tables in place and keeps its foreign keys on; Alembic begins its transaction as before.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection

from whistle.errors import WhistleError


class ForeignKeyCheckError(WhistleError):
    """After the migrations, rows would refer to rows that do not exist; nothing was changed."""


def _foreign_keys(driver: Any, on: bool) -> None:
    driver.execute(f"PRAGMA foreign_keys={'ON' if on else 'OFF'}")
    # SQLite ignores the pragma inside a transaction, silently: make sure it took.
    if bool(driver.execute("PRAGMA foreign_keys").fetchone()[0]) != on:
        raise RuntimeError(f"could not turn SQLite's foreign keys {'on' if on else 'off'}")


def _check_foreign_keys(connection: Connection) -> None:
    found: dict[tuple[str, str], int] = {}
    for table, _rowid, parent, _key in connection.exec_driver_sql("PRAGMA foreign_key_check"):
        found[(table, parent)] = found.get((table, parent), 0) + 1
    if found:
        broken = "; ".join(
            f"{count} row(s) of {table} refer to missing rows of {parent}"
            for (table, parent), count in sorted(found.items())
        )
        raise ForeignKeyCheckError(
            f"The database migration was not applied, nothing was changed: {broken}."
        )


@contextmanager
def migration_transaction(connection: Connection) -> Iterator[None]:
    """Run the block (Alembic's migrations) on ``connection``, which has not begun a transaction:
    on SQLite in one transaction, with foreign keys off and checked before the commit, and on
    again afterwards, also when the migrations fail; elsewhere as it is."""
    if connection.dialect.name != "sqlite":
        yield
        return
    # The driver's own connection: through SQLAlchemy the pragma would begin a transaction first.
    driver = connection.connection.driver_connection
    _foreign_keys(driver, on=False)
    try:
        with connection.begin():
            yield
            _check_foreign_keys(connection)
    finally:
        _foreign_keys(driver, on=True)
