"""Alembic: one base, one head; each revision upgrades and downgrades with data in it."""

import sqlite3
from contextlib import closing
from datetime import datetime

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text

from whistle.inbox import db

TABLES = {
    "office",
    "officer",
    "case",
    "record",
    "note",
    "disclosure",
    "login_attempt",
    "audit_event",
}


def test_single_base_and_head() -> None:
    script = ScriptDirectory.from_config(db.alembic_config(None))  # type: ignore[arg-type]
    assert len(script.get_heads()) == 1
    assert len(script.get_bases()) == 1


def test_first_revision_with_data(tmp_path) -> None:
    engine = db.make_engine(tmp_path / "inbox.sqlite")
    db.upgrade(engine, "0001")
    assert set(inspect(engine).get_table_names()) >= TABLES
    with engine.begin() as connection:
        connection.execute(
            text("INSERT INTO login_attempt (name, attempted_at, succeeded) VALUES (:n, :t, 0)"),
            {"n": "someone", "t": datetime(2026, 11, 1)},
        )
        connection.execute(
            text(
                'INSERT INTO "case" (id, desk_id, status, received_day, last_activity_day,'
                " imported_at) VALUES (:id, 'antifraud', 'new', '2026-11-01', '2026-11-01', :t)"
            ),
            {"id": "ab" * 16, "t": datetime(2026, 11, 1)},
        )
    db.upgrade(engine)  # a repeated upgrade is a no-op
    with engine.connect() as connection:
        assert connection.execute(text('SELECT count(*) FROM "case"')).scalar() == 1
    db.downgrade(engine, "base")
    assert not TABLES & set(inspect(engine).get_table_names())
    db.upgrade(engine)
    assert set(inspect(engine).get_table_names()) >= TABLES
    engine.dispose()


def test_outgoing_revision_with_data(tmp_path) -> None:
    new = {"outgoing", "bundle_log", "tombstone"}
    engine = db.make_engine(tmp_path / "inbox.sqlite")
    db.upgrade(engine, "0002")
    assert set(inspect(engine).get_table_names()) >= new
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO outgoing (kind, case_id, record_id, envelope, created)"
                " VALUES ('purge', :c, NULL, x'', :t)"
            ),
            {"c": "ab" * 16, "t": datetime(2026, 11, 1)},
        )
    db.downgrade(engine, "0001")
    assert not new & set(inspect(engine).get_table_names())
    db.upgrade(engine)
    with engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM outgoing")).scalar() == 0
    engine.dispose()


def test_workflow_revision_chains_existing_audit_events(tmp_path) -> None:
    from whistle.inbox.audit import verify_chain

    engine = db.make_engine(tmp_path / "inbox.sqlite")
    db.upgrade(engine, "0002")
    with engine.begin() as connection:
        for n, action in enumerate(("office-created", "signed-in", "note-added")):
            connection.execute(
                text(
                    "INSERT INTO audit_event (id, at, officer_id, action, case_id, record_id,"
                    " detail) VALUES (:id, :at, NULL, :a, NULL, NULL, '')"
                ),
                {"id": 10 + n * 5, "at": datetime(2026, 11, 1, 9, n), "a": action},
            )
        connection.execute(
            text(
                'INSERT INTO "case" (id, desk_id, status, received_day, last_activity_day,'
                " imported_at) VALUES (:id, 'antifraud', 'new', '2026-11-01', '2026-11-01', :t)"
            ),
            {"id": "ab" * 16, "t": datetime(2026, 11, 1)},
        )
    db.upgrade(engine)
    with db.transaction(db.session_factory(engine)) as session:
        head = verify_chain(session)
    assert head.count == 3
    with engine.connect() as connection:
        assert connection.execute(text('SELECT extended FROM "case"')).scalar() == 0
        ids = [r[0] for r in connection.execute(text("SELECT id FROM audit_event ORDER BY id"))]
    assert ids == [1, 2, 3]
    db.downgrade(engine, "0002")
    assert "decision" not in inspect(engine).get_table_names()
    db.upgrade(engine)
    assert {"decision", "reply", "purged_case", "search_index"} <= set(
        inspect(engine).get_table_names()
    )
    engine.dispose()


def test_second_factor_revision_with_data(tmp_path) -> None:
    """0008 adds the security keys; going back is refused while any officer has one (their
    keyrings open only with it), and works once none is left."""
    engine = db.make_engine(tmp_path / "inbox.sqlite")
    db.upgrade(engine, "0008_second_factor")
    now = datetime(2026, 12, 5)
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO officer (id, name, password_hash, wrapped_keyring, is_officer,"
                " is_manager, is_custodian, created_at) VALUES (1, 'ana', 'h', x'00', 1, 1, 0, :t)"
            ),
            {"t": now},
        )
        connection.execute(
            text(
                "INSERT INTO security_key (officer_id, label, credential_id, public_key,"
                " sign_count, prf_salt, wrapped_factor, created_at)"
                " VALUES (1, 'blue key', x'01', x'02', 3, x'03', x'04', :t)"
            ),
            {"t": now},
        )
    with pytest.raises(RuntimeError, match="security keys"):
        db.downgrade(engine, "0007_desks")
    assert "security_key" in inspect(engine).get_table_names()
    db.upgrade(engine)  # a repeated upgrade is a no-op and keeps the key
    with engine.begin() as connection:
        assert connection.execute(text("SELECT sign_count FROM security_key")).scalar() == 3
        connection.execute(text("DELETE FROM security_key"))
    db.downgrade(engine, "0007_desks")
    assert "security_key" not in inspect(engine).get_table_names()
    db.upgrade(engine)
    assert "security_key" in inspect(engine).get_table_names()
    engine.dispose()


def test_wire_revision_with_data(tmp_path) -> None:
    """0012 adds where a desk's key of an epoch is granted, and the records held back; going
    back is refused while a key is granted to a compartment (the older code would take the
    grant for a storage-key copy) or a record waits, and works once neither is left."""
    engine = db.make_engine(tmp_path / "inbox.sqlite")
    db.upgrade(engine, "0011_case_refs")
    now = datetime(2026, 12, 5)
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO key_epoch (epoch, card, bundle_public, bundle_secret, created_at)"
                " VALUES (1, x'00', x'01', x'02', :t)"
            ),
            {"t": now},
        )
        connection.execute(
            text(
                "INSERT INTO desk_key (epoch, desk_id, public_key, sealed_secret)"
                " VALUES (1, 'antifraud', x'03', x'04')"
            )
        )
    db.upgrade(engine)  # the keys stay as they were: the first sign-in moves them
    with engine.begin() as connection:
        assert connection.execute(text("SELECT generation FROM desk_key")).scalar() is None
        connection.execute(text("UPDATE desk_key SET generation = 1"))
        connection.execute(
            text(
                "INSERT INTO held_record (record_id, kind, case_id, received_day, epoch,"
                " envelope, desk_id, tried, held_at) VALUES ('r1', 'submission', :c,"
                " '2026-12-01', 1, x'05', NULL, 'ethics', :t)"
            ),
            {"c": "ab" * 16, "t": now},
        )
    with pytest.raises(RuntimeError, match="0012_wire"):
        db.downgrade(engine, "0011_case_refs")
    db.upgrade(engine)  # a repeated upgrade is a no-op and keeps them
    with engine.begin() as connection:
        assert connection.execute(text("SELECT tried FROM held_record")).scalar() == "ethics"
        connection.execute(text("DELETE FROM held_record"))
    with pytest.raises(RuntimeError, match="sealed to desk compartments"):
        db.downgrade(engine, "0011_case_refs")
    with engine.begin() as connection:
        connection.execute(text("UPDATE desk_key SET generation = NULL"))
    db.downgrade(engine, "0011_case_refs")
    assert "held_record" not in inspect(engine).get_table_names()
    with engine.connect() as connection:
        assert connection.execute(text("SELECT sealed_secret FROM desk_key")).scalar() == b"\x04"
    db.upgrade(engine)
    assert "held_record" in inspect(engine).get_table_names()
    engine.dispose()


def _indexes(engine, table: str) -> dict[str, list[str]]:
    return {ix["name"]: ix["column_names"] for ix in inspect(engine).get_indexes(table)}


def test_perf_indexes_come_and_go_as_the_models_declare(tmp_path) -> None:
    from whistle.inbox.models import CaseGrant, Record

    engine = db.make_engine(tmp_path / "inbox.sqlite")
    db.upgrade(engine, "0014_perf")
    for model in (CaseGrant, Record):
        declared = {ix.name: [c.name for c in ix.columns] for ix in model.__table__.indexes}
        assert _indexes(engine, model.__tablename__) == declared
    assert _indexes(engine, "case_grant") == {"ix_case_grant_holder_case": ["holder", "case_id"]}
    db.downgrade(engine, "0013_desk_admin")
    assert _indexes(engine, "case_grant") == {"ix_case_grant_holder": ["holder"]}
    assert "ix_record_kind_case" not in _indexes(engine, "record")
    db.upgrade(engine)
    assert "ix_record_kind_case" in _indexes(engine, "record")
    engine.dispose()


def test_case_key_announce_revision_with_data(tmp_path) -> None:
    """0015 leaves every existing case key not backed up (announced after the next backup)
    and keeps the key of held follow-ups; going back is refused while a follow-up sealed to
    a case key is held, or once an announcement went to the server (it seals follow-ups to
    those keys: the older code would refuse them to the server, which deletes them), and
    drops the announcements (made again from the case keys) once neither holds."""
    engine = db.make_engine(tmp_path / "inbox.sqlite")
    db.upgrade(engine, "0014_perf")
    now = datetime(2026, 12, 5)
    case = "ab" * 16
    key = bytes(range(32))
    with engine.begin() as connection:
        connection.execute(
            text(
                'INSERT INTO "case" (id, desk_id, status, received_day, last_activity_day,'
                " imported_at, ref_year, ref_number) VALUES (:id, 'antifraud', 'new',"
                " '2026-11-01', '2026-11-01', :t, 2026, 1)"
            ),
            {"id": case, "t": now},
        )
        connection.execute(
            text("INSERT INTO case_key (case_id, generation, public_key) VALUES (:c, 1, :k)"),
            {"c": case, "k": key},
        )
    db.upgrade(engine)
    from whistle.inbox.models import Outgoing

    declared = {ix.name: [c.name for c in ix.columns] for ix in Outgoing.__table__.indexes}
    assert {k: v for k, v in _indexes(engine, "outgoing").items() if k in declared} == declared
    with engine.begin() as connection:
        assert connection.execute(text("SELECT backed_up_at FROM case_key")).one() == (None,)
        connection.execute(
            text(
                "INSERT INTO held_record (record_id, kind, case_id, received_day, epoch,"
                " envelope, desk_id, tried, held_at, case_key) VALUES ('f1', 'followup', :c,"
                " '2026-12-01', 1, x'05', 'antifraud', '', :t, :k)"
            ),
            {"c": case, "t": now, "k": key},
        )
        connection.execute(
            text(
                "INSERT INTO outgoing (kind, case_id, record_id, envelope, created,"
                " bundle_sequence, confirmed) VALUES ('case-key', :c, '1', x'06', :t, 3, NULL)"
            ),
            {"c": case, "t": now},
        )
    with pytest.raises(RuntimeError, match="1 follow-up"):
        db.downgrade(engine, "0014_perf")
    db.upgrade(engine)  # a repeated upgrade is a no-op and keeps them
    with engine.begin() as connection:
        assert connection.execute(text("SELECT case_key FROM held_record")).scalar() == key
        connection.execute(text("DELETE FROM held_record"))
    # Sent, not yet confirmed; then confirmed (a server restore left no bundle number).
    for sequence, confirmed in ((3, None), (None, now)):
        with engine.begin() as connection:
            connection.execute(
                text("UPDATE outgoing SET bundle_sequence = :s, confirmed = :c"),
                {"s": sequence, "c": confirmed},
            )
        with pytest.raises(RuntimeError, match="1 case key announcement"):
            db.downgrade(engine, "0014_perf")
        with engine.connect() as connection:
            assert connection.execute(text("SELECT count(*) FROM outgoing")).scalar() == 1
    with engine.begin() as connection:
        connection.execute(text("UPDATE outgoing SET bundle_sequence = NULL, confirmed = NULL"))
    db.downgrade(engine, "0014_perf")
    assert "ix_outgoing_kind_case_record" not in _indexes(engine, "outgoing")
    with engine.connect() as connection:
        assert "backed_up_at" not in {c["name"] for c in inspect(engine).get_columns("case_key")}
        assert connection.execute(text("SELECT count(*) FROM outgoing")).scalar() == 0
        assert connection.execute(text("SELECT count(*) FROM case_key")).scalar() == 1
    db.upgrade(engine)
    assert "case_key" in {c["name"] for c in inspect(engine).get_columns("held_record")}
    engine.dispose()


# --- Tables that others point to, rebuilt on SQLite ------------------------------------------
# Alembic's batch mode rebuilds a table (copy, drop, rename) for most changes on SQLite; with
# foreign keys on, the drop deletes its rows first and fails on the rows that point to them.
# whistle/migrating.py runs the migrations with foreign keys off and checks them before the
# commit. "case" is rebuilt by 0003 (up and down) and 0006 (down).

CASE = "ab" * 16
T = datetime(2026, 11, 1)
#: Rows that point to the case (and to its officer), in columns their tables have had since the
#: revision that made them: inserted, and compared, where the table exists.
CHILDREN = {
    "record": {
        "id": "'r1'",
        "case_id": ":c",
        "kind": "'submission'",
        "received_day": "'2026-11-01'",
        "original_hash": "x'00'",
        "original_size": "3",
        "stored_name": "'s1'",
        "meta": "x'01'",
        "imported_at": ":t",
    },
    "note": {"case_id": ":c", "author_id": "1", "created_at": ":t", "body": "x'02'"},
    "disclosure": {"case_id": ":c", "officer_id": "1", "decided_at": ":t", "reason": "x'03'"},
    "decision": {
        "case_id": ":c",
        "officer_id": "1",
        "at": ":t",
        "action": "'assign'",
        "reason": "x'04'",
    },
    "reply": {
        "case_id": ":c",
        "author_id": "1",
        "created_at": ":t",
        "updated_at": ":t",
        "state": "'draft'",
        "purpose": "'other'",
        "body": "x'05'",
    },
}


def _case_with_children(engine) -> None:
    tables = set(inspect(engine).get_table_names())
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO officer (id, name, password_hash, wrapped_keyring, is_officer,"
                " is_manager, is_custodian, created_at) VALUES (1, 'ana', 'h', x'00', 1, 1, 0, :t)"
            ),
            {"t": T},
        )
        connection.execute(
            text(
                'INSERT INTO "case" (id, desk_id, status, assignee_id, received_day,'
                " last_activity_day, imported_at) VALUES (:c, 'antifraud', 'new', 1,"
                " '2026-11-01', '2026-11-01', :t)"
            ),
            {"c": CASE, "t": T},
        )
        for table, values in CHILDREN.items():
            if table in tables:
                names, placeholders = ", ".join(values), ", ".join(values.values())
                insert = f"INSERT INTO {table} ({names}) VALUES ({placeholders})"  # noqa: S608
                connection.execute(text(insert), {"c": CASE, "t": T})


def _children(engine) -> dict[str, list[tuple]]:
    """Every row of the case's children that exist at this revision."""
    tables = set(inspect(engine).get_table_names())
    with engine.connect() as connection:
        found = {
            table: [
                tuple(row)
                for row in connection.execute(
                    text(f"SELECT {', '.join(columns)} FROM {table}")  # noqa: S608
                )
            ]
            for table, columns in CHILDREN.items()
            if table in tables
        }
        assert connection.execute(text("PRAGMA foreign_keys")).scalar() == 1
        assert connection.execute(text("PRAGMA foreign_key_check")).all() == []
    return found


def test_the_workflow_revision_rebuilds_the_case_table_under_its_children(tmp_path) -> None:
    engine = db.make_engine(tmp_path / "inbox.sqlite")
    db.upgrade(engine, "0002")
    _case_with_children(engine)
    before = _children(engine)
    assert set(before) == {"record", "note", "disclosure"}
    db.upgrade(engine)
    assert _children(engine) == {**before, "decision": [], "reply": []}
    with engine.connect() as connection:
        assert connection.execute(text('SELECT assignee_id FROM "case"')).scalar() == 1
    engine.dispose()


@pytest.mark.parametrize("revision", ["0005_epochs", "0002"])
def test_a_downgrade_that_rebuilds_the_case_table_keeps_its_children(tmp_path, revision) -> None:
    engine = db.make_engine(tmp_path / "inbox.sqlite")
    db.upgrade(engine)
    _case_with_children(engine)
    before = _children(engine)
    assert all(before.values())
    db.downgrade(engine, revision)
    kept = _children(engine)
    assert kept == {table: rows for table, rows in before.items() if table in kept}
    assert {"record", "note", "disclosure"} <= set(kept)
    db.upgrade(engine)
    after = _children(engine)
    assert {table: after[table] for table in kept} == kept
    engine.dispose()


def test_a_broken_reference_stops_the_migration_and_changes_nothing(tmp_path) -> None:
    from whistle.migrating import ForeignKeyCheckError

    engine = db.make_engine(tmp_path / "inbox.sqlite")
    db.upgrade(engine, "0002")
    # Foreign keys are off on a plain sqlite3 connection: a note whose case does not exist.
    with closing(sqlite3.connect(tmp_path / "inbox.sqlite")) as raw, raw:
        raw.execute(
            "INSERT INTO note (case_id, author_id, created_at, body) VALUES ('x', 7, '', x'')"
        )
    with pytest.raises(ForeignKeyCheckError, match=r"nothing was changed: 1 row\(s\) of note"):
        db.upgrade(engine)
    with engine.connect() as connection:
        assert (
            connection.execute(text("SELECT version_num FROM alembic_version")).scalar() == "0002"
        )
        assert connection.execute(text("PRAGMA foreign_keys")).scalar() == 1
    assert "decision" not in inspect(engine).get_table_names()
    assert "extended" not in {c["name"] for c in inspect(engine).get_columns("case")}
    engine.dispose()


def test_foreign_keys_are_not_taken_for_off_inside_a_transaction(tmp_path) -> None:
    """SQLite ignores ``PRAGMA foreign_keys`` inside a transaction, silently: a connection that
    has begun one is refused rather than migrated with its foreign keys still on."""
    from whistle.migrating import migration_transaction

    engine = db.make_engine(tmp_path / "inbox.sqlite")
    with engine.connect() as connection:
        connection.execute(text("SELECT 1"))  # begins a transaction
        with (
            pytest.raises(RuntimeError, match="could not turn SQLite's foreign keys off"),
            migration_transaction(connection),
        ):
            pass
        assert connection.execute(text("PRAGMA foreign_keys")).scalar() == 1
    engine.dispose()
