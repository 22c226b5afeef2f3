"""An outbox bundle's ``record_case_keys`` (protocol §17) as the inbox reads it: follow-ups sealed
to their case's key are filed, one marked with a key that is none of its case's keys here stays
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
from whistle.inbox.models import Officer, Outgoing, Record

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


def test_follow_ups_sealed_to_the_case_key_are_filed_and_an_unknown_key_waits(
    world: World,
) -> None:
    source = _case(world)
    with world.inbox_session() as session:
        case_key = compartments.case_public(session, source.case_id)
    newer_key = generate_box_keypair().public_key
    filed = _followup(source, case_key, 1)
    newer = _followup(source, newer_key, 2)
    marks = {filed.id: case_key.hex(), newer.id: newer_key.hex()}
    data = _outbox(world, [filed, newer], {"record_case_keys": marks})
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
        {"not-a-record-id": "cd" * 32},
        {"ab" * 16: 1},  # a generation, as before keys were compared by key
        {"ab" * 16: True},
        {"ab" * 16: None},
        {"ab" * 16: "CD" * 32},
        {"ab" * 16: "cd" * 31},
        {"ab" * 16: "cd" * 33},
        {"ab" * 16: "zz" * 32},
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


def test_one_marked_with_a_key_of_its_case_that_does_not_open_is_refused(world: World) -> None:
    """The key is this case's (nothing else is asked: no confirmation, no outgoing row): a
    follow-up marked with it that the key does not open is a poison record."""
    source = _case(world)
    with world.inbox_session() as session:
        case_key = compartments.case_public(session, source.case_id)
    forged = _followup(source, generate_box_keypair().public_key, 1)
    marks = {forged.id: case_key.hex()}
    summary = world.inbox_import(_outbox(world, [forged], {"record_case_keys": marks}))
    assert summary.counts["refusals queued"] == 1
    with world.inbox_session() as session:
        assert (
            session.scalar(select(Outgoing.record_id).where(Outgoing.kind == "refusal"))
            == forged.id
        )


def test_a_follow_up_to_a_superseded_announcement_that_went_unconfirmed_is_filed(
    two_desks: World,
) -> None:
    """Generation 1 was announced (sent, never confirmed); the case moved, so its row was
    superseded — but the server may have stored it and sealed to it. This inbox keeps the
    key: the follow-up is filed and acknowledged, not stuck."""
    world = two_desks
    source = _case(world)
    world.acknowledge_on_import()
    world.inbox_export()
    with world.inbox_session() as session:
        [row] = session.scalars(select(Outgoing).where(Outgoing.kind == "case-key")).all()
        assert (row.record_id, row.bundle_sequence is not None, row.confirmed) == ("1", True, None)
        first = compartments.case_public(session, source.case_id)
        admin_id = session.scalar(select(Officer.id).where(Officer.name == "admin"))
        compartments.reassign(
            session,
            world.keyring,
            case_id=source.case_id,
            desk_id="ethics",
            by_officer_id=admin_id,
            now=world.inbox_config.clock(),
        )
    world.inbox_export()
    with world.inbox_session() as session:
        rows = session.scalars(select(Outgoing.record_id).where(Outgoing.kind == "case-key"))
        assert sorted(rows) == ["1", "2"]  # generation 1's row went out: it stays
    followup = _followup(source, first, 1)
    marks = {followup.id: first.hex()}
    summary = world.inbox_import(_outbox(world, [followup], {"record_case_keys": marks}))
    assert summary.counts["records imported"] == 1
    with world.inbox_session() as session:
        assert session.get(Record, followup.id) is not None
        acked = session.scalars(select(Outgoing.record_id).where(Outgoing.kind == "ack"))
        assert followup.id in set(acked)
