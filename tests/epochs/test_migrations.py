"""The 0005_epochs revisions, with data in the database."""

from datetime import date, datetime
from pathlib import Path

import pytest
from sqlalchemy import inspect, text

from whistle.inbox import db as inbox_db
from whistle.submit import db as submit_db


def test_server_revision_keeps_records_and_adds_epochs(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'submit.sqlite3'}"
    engine = submit_db.make_engine(url)
    submit_db.upgrade(url, "0004")
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO records (id, case_id, position, kind, created, size, record_hash)"
                " VALUES (:id, :case, 0, 'submission', :day, 3, x'00')"
            ),
            {"id": "cd" * 16, "case": "ab" * 16, "day": date(2026, 11, 1)},
        )
    submit_db.upgrade(url)
    assert "office_cards" in inspect(engine).get_table_names()
    with engine.connect() as connection:
        # A record from before epochs: NULL, read as the pinned card's epoch.
        assert connection.execute(text("SELECT epoch FROM records")).scalar() is None
    submit_db.downgrade(url, "0004")
    assert "office_cards" not in inspect(engine).get_table_names()
    with engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM records")).scalar() == 1
    submit_db.upgrade(url)
    with engine.begin() as connection:
        connection.execute(
            text("INSERT INTO office_cards (epoch, card, applied) VALUES (2, x'00', :day)"),
            {"day": date(2026, 11, 2)},
        )
    with pytest.raises(RuntimeError, match="has rotated its keys"):
        submit_db.downgrade(url, "0004")
    assert "office_cards" in inspect(engine).get_table_names()
    # One transaction for every step: the revisions above 0005 are not left undone either.
    current, head = submit_db.schema_revisions(engine)
    assert current == head
    engine.dispose()


def test_inbox_revision_refuses_to_drop_keys(tmp_path: Path) -> None:
    engine = inbox_db.make_engine(tmp_path / "inbox.sqlite")
    inbox_db.upgrade(engine, "0004_backups")
    inbox_db.upgrade(engine)
    assert {"key_epoch", "desk_key", "key_policy"} <= set(inspect(engine).get_table_names())
    inbox_db.downgrade(engine, "0004_backups")  # empty: fine
    inbox_db.upgrade(engine)
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO key_epoch (epoch, card, bundle_public, created_at)"
                " VALUES (1, x'00', x'00', :t)"
            ),
            {"t": datetime(2026, 11, 1)},
        )
    with pytest.raises(RuntimeError, match="holds the office's desk and bundle keys"):
        inbox_db.downgrade(engine, "0004_backups")
    assert "key_epoch" in inspect(engine).get_table_names()
    engine.dispose()
