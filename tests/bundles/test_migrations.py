"""Submit migration 0002 (bundles) upgrades and downgrades with data in it."""

from sqlalchemy import create_engine, inspect, text

from whistle.submit import db

NEW = {"bundle_log", "tombstones", "courier_challenges"}


def test_bundles_revision_with_data(database_url: str) -> None:
    url = database_url
    db.upgrade(url, "0001")
    engine = create_engine(url)
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO records (id, case_id, position, kind, created, size, record_hash) "
                "VALUES ('a', 'b', 0, 'reply', '2026-11-27', 3, :h)"
            ),
            {"h": b"\x00" * 32},
        )
    db.upgrade(url, "0002")
    assert set(inspect(engine).get_table_names()) >= NEW
    with engine.begin() as connection:
        assert connection.execute(text("SELECT first_read FROM records")).scalar() is None
        connection.execute(text("UPDATE records SET first_read = '2026-11-28'"))
        connection.execute(
            text("INSERT INTO tombstones (id, kind, day) VALUES ('c', 'case', '2026-11-28')")
        )
    db.downgrade(url, "0001")
    assert not NEW & set(inspect(engine).get_table_names())
    with engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM records")).scalar() == 1
    db.upgrade(url)
    db.check_schema(engine)
    engine.dispose()
