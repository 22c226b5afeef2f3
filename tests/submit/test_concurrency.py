"""Concurrency in the store, with real transactions on separate connections (threads).

Run on SQLite and PostgreSQL. The rules (store.py, db.py): a case's login row is its
lock and record counter; purge deletes that row first; acknowledgements delete by id
and hash; exports read inside one snapshot. The PostgreSQL-only tests hold one
transaction open and watch the other wait on the row lock (pg_stat_activity), so the
order of events is forced, not hoped for.
"""

import datetime
import io
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session, sessionmaker

from whistle.crypto import record_hash
from whistle.submit import db, store
from whistle.submit.store import StoredRecord

DAY = datetime.date(2026, 11, 27)


@pytest.fixture
def sessions(database_url: str) -> Iterator[sessionmaker[Session]]:
    db.upgrade(database_url)
    engine = db.make_engine(database_url)
    yield db.make_sessions(engine)
    engine.dispose()


def _envelope(tag: str, size: int = 3000) -> bytes:
    return (tag.encode() + b"|") * (size // (len(tag) + 1) + 1)


def _new_case(sessions: sessionmaker[Session], lookup: bytes | None = None) -> bytes:
    case_id = store.new_case_id()
    with db.writing(sessions) as session:
        store.add_submission(
            session,
            case_id=case_id,
            lookup=lookup or case_id * 2,
            envelope=io.BytesIO(_envelope("submission")),
            today=DAY,
        )
    return case_id


def _followup(sessions: sessionmaker[Session], case_id: bytes, tag: str) -> StoredRecord:
    with db.writing(sessions) as session:
        store.quota_reached(session, 10**12)  # a read before the write, as the site does
        return store.add_followup(
            session, case_id=case_id, envelope=io.BytesIO(_envelope(tag)), today=DAY
        )


def _wait_for_lock_wait(engine: Engine) -> None:
    """Return once another connection of this database waits on a lock (PostgreSQL)."""
    deadline = time.monotonic() + 60
    with engine.connect() as connection:
        while time.monotonic() < deadline:
            waiting = connection.execute(
                text(
                    "SELECT count(*) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND wait_event_type = 'Lock'"
                )
            ).scalar()
            connection.rollback()
            if waiting:
                return
            threading.Event().wait(0.02)
    raise AssertionError("the other transaction never waited on the case lock")


def test_follow_ups_and_replies_to_one_case_at_once_get_distinct_positions(
    sessions: sessionmaker[Session],
) -> None:
    case_id = _new_case(sessions)
    workers, each = 8, 5
    start = threading.Barrier(workers)

    def send(worker: int) -> list[int]:
        start.wait()
        positions = []
        for n in range(each):
            if worker % 4 == 0:
                with db.writing(sessions) as session:
                    record = store.add_reply(
                        session, case_id=case_id, envelope=io.BytesIO(b"reply"), today=DAY
                    )
            else:
                record = _followup(sessions, case_id, f"{worker}-{n}")
            positions.append(record.position)
        return positions

    with ThreadPoolExecutor(workers) as pool:
        results = list(pool.map(send, range(workers)))
    taken = sorted(p for positions in results for p in positions)
    assert taken == list(range(1, workers * each + 1))
    with sessions() as session:
        stored = [r.position for r in store.case_records(session, case_id)]
    assert stored == list(range(workers * each + 1))


def test_positions_go_on_after_every_record_was_acknowledged(
    sessions: sessionmaker[Session],
) -> None:
    case_id = _new_case(sessions)
    first = _followup(sessions, case_id, "one")
    with db.writing(sessions) as session:
        named = [(r.id, r.record_hash) for r in store.case_records(session, case_id)]
        assert store.acknowledge(session, named) == 2
    again = _followup(sessions, case_id, "two")
    assert again.position == first.position + 1


def test_acknowledge_deletes_only_what_matches_id_and_hash(
    sessions: sessionmaker[Session],
) -> None:
    case_id = _new_case(sessions)
    kept = _followup(sessions, case_id, "kept")
    gone = _followup(sessions, case_id, "gone")
    with db.writing(sessions) as session:
        deleted = store.acknowledge(
            session,
            [(gone.id, gone.record_hash), (kept.id, b"\x00" * 32), ("f" * 32, b"\x01" * 32)],
        )
    assert deleted == 1
    with sessions() as session:
        left = {r.id for r in store.case_records(session, case_id)}
        assert kept.id in left
        assert gone.id not in left
        out = io.BytesIO()
        store.read_record(session, gone.id, out)
        assert out.getvalue() == b""  # its chunks went with it


def test_purge_then_follow_up_is_refused(sessions: sessionmaker[Session]) -> None:
    case_id = _new_case(sessions, lookup=b"\x05" * 32)
    with db.writing(sessions) as session:
        assert store.purge_case(session, case_id) == 1
    with pytest.raises(store.CaseGoneError):
        _followup(sessions, case_id, "late")
    with sessions() as session:
        assert store.find_case(session, b"\x05" * 32) is None
        assert store.case_records(session, case_id) == []


def test_a_follow_up_stored_before_the_purge_goes_with_the_case(
    sessions: sessionmaker[Session],
) -> None:
    case_id = _new_case(sessions)
    _followup(sessions, case_id, "just before")
    with db.writing(sessions) as session:
        assert store.purge_case(session, case_id) == 2
    with db.snapshot(sessions) as session:
        assert store.all_records(session) == []


def _export(session: Session) -> dict[str, bytes]:
    """What an export does inside its snapshot: list, then read every record whole."""
    exported: dict[str, bytes] = {}
    for record in store.all_records(session):
        out = io.BytesIO()
        store.read_record(session, record.id, out)
        data = out.getvalue()
        assert len(data) == record.size
        assert record_hash(data) == record.record_hash
        assert record.id not in exported
        exported[record.id] = data
    return exported


def test_a_snapshot_keeps_what_it_listed_while_records_arrive_and_go(
    sessions: sessionmaker[Session],
) -> None:
    cases = [_new_case(sessions) for _ in range(3)]
    with ThreadPoolExecutor(1) as other, db.snapshot(sessions) as session:
        listed = {r.id for r in store.all_records(session)}
        assert len(listed) == 3
        # Another connection adds a record and acknowledges (deletes) every listed one.
        other.submit(_followup, sessions, cases[0], "new").result()

        def acknowledge_all() -> int:
            with db.writing(sessions) as writer:
                pairs = [
                    (r.id, r.record_hash) for c in cases for r in store.case_records(writer, c)
                ]
                return store.acknowledge(writer, [p for p in pairs if p[0] in listed])

        assert other.submit(acknowledge_all).result() == 3
        # The snapshot still lists and reads exactly what it saw at the start.
        assert set(_export(session)) == listed
    with db.snapshot(sessions) as session:
        assert len(store.all_records(session)) == 1


def test_exports_while_submissions_arrive_miss_and_duplicate_nothing(
    sessions: sessionmaker[Session],
) -> None:
    """Exports run in a loop while four writers commit. Overlap is made certain, not hoped
    for: half-way, the writers wait until an export has its snapshot open, then commit more
    while it stays open; that export lists the same records before and after those commits
    (they go in the next one), and every export holds everything committed before it began."""
    writers, each = 4, 15
    half = each // 2
    committed: list[str] = []
    lock = threading.Lock()
    done = threading.Event()
    snapshot_open = threading.Event()
    held: dict[str, set[str]] = {}

    def write(worker: int) -> None:
        for n in range(each):
            if n == half:
                assert snapshot_open.wait(timeout=60), "no export opened its snapshot"
            case_id = _new_case(sessions)
            record = _followup(sessions, case_id, f"{worker}-{n}")
            with lock:
                committed.extend(r.id for r in _records_of(sessions, case_id))
            assert record.position == 1

    def count() -> int:
        with lock:
            return len(committed)

    def hold_snapshot_across_commits() -> None:
        with lock:
            before = set(committed)
        with db.snapshot(sessions) as session:
            first = set(_export(session))
            snapshot_open.set()  # the writers go on while this snapshot stays open
            deadline = time.monotonic() + 60
            while count() < len(before) + 2 * writers:
                assert time.monotonic() < deadline, "no commit while the snapshot was open"
                time.sleep(0.01)
            again = set(_export(session))
        with lock:
            during = set(committed) - before
        assert first == again == before
        assert during
        assert not during & again
        held["during"] = during

    def export_loop() -> list[set[str]]:
        seen: list[set[str]] = []
        while not done.is_set():
            if not snapshot_open.is_set() and count() == writers * half * 2:
                hold_snapshot_across_commits()
            with lock:
                before = set(committed)
            with db.snapshot(sessions) as session:
                ids = set(_export(session))
            assert before <= ids, "a record committed before the export began is missing"
            if seen:
                assert seen[-1] <= ids, "nothing is acknowledged here, so nothing may vanish"
            seen.append(ids)
        return seen

    with ThreadPoolExecutor(writers + 1) as pool:
        exporter: Future[list[set[str]]] = pool.submit(export_loop)
        jobs = [pool.submit(write, w) for w in range(writers)]
        for job in jobs:
            job.result()
        done.set()
        snapshots = exporter.result()
    with db.snapshot(sessions) as session:
        final = _export(session)
    assert set(final) == set(committed)
    assert len(final) == writers * each * 2
    assert len(held["during"]) >= 2 * writers  # commits that overlapped an open export
    assert any(0 < len(ids) < len(final) for ids in snapshots)


def _records_of(sessions: sessionmaker[Session], case_id: bytes) -> list[StoredRecord]:
    with sessions() as session:
        return store.case_records(session, case_id)


# --- PostgreSQL: the row lock, observed -----------------------------------------------------


@pytest.fixture
def pg_sessions(postgres_cluster) -> Iterator[sessionmaker[Session]]:  # type: ignore[no-untyped-def]
    url = postgres_cluster.new_database()
    db.upgrade(url)
    engine = db.make_engine(url)
    yield db.make_sessions(engine)
    engine.dispose()


def _held(
    sessions: sessionmaker[Session], work: Callable[[Session], object], release: threading.Event
) -> Callable[[], object]:
    """A transaction that does ``work`` then stays open until ``release``."""

    def run() -> object:
        with db.writing(sessions) as session:
            result = work(session)
            release.wait(60)
        return result

    return run


def test_pg_a_follow_up_waits_for_a_purge_and_is_then_refused(
    pg_sessions: sessionmaker[Session],
) -> None:
    case_id = _new_case(pg_sessions)
    release = threading.Event()
    engine = pg_sessions.kw["bind"]
    with ThreadPoolExecutor(2) as pool:
        purge = pool.submit(_held(pg_sessions, lambda s: store.purge_case(s, case_id), release))
        _wait_until(lambda: _login_locked(engine))
        late = pool.submit(_followup, pg_sessions, case_id, "late")
        _wait_for_lock_wait(engine)
        release.set()
        assert purge.result() == 1
        with pytest.raises(store.CaseGoneError):
            late.result()
    with pg_sessions() as session:
        assert store.case_records(session, case_id) == []


def test_pg_a_purge_waits_for_a_follow_up_which_then_goes_with_the_case(
    pg_sessions: sessionmaker[Session],
) -> None:
    case_id = _new_case(pg_sessions)
    release = threading.Event()
    engine = pg_sessions.kw["bind"]

    def add(session: Session) -> StoredRecord:
        return store.add_followup(
            session, case_id=case_id, envelope=io.BytesIO(b"first"), today=DAY
        )

    with ThreadPoolExecutor(2) as pool:
        follow = pool.submit(_held(pg_sessions, add, release))
        _wait_until(lambda: _login_locked(engine))

        def purge() -> int:
            with db.writing(pg_sessions) as session:
                return store.purge_case(session, case_id)

        purging = pool.submit(purge)
        _wait_for_lock_wait(engine)
        release.set()
        follow.result()
        assert purging.result() == 2  # the submission and the follow-up that got in first
    with pg_sessions() as session:
        assert store.case_records(session, case_id) == []
    with pytest.raises(store.CaseGoneError):
        _followup(pg_sessions, case_id, "after")


def test_pg_a_follow_up_waits_for_a_new_case_key_and_is_then_refused(
    pg_sessions: sessionmaker[Session],
) -> None:
    """A replies bundle storing a case key holds the case's row; a follow-up sealed to the desks
    meanwhile waits, then sees the key and is refused: never stored for a key replaced."""
    from whistle.crypto import generate_box_keypair, generate_signing_keypair
    from whistle.crypto.case_keys import CaseKeyAnnouncement, sign_case_key
    from whistle.submit.case_keys import Announced, apply

    case_id = _new_case(pg_sessions)
    new = CaseKeyAnnouncement(case_id, 1, generate_box_keypair().public_key)
    announced = Announced(new, sign_case_key(generate_signing_keypair().seed, new))
    release = threading.Event()
    engine = pg_sessions.kw["bind"]
    with ThreadPoolExecutor(2) as pool:
        keyed = pool.submit(_held(pg_sessions, lambda s: apply(s, [announced], DAY), release))
        _wait_until(lambda: _login_locked(engine))
        late = pool.submit(_followup, pg_sessions, case_id, "to the desks")
        _wait_for_lock_wait(engine)
        release.set()
        assert keyed.result().stored == 1  # type: ignore[attr-defined]
        with pytest.raises(store.CaseKeyChangedError):
            late.result()
    assert [r.kind.value for r in _records_of(pg_sessions, case_id)] == ["submission"]


def _login_locked(engine: Engine) -> bool:
    """True once some transaction holds a row lock on logins (SKIP LOCKED sees it)."""
    with engine.connect() as connection:
        free = connection.execute(
            text("SELECT count(*) FROM (SELECT 1 FROM logins FOR UPDATE SKIP LOCKED) AS f")
        ).scalar()
        total = connection.execute(text("SELECT count(*) FROM logins")).scalar()
        connection.rollback()
    return bool(free != total)


def _wait_until(condition: Callable[[], bool]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if condition():
            return
        threading.Event().wait(0.02)
    raise AssertionError("the condition never held")
