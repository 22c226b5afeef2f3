"""The schema comes from Alembic only: one head, upgrade and downgrade with data."""

import sqlite3
from contextlib import closing
from pathlib import Path

import pytest
from alembic.script import ScriptDirectory
from click.testing import CliRunner
from sqlalchemy import Engine, create_engine, inspect, text

from whistle.cli import main
from whistle.migrating import ForeignKeyCheckError
from whistle.submit import db, load_config


def _url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'm.sqlite3'}"


def test_one_base_and_one_head() -> None:
    script = ScriptDirectory.from_config(db.alembic_config("sqlite://"))
    assert len(script.get_bases()) == 1
    assert len(script.get_heads()) == 1


def test_upgrade_downgrade_upgrade_with_data(database_url: str) -> None:
    url = database_url
    db.upgrade(url)
    engine = create_engine(url)
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO records (id, case_id, position, kind, created, size, record_hash) "
                "VALUES ('a', 'b', 0, 'submission', '2026-11-27', 3, :h)"
            ),
            {"h": b"\x00" * 32},
        )
        connection.execute(
            text("INSERT INTO chunks (record_id, sequence, data) VALUES ('a', 0, :d)"),
            {"d": b"abc"},
        )
        connection.execute(
            text("INSERT INTO logins (lookup, case_id) VALUES (:l, 'b')"), {"l": b"\x01" * 32}
        )
    assert set(inspect(engine).get_table_names()) >= {"records", "chunks", "logins"}
    db.downgrade(url, "base")
    assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
    db.upgrade(url)
    db.upgrade(url)  # a repeated upgrade is a no-op
    with engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM records")).scalar() == 0
    db.check_schema(engine)
    engine.dispose()


def test_models_match_the_migrations(database_url: str) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from whistle.submit.models import Base

    url = database_url
    db.upgrade(url)
    engine = create_engine(url)
    with engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    engine.dispose()
    assert diff == []


def test_sqlite_runs_in_wal_mode_with_secure_delete(tmp_path: Path) -> None:
    url = _url(tmp_path)
    db.upgrade(url)
    engine = db.make_engine(url)
    with engine.connect() as connection:
        assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert connection.execute(text("PRAGMA secure_delete")).scalar() == 1
    engine.dispose()


def test_0003_counts_positions_on_from_the_records(database_url: str) -> None:
    url = database_url
    db.upgrade(url, "0002")
    engine = create_engine(url)
    with engine.begin() as connection:
        for position in range(3):
            connection.execute(
                text(
                    "INSERT INTO records (id, case_id, position, kind, created, size, record_hash)"
                    " VALUES (:id, 'c1', :p, 'submission', '2026-11-27', 3, :h)"
                ),
                {"id": f"r{position}", "p": position, "h": b"\x00" * 32},
            )
        for case, lookup in (("c1", b"\x01"), ("c2", b"\x02")):
            connection.execute(
                text("INSERT INTO logins (lookup, case_id) VALUES (:l, :c)"),
                {"l": lookup * 32, "c": case},
            )
    db.upgrade(url)
    with engine.connect() as connection:
        rows = dict(connection.execute(text("SELECT case_id, next_position FROM logins")).all())
    assert rows == {"c1": 3, "c2": 1}
    db.downgrade(url, "0002")
    with engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM logins")).scalar() == 2
    db.upgrade(url)
    engine.dispose()


def test_0004_leaves_existing_logins_untagged_and_keeps_them(database_url: str) -> None:
    url = database_url
    db.upgrade(url, "0003")
    engine = create_engine(url)
    with engine.begin() as connection:
        connection.execute(
            text("INSERT INTO logins (lookup, case_id, next_position) VALUES (:l, 'c1', 4)"),
            {"l": b"\x01" * 32},
        )
    db.upgrade(url, "0004")
    with engine.begin() as connection:
        assert connection.execute(text("SELECT case_id, pepper_tag FROM logins")).all() == [
            ("c1", None)
        ]
        connection.execute(text("UPDATE logins SET pepper_tag = :p"), {"p": b"\x02" * 8})
    db.downgrade(url, "0003")
    with engine.connect() as connection:
        rows = connection.execute(text("SELECT case_id, next_position FROM logins")).all()
    assert rows == [("c1", 4)]
    db.upgrade(url)
    engine.dispose()


def test_cases_opened_before_protocol_2_are_marked_protocol_1(database_url: str) -> None:
    """Migration 0006: existing cases take version 1 follow-ups; new ones version 2."""
    url = database_url
    db.upgrade(url, "0005_epochs")
    engine = create_engine(url)
    with engine.begin() as connection:
        connection.execute(
            text("INSERT INTO logins (lookup, case_id) VALUES (:l, 'old')"), {"l": b"\x02" * 32}
        )
    db.upgrade(url)
    with engine.connect() as connection:
        row = connection.execute(
            text("SELECT protocol, followups FROM logins WHERE case_id = 'old'")
        ).one()
    assert tuple(row) == (1, 0)
    db.downgrade(url, "0005_epochs")
    assert "protocol" not in {c["name"] for c in inspect(engine).get_columns("logins")}
    engine.dispose()


def _store_records(engine: Engine) -> None:
    """Two records of a case, with three chunks, in the columns they have had since 0001."""
    with engine.begin() as connection:
        for n, record in enumerate(("r1", "r2")):
            connection.execute(
                text(
                    "INSERT INTO records (id, case_id, position, kind, created, size, record_hash)"
                    " VALUES (:id, 'c1', :p, 'submission', '2026-12-05', 3, :h)"
                ),
                {"id": record, "p": n, "h": b"\x00" * 32},
            )
        for record, sequence in (("r1", 0), ("r1", 1), ("r2", 0)):
            connection.execute(
                text("INSERT INTO chunks (record_id, sequence, data) VALUES (:r, :s, :d)"),
                {"r": record, "s": sequence, "d": f"{record}/{sequence}".encode()},
            )


def _contents(engine: Engine) -> list[tuple[object, ...]]:
    with engine.connect() as connection:
        return [
            tuple(row)
            for row in connection.execute(
                text(
                    "SELECT records.id, sequence, data FROM records"
                    " JOIN chunks ON chunks.record_id = records.id ORDER BY records.id, sequence"
                )
            )
        ]


@pytest.mark.parametrize("revision", ["0008_source", "0004", "0001"])
def test_a_downgrade_that_rebuilds_records_keeps_their_chunks(
    database_url: str, revision: str
) -> None:
    """On SQLite, going back below 0009, 0005 and 0002 rebuilds ``records`` (Alembic's batch
    mode: copy, drop, rename); with foreign keys on, the drop deleted every chunk (ON DELETE
    CASCADE). whistle/migrating.py runs the migrations with foreign keys off."""
    url = database_url
    db.upgrade(url)
    engine = db.make_engine(url)
    _store_records(engine)
    stored = _contents(engine)
    assert len(stored) == 3
    db.downgrade(url, revision)
    assert _contents(engine) == stored
    db.upgrade(url)
    assert _contents(engine) == stored
    engine.dispose()


def test_a_broken_reference_stops_the_migration_and_changes_nothing(tmp_path: Path) -> None:
    url = _url(tmp_path)
    db.upgrade(url)
    engine = db.make_engine(url)
    _store_records(engine)
    stored = _contents(engine)
    columns = [column["name"] for column in inspect(engine).get_columns("records")]
    # Foreign keys are off on a plain sqlite3 connection: a chunk whose record does not exist.
    with closing(sqlite3.connect(tmp_path / "m.sqlite3")) as raw, raw:
        raw.execute("INSERT INTO chunks (record_id, sequence, data) VALUES ('gone', 0, x'00')")
    _, head = db.schema_revisions(engine)
    with pytest.raises(
        ForeignKeyCheckError,
        match=r"nothing was changed: 1 row\(s\) of chunks refer to missing rows of records",
    ):
        db.downgrade(url, "0001")
    assert db.schema_revisions(engine) == (head, head)
    assert [column["name"] for column in inspect(engine).get_columns("records")] == columns
    assert _contents(engine) == stored
    with engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM chunks")).scalar() == 4
    engine.dispose()


@pytest.mark.sqlite_only
def test_the_upgrade_command_says_in_one_line_why_it_changed_nothing(data_dir: Path) -> None:
    url = load_config(data_dir).database_url
    db.downgrade(url, "0008_source")
    with closing(sqlite3.connect(data_dir / "submit.sqlite3")) as raw, raw:
        raw.execute("INSERT INTO chunks (record_id, sequence, data) VALUES ('gone', 0, x'00')")
    result = CliRunner().invoke(main, ["server", "upgrade", str(data_dir)])
    assert result.exit_code == 1
    assert result.output.splitlines() == [
        "Error: The database migration was not applied, nothing was changed:"
        " 1 row(s) of chunks refer to missing rows of records."
    ]
    engine = db.make_engine(url)
    assert db.schema_revisions(engine)[0] == "0008_source"
    engine.dispose()
