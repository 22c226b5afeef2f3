"""A full desk-key rotation: cases before and after, old keys destroyed once collected.

Plain-form path on the server (the server encrypts to the card it holds); the
JavaScript path's epochs are in test_sealed_epochs.py.
"""

import datetime
import io

import pytest
from sqlalchemy import select

from tests.bundles.conftest import World
from tests.inbox.conftest import PASSWORD
from tests.submit.conftest import submit_report
from whistle.bundling import BundleRefusedError
from whistle.crypto import WrongKeyError, open_envelope
from whistle.crypto.records import open_submission
from whistle.inbox import compartments, epochs
from whistle.inbox.bundles import export_replies, verify_outbox
from whistle.inbox.cases import case_detail
from whistle.inbox.keyring import unwrap_office
from whistle.inbox.models import AuditEvent, Case, KeyEpoch, Officer
from whistle.submit import epochs as server_epochs
from whistle.submit import store
from whistle.submit.models import Record

from .conftest import DAY0, Loop

BEFORE = "CANARY-before-rotation-7d1e"
AFTER = "CANARY-after-rotation-2c9a"
FOLLOWUP = "CANARY-followup-to-new-keys-51f0"


def _server_records(world: World) -> dict[str, tuple[str, int | None, bytes]]:
    """Every stored record: id → (kind, epoch, envelope)."""
    found = {}
    with world.server_state().sessions() as session:
        for row in session.scalars(select(Record)):
            buffer = io.BytesIO()
            store.read_record(session, row.id, buffer)
            found[row.id] = (row.kind.value, row.epoch, buffer.getvalue())
    return found


def _cases_text(world: World) -> str:
    """Everything the inbox shows of every case, decrypted with the storage key."""
    text = []
    with world.inbox_session() as session:
        for case_id in session.scalars(select(Case.id)):
            detail = case_detail(
                session, world.keyring, case_id, today=world.inbox_config.clock().date()
            )
            for entry in detail.entries:
                assert entry.error is None, entry.error
                text += [f["value"] for f in entry.form] + [entry.message]
    return "\n".join(text)


def _audit(world: World) -> list[str]:
    with world.inbox_session() as session:
        return [f"{e.action}: {e.detail}" for e in session.scalars(select(AuditEvent))]


def test_full_rotation_old_keys_destroyed_once_collected(loop: Loop) -> None:
    world = loop.world
    client = loop.client
    client.get("/language/en")
    code = submit_report(client, description=BEFORE)
    [(before_id, (_kind, epoch, before_envelope))] = _server_records(world).items()
    assert epoch == 1
    captured = loop.server_export()  # an epoch-1 outbox, as a thief might copy it

    # Rotate: a new card, epoch 2, the same signing key.
    card = loop.rotate()
    assert card.epoch == 2
    assert card.fingerprint == world.server_config.office_card.fingerprint
    assert "keys-rotated: epoch 2: new desk and bundle keys" in _audit(world)

    # The next replies bundle brings it to the server, which encrypts to it from now on.
    applied = loop.server_import(loop.inbox_export())
    assert applied.counts["office key epoch"] == 2
    with world.server_state().sessions() as session:
        assert server_epochs.current_card(session, world.server_config) == card
    code_after = submit_report(client, description=AFTER)
    loop.followup(code, FOLLOWUP)  # to the epoch-1 case, encrypted to the epoch-2 desk keys
    epochs_by_kind = sorted((k, e) for k, e, _ in _server_records(world).values())
    assert epochs_by_kind == [("followup", 2), ("submission", 1), ("submission", 2)]
    assert code_after != code

    # The outbox (sealed to the new bundle key) carries all three; the inbox opens each with
    # its epoch's keys. The epoch-1 keys stay: a record of theirs is still on the server.
    summary = loop.inbox_import(loop.server_export())
    assert summary.counts["records imported"] == 3
    assert summary.counts["refused (see the audit log)"] == 0
    assert summary.counts["server's office key epoch"] == 2
    for canary in (BEFORE, AFTER, FOLLOWUP):
        assert canary in _cases_text(world)
    with world.inbox_session() as session:
        assert [k.epoch for k in compartments.wire_keys(session, world.keyring)] == [2, 1]

    # Acknowledgements wait for a backup (the gate): until then the server keeps the
    # records, and so the epoch-1 keys stay.
    loop.server_import(loop.inbox_export())
    assert len(_server_records(world)) == 3
    world.inbox_backup()
    # Acknowledged: nothing pending, but the server still accepts epoch 1 for a day (pages
    # loaded before the rotation), and reports it open until day 3: the keys stay.
    loop.server_import(loop.inbox_export())
    assert _server_records(world) == {}
    for day in (0, 1, 2):
        loop.day = DAY0 + datetime.timedelta(days=day)
        loop.inbox_import(loop.server_export())
        with world.inbox_session() as session:
            assert not epochs.is_destroyed(session, 1), f"destroyed on day {day}"

    loop.day = DAY0 + datetime.timedelta(days=3)
    summary = loop.inbox_import(loop.server_export())
    assert "desk keys of epoch 1 destroyed: everything sent to them is collected" in summary.notes
    assert any(
        line.startswith("keys-destroyed: desk keys of epoch 1 destroyed") for line in _audit(world)
    )
    with world.inbox_session() as session:
        row = session.get(KeyEpoch, 1)
        assert row.destroyed_at is not None
        assert row.bundle_secret is None
        assert [k.epoch for k in compartments.wire_keys(session, world.keyring)] == [2]

    # Both cases still read (they are under the storage key since their import) ...
    for canary in (BEFORE, AFTER, FOLLOWUP):
        assert canary in _cases_text(world)
    # ... but the captured epoch-1 outbox no longer opens, nor does its record, with
    # anything the inbox holds: live keys, the officer's password, the recovery key.
    with world.inbox_session() as session, pytest.raises(BundleRefusedError) as refused:
        verify_outbox(session, world.keyring, captured)
    assert "not addressed to this side" in str(refused.value)
    with world.inbox_session() as session:
        officer = session.scalar(select(Officer))
        from_password = unwrap_office(officer.wrapped_keyring, PASSWORD)
        opened = compartments.wire_keys(session, from_password)
        secrets = [s for k in opened for s in k.desks.values()]
    assert from_password.legacy is None
    secrets += [from_password.storage_secret, from_password.signing_seed]
    for secret in secrets:
        with pytest.raises(WrongKeyError):
            open_submission(io.BytesIO(before_envelope), [secret], bytes.fromhex(_case_of(world)))
    assert before_id


def _case_of(world: World) -> str:
    with world.inbox_session() as session:
        return session.scalars(select(Case.id).order_by(Case.imported_at)).first()


def test_a_pending_old_record_holds_destruction_back(loop: Loop) -> None:
    world = loop.world
    loop.client.get("/language/en")
    submit_report(loop.client, description=BEFORE)
    loop.rotate()
    loop.server_import(loop.inbox_export())
    loop.day = DAY0 + datetime.timedelta(days=5)  # long past the grace period

    # The epoch-1 record is imported now, but still on the server: keys kept.
    summary = loop.inbox_import(loop.server_export())
    assert summary.counts["records imported"] == 1
    assert "key epoch 1: 1 record(s) still on the server" in summary.notes
    with world.inbox_session() as session:
        assert not epochs.is_destroyed(session, 1)

    # Not acknowledged before a backup holds it (the gate): still on the server, keys kept.
    loop.server_import(loop.inbox_export())
    loop.inbox_import(loop.server_export())
    with world.inbox_session() as session:
        assert not epochs.is_destroyed(session, 1)

    # Backed up, acknowledged (deleted on the server): the server now says epoch 1 is
    # collected, but this inbox first saw it use epoch 2 today (day 5): by its own clock, an
    # upload to epoch 1 may still be on its way, so the keys stay until day 8 (review L5).
    world.inbox_backup()
    loop.server_import(loop.inbox_export())
    loop.inbox_import(loop.server_export())
    with world.inbox_session() as session:
        assert not epochs.is_destroyed(session, 1)
    loop.day = DAY0 + datetime.timedelta(days=8)
    loop.inbox_import(loop.server_export())
    with world.inbox_session() as session:
        assert epochs.is_destroyed(session, 1)
    assert BEFORE in _cases_text(world)


def test_an_outbox_from_before_the_server_applied_the_rotation_still_imports(
    loop: Loop,
) -> None:
    world = loop.world
    loop.client.get("/language/en")
    submit_report(loop.client, description=BEFORE)
    loop.rotate()  # the server has not heard of it yet: its outbox is sealed to epoch 1
    summary = loop.inbox_import(loop.server_export())
    assert summary.counts["records imported"] == 1
    assert summary.counts["server's office key epoch"] == 1
    with world.inbox_session() as session:
        assert [k.epoch for k in compartments.wire_keys(session, world.keyring)] == [2, 1]
        assert session.get(KeyEpoch, 2).confirmed_at is None
    loop.server_import(loop.inbox_export())
    loop.inbox_import(loop.server_export())
    with world.inbox_session() as session:
        assert session.get(KeyEpoch, 2).confirmed_at is not None


def test_opened_stored_record_needs_no_desk_key(loop: Loop) -> None:
    """What makes destruction safe: the stored copy opens with the case key alone (which
    rotating the desks' wire keys does not touch)."""
    world = loop.world
    loop.client.get("/language/en")
    submit_report(loop.client, description=BEFORE)
    loop.inbox_import(loop.server_export())
    from whistle.crypto import associated_data
    from whistle.inbox.compartments import case_secrets
    from whistle.inbox.models import Record as InboxRecord

    with world.inbox_session() as session:
        record = session.scalars(select(InboxRecord)).one()
        path = world.inbox_config.store_dir / record.stored_name
        opened = compartments.wire_keys(session, world.keyring)
        desks = [s for k in opened for s in k.desks.values()]
        case_keys = case_secrets(session, world.keyring, record.case_id)
    ad = associated_data("stored-submission", bytes.fromhex(record.case_id))
    with path.open("rb") as handle:
        open_envelope(handle, case_keys, ad)
    with path.open("rb") as handle, pytest.raises(WrongKeyError):
        open_envelope(handle, desks, ad)


def test_server_status_names_the_epoch(loop: Loop) -> None:
    from click.testing import CliRunner

    from whistle.cli import main

    loop.client.get("/language/en")
    submit_report(loop.client, description=BEFORE)
    before = CliRunner().invoke(main, ["server", "status", str(loop.world.server_dir)])
    assert "Office key epoch: 1 (the pinned card); records waiting: 1 of epoch 1" in before.output
    loop.rotate()
    loop.server_import(loop.inbox_export())
    after = CliRunner().invoke(main, ["server", "status", str(loop.world.server_dir)])
    assert f"Office key epoch: 2, applied {DAY0.isoformat()}" in after.output


def test_new_keys_go_to_the_server_only_once_a_backup_holds_them(loop: Loop) -> None:
    """Were the laptop lost between a rotation and the next backup, a server already
    encrypting to the new keys would collect reports nobody can open."""
    world = loop.world
    loop.rotate(backup=False)
    exported = loop.inbox_export()
    applied = loop.server_import(exported)
    assert applied.counts["office key epoch"] == 1
    assert _current_epoch(loop) == 1
    with world.inbox_session() as session:
        summary = export_replies(
            session, world.keyring, io.BytesIO(), now=world.inbox_config.clock()
        )
    assert any("the new keys (epoch 2) wait for a backup" in note for note in summary.notes)

    world.inbox_backup()
    applied = loop.server_import(loop.inbox_export())
    assert applied.counts["office key epoch"] == 2
    assert _current_epoch(loop) == 2


def test_an_office_acknowledging_on_import_announces_new_keys_at_once(loop: Loop) -> None:
    loop.world.acknowledge_on_import()
    loop.rotate(backup=False)
    assert loop.server_import(loop.inbox_export()).counts["office key epoch"] == 2


def _current_epoch(loop: Loop) -> int:
    with loop.world.server_state().sessions() as session:
        return server_epochs.current_card(session, loop.world.server_config).epoch
