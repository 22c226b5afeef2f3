"""An outbox bundle's ``record_case_keys`` (protocol §17) as the inbox reads it: follow-ups sealed
to their case's key are filed, one marked for a generation the server never confirmed here stays
on the server (neither acknowledged nor refused), and a malformed field refuses the whole bundle
before anything is written."""

import io
import secrets
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest
from sqlalchemy import select

from tests.inbox.conftest import make_submission
from whistle.crypto import KdfParams, generate_box_keypair, read_card
from whistle.crypto.bundles import BundleRecord, write_bundle
from whistle.crypto.conversation import Position
from whistle.crypto.records import seal_followup
from whistle.inbox import compartments
from whistle.inbox.bundles import CaseKeyFieldError, _last, preview_outbox
from whistle.inbox.models import Outgoing, Record

from .conftest import TODAY, World, make_world


@pytest.fixture
def world(tmp_path: Path, insecure_kdf_params: KdfParams) -> Iterator[World]:
    """Both sides, the server on SQLite only: what is tested here is the inbox."""
    w = make_world(tmp_path, insecure_kdf_params)
    yield w
    w.app.extensions["whistle_submit"].engine.dispose()
    w.inbox_sessions.kw["bind"].dispose()


def _outbox(world: World, records: list[BundleRecord], extra: dict[str, object]) -> bytes:
    """The next outbox bundle, signed by the server's key, carrying ``records``."""
    office = read_card((world.server_dir / "office-card.json").read_bytes())
    with world.inbox_session() as session:
        last = _last(session, "outbox")
        sequence, previous = (last.sequence, last.bundle_id) if last else (0, None)
    out = io.BytesIO()
    write_bundle(
        out,
        records=records,
        signing_seed=world.server_config.signing_seed,
        recipient_bundle_key=office.bundle_key,  # type: ignore[union-attr]
        install_id=world.server_config.install_id,
        direction="outbox",
        sequence=sequence + 1,
        previous=previous,
        created=TODAY.isoformat(),
        extra=extra,
    )
    return out.getvalue()


def _case(world: World):  # type: ignore[no-untyped-def]
    """A report imported through an outbox bundle: its source."""
    card = read_card((world.server_dir / "office-card.json").read_bytes())
    office = SimpleNamespace(
        card_desks={d.id: d.public_key for d in card.desks},  # type: ignore[union-attr]
        custodian_public=card.custodian_key,  # type: ignore[union-attr]
    )
    source, envelope = make_submission(office)  # type: ignore[arg-type]
    record = BundleRecord(
        secrets.token_hex(16), "submission", source.case_id, "2026-11-01", envelope
    )
    world.inbox_import(_outbox(world, [record], {}))
    return source


def _followup(source, key: bytes, sequence: int) -> BundleRecord:  # type: ignore[no-untyped-def]
    envelope = seal_followup(
        f"follow-up {sequence}",
        [],
        reply_secret_key=source.reply_secret,
        office_keys=[key],
        case_id=bytes.fromhex(source.case_id),
        signing_seed=source.signing_seed,
        position=Position(sequence, 0),
    )
    return BundleRecord(secrets.token_hex(16), "followup", source.case_id, "2026-11-02", envelope)


def test_follow_ups_sealed_to_the_case_key_are_filed_and_an_unknown_generation_waits(
    world: World,
) -> None:
    source = _case(world)
    with world.inbox_session() as session:
        case_key = compartments.case_public(session, source.case_id)
    filed = _followup(source, case_key, 1)
    newer = _followup(source, generate_box_keypair().public_key, 2)
    data = _outbox(world, [filed, newer], {"record_case_keys": {filed.id: 1, newer.id: 2}})
    summary = world.inbox_import(data)
    assert summary.counts["records imported"] == 1
    assert summary.counts["refusals queued"] == 0
    with world.inbox_session() as session:
        assert session.get(Record, filed.id) is not None
        assert session.get(Record, newer.id) is None
        acked = set(session.scalars(select(Outgoing.record_id).where(Outgoing.kind == "ack")))
        assert filed.id in acked
        assert newer.id not in acked  # the server keeps it for the newest backup
        assert session.scalar(select(Outgoing.id).where(Outgoing.kind == "refusal")) is None


@pytest.mark.parametrize(
    "value",
    [
        [],
        "1",
        {"not-a-record-id": 1},
        {"ab" * 16: 0},
        {"ab" * 16: True},
        {"ab" * 16: "1"},
        {"ab" * 16: 1_000_001},
    ],
)
def test_a_malformed_record_case_keys_refuses_the_bundle_and_writes_nothing(
    world: World, value: object
) -> None:
    source = _case(world)
    with world.inbox_session() as session:
        case_key = compartments.case_public(session, source.case_id)
    data = _outbox(world, [_followup(source, case_key, 1)], {"record_case_keys": value})
    before = world.snapshot()["inbox"]
    with world.inbox_session() as session, pytest.raises(CaseKeyFieldError):
        preview_outbox(session, world.keyring, data)
    with pytest.raises(CaseKeyFieldError):
        world.inbox_import(data)
    assert world.snapshot()["inbox"] == before


def test_one_marked_for_a_generation_the_server_confirmed_that_does_not_open_is_refused(
    world: World,
) -> None:
    """The announcement went in a replies bundle the server applied and confirmed: a follow-up
    marked for that generation which the case's key does not open is a poison record."""
    source = _case(world)
    world.acknowledge_on_import()
    world.server_import(world.inbox_export())
    with world.inbox_session() as session:
        replies = _last(session, "replies")
        assert replies is not None
    world.inbox_import(_outbox(world, [], {"replies_applied": replies.sequence}))
    with world.inbox_session() as session:
        [row] = session.scalars(select(Outgoing).where(Outgoing.kind == "case-key")).all()
        assert row.confirmed is not None
    forged = _followup(source, generate_box_keypair().public_key, 1)
    summary = world.inbox_import(_outbox(world, [forged], {"record_case_keys": {forged.id: 1}}))
    assert summary.counts["refusals queued"] == 1
    with world.inbox_session() as session:
        assert (
            session.scalar(select(Outgoing.record_id).where(Outgoing.kind == "refusal"))
            == forged.id
        )
