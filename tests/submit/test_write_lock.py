"""SQLite writes: the threads of one process queue on a lock before BEGIN IMMEDIATE."""

import threading
from pathlib import Path

import pytest
from sqlalchemy import text

from whistle.submit import db


def _sessions(tmp_path: Path):  # type: ignore[no-untyped-def]
    engine = db.make_engine(f"sqlite:///{tmp_path / 'w.sqlite3'}")
    return engine, db.make_sessions(engine)


def _held_elsewhere(lock) -> bool:  # type: ignore[no-untyped-def]
    """Whether another thread would find ``lock`` taken."""
    result: list[bool] = []

    def probe() -> None:
        free = lock.acquire(blocking=False)
        if free:
            lock.release()
        result.append(not free)

    thread = threading.Thread(target=probe)
    thread.start()
    thread.join()
    return result[0]


def test_one_lock_per_sessionmaker_held_for_the_whole_write(tmp_path: Path) -> None:
    engine, sessions = _sessions(tmp_path)
    with sessions() as first, sessions() as second:
        lock = first.info[db.WRITE_LOCK]
        assert second.info[db.WRITE_LOCK] is lock
    assert not _held_elsewhere(lock)
    with db.writing(sessions) as session:
        session.execute(text("CREATE TABLE t (x INTEGER)"))
        assert _held_elsewhere(lock)
    assert not _held_elsewhere(lock)
    with pytest.raises(RuntimeError), db.writing(sessions):
        raise RuntimeError  # rolled back, and the lock is free again
    assert not _held_elsewhere(lock)
    engine.dispose()


def test_postgresql_sessions_have_no_process_lock() -> None:
    engine = db.make_engine("postgresql://nobody@/nothing?host=/nonexistent")
    with db.make_sessions(engine)() as session:
        assert db.WRITE_LOCK not in session.info
    engine.dispose()
