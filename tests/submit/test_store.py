"""Storage: ciphertext as ~1 MiB chunk rows, one transaction per record, random ids, days."""

import datetime
import io

import pytest
from sqlalchemy import inspect, select

from whistle.crypto import record_hash
from whistle.submit import db, store
from whistle.submit.models import Chunk, Login, Record

DAY = datetime.date(2026, 11, 27)


@pytest.fixture
def sessions(database_url: str):  # type: ignore[no-untyped-def]
    url = database_url
    db.upgrade(url)
    engine = db.make_engine(url)
    yield db.make_sessions(engine)
    engine.dispose()


def test_submission_is_chunked_hashed_and_dated(sessions) -> None:  # type: ignore[no-untyped-def]
    envelope = bytes(range(256)) * (10 * 1024 + 7)  # ~2.5 MiB
    case_id = store.new_case_id()
    with sessions.begin() as session:
        stored = store.add_submission(
            session,
            case_id=case_id,
            lookup=b"\x07" * 32,
            envelope=io.BytesIO(envelope),
            today=DAY,
        )
    assert stored.size == len(envelope)
    assert stored.record_hash == record_hash(envelope)
    assert stored.created == DAY
    assert len(stored.id) == 32
    assert int(stored.id, 16) >= 0
    with sessions() as session:
        sizes = session.scalars(select(Chunk.data).where(Chunk.record_id == stored.id)).all()
        assert [len(s) for s in sizes] == [1024 * 1024, 1024 * 1024, len(envelope) - 2 * 1024**2]
        out = io.BytesIO()
        store.read_record(session, stored.id, out)
        assert out.getvalue() == envelope
        assert store.find_case(session, b"\x07" * 32) == case_id
        assert store.find_case(session, b"\x08" * 32) is None
        assert store.storage_used(session) == len(envelope)


def test_a_failure_leaves_nothing_half_written(sessions) -> None:  # type: ignore[no-untyped-def]
    class Broken(io.BytesIO):
        def read(self, size: int = -1) -> bytes:
            if self.tell() > 0:
                raise OSError("disk gone")
            return super().read(size)

    with pytest.raises(OSError, match="disk gone"), sessions.begin() as session:
        store.add_submission(
            session,
            case_id=store.new_case_id(),
            lookup=b"\x01" * 32,
            envelope=Broken(b"x" * 3 * 1024 * 1024),
            today=DAY,
        )
    with sessions() as session:
        for model in (Record, Chunk, Login):
            assert session.scalars(select(model)).all() == []


def test_records_of_a_case_keep_their_order(sessions) -> None:  # type: ignore[no-untyped-def]
    case_id = store.new_case_id()
    with sessions.begin() as session:
        store.add_submission(
            session, case_id=case_id, lookup=b"\x02" * 32, envelope=io.BytesIO(b"s"), today=DAY
        )
        store.add_reply(session, case_id=case_id, envelope=io.BytesIO(b"r"), today=DAY)
        store.add_followup(session, case_id=case_id, envelope=io.BytesIO(b"f"), today=DAY)
    with sessions() as session:
        kinds = [r.kind.value for r in store.case_records(session, case_id)]
    assert kinds == ["submission", "reply", "followup"]


def test_no_reply_to_a_case_that_does_not_exist(sessions) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(store.CaseGoneError, match="no such case"), sessions.begin() as session:
        store.add_reply(session, case_id=store.new_case_id(), envelope=io.BytesIO(b"r"), today=DAY)


def _receive(session, case_id: bytes, quota: int, size: int = 100):  # type: ignore[no-untyped-def]
    return store.receive_submission(
        session,
        quota=quota,
        case_id=case_id,
        lookup=case_id * 2,
        pepper_tag=b"\x00" * 8,
        envelope=io.BytesIO(b"s" * size),
        size=size,
        today=DAY,
        epoch=1,
    )


def test_both_routes_store_through_one_quota_check(sessions) -> None:  # type: ignore[no-untyped-def]
    """receive_submission / receive_followup: the quota, then the record; refused, nothing kept."""
    case_id = store.new_case_id()
    with sessions.begin() as session:
        _receive(session, case_id, quota=150)
    with pytest.raises(store.MailboxFullError), sessions.begin() as session:
        _receive(session, store.new_case_id(), quota=150)
    with pytest.raises(store.MailboxFullError), sessions.begin() as session:
        store.receive_followup(
            session,
            quota=150,
            case_id=case_id,
            envelope=io.BytesIO(b"f" * 51),
            size=51,
            today=DAY,
            epoch=1,
        )
    with pytest.raises(store.CaseExistsError), sessions.begin() as session:
        _receive(session, case_id, quota=10**6)
    with sessions.begin() as session:
        store.receive_followup(
            session,
            quota=150,
            case_id=case_id,
            envelope=io.BytesIO(b"f" * 50),
            size=50,
            today=DAY,
            epoch=1,
        )
    with sessions() as session:
        assert [r.kind.value for r in store.case_records(session, case_id)] == [
            "submission",
            "followup",
        ]
        assert len(session.scalars(select(Login)).all()) == 1
        assert store.storage_used(session) == 150


def test_no_column_records_time_count_or_identity(sessions) -> None:  # type: ignore[no-untyped-def]
    engine = sessions.kw["bind"]
    columns = {
        table: {c["name"]: str(c["type"]) for c in inspect(engine).get_columns(table)}
        for table in ("records", "chunks", "logins", "source_copies")
    }
    assert columns["records"]["created"] == "DATE"
    assert columns["source_copies"]["created"] == "DATE"
    # pepper_tag: which pepper made the lookup, keyed with that pepper (opaque without it).
    # protocol, followups: hints for the source's next follow-up (docs/protocol.md §7); the
    # count says no more than next_position, which counts every record of the case.
    # keep_copies: whether the source deleted their own copy (views/plain.py forget_copy).
    assert set(columns["logins"]) == {
        "lookup",
        "case_id",
        "next_position",
        "pepper_tag",
        "protocol",
        "followups",
        "keep_copies",
    }
    every = {name for table in columns.values() for name in table}
    for forbidden in ("ip", "agent", "time", "files", "identified", "reply_key", "code"):
        assert not any(forbidden in name for name in every), forbidden
