"""The server keeps the office's list of deletions and hands it back: an inbox restored from a
backup older than its last deletions makes them again at its first import, so deleted data
does not come back even when the list beside the backups was lost with the laptop."""

import base64
import dataclasses

import pytest
from sqlalchemy import select

from tests.submit.conftest import submit_report
from whistle.bundling import StaleBundleError
from whistle.crypto import generate_signing_keypair, sign
from whistle.crypto.signing import DELETIONS
from whistle.inbox import db as inbox_db
from whistle.inbox import deletions, register, workflow
from whistle.inbox.backup import read_header, restore_backup
from whistle.inbox.keyring import OfficeKeyring
from whistle.inbox.models import AuditEvent, Case, PurgedCase, Tombstone
from whistle.inbox.officers import sign_in
from whistle.submit.bundles import _keep_deletions
from whistle.submit.models import DeletionListRow

from .conftest import PASSWORD, TODAY, World


def _cases(world: World) -> list[str]:
    with world.inbox_session() as session:
        return sorted(session.scalars(select(Case.id)))


def _restored(world: World, backup) -> World:  # type: ignore[no-untyped-def]
    """The inbox as the backup had it, in a new directory, with no list of deletions."""
    target = world.tmp / "restored"
    with backup.open("rb") as source:
        info = read_header(source)
        keyring = sign_in_keyring(world)
        restore_backup(source, info, keyring, target, now=world.inbox_config.clock())
    config = dataclasses.replace(world.inbox_config, data_dir=target)
    sessions = inbox_db.session_factory(inbox_db.make_engine(config.database_path))
    return dataclasses.replace(world, inbox_config=config, inbox_sessions=sessions)


def sign_in_keyring(world: World) -> OfficeKeyring:
    with world.inbox_session() as session:
        return sign_in(session, world.inbox_config, "admin", PASSWORD).keyring


def test_a_restored_inbox_gets_its_deletions_back_from_the_server(world: World) -> None:
    client = world.client
    submit_report(client, description="Kept.")
    submit_report(client, description="To be deleted.")
    world.inbox_import(world.server_export())
    old_backup = world.inbox_backup()
    kept, deleted = _cases(world)
    now = world.inbox_config.clock()
    with world.inbox_session() as session:
        line = register.case_line(session, world.keyring, session.get(Case, deleted))
        gone = workflow.purge_case(
            session,
            world.keyring,
            deleted,
            confirm=True,
            reason="Outside the law's scope entirely.",
            officer_id=1,
            now=now,
            today=now.date(),
            store_dir=world.inbox_config.store_dir,
        )
    workflow.remove_files(gone)
    world.server_import(world.inbox_export())
    with world.server_state().sessions() as session:
        row = session.get(DeletionListRow, 1)
        assert row is not None
        assert row.entries == 1
        assert b"Outside" not in row.blob  # sealed: no reason, and nothing the server can read

    # The laptop is lost; the backup is older than the deletion and its list is gone too.
    restored = _restored(world, old_backup)
    assert _cases(restored) == sorted([kept, deleted])
    # Should the restored inbox speak first, its bundle is refused as stale; and a shorter
    # list never replaces a longer one on the server.
    with pytest.raises(StaleBundleError):
        restored.server_import(restored.inbox_export())
    with world.server_state().sessions.begin() as session:
        assert _keep_deletions(session, (0, b"shorter"), TODAY) == 1
        assert session.get(DeletionListRow, 1).blob != b"shorter"  # type: ignore[union-attr]

    summary = restored.inbox_import(world.server_export())
    assert summary.counts["deletions made again (from the server's copy of the list)"] == 1
    assert _cases(restored) == [kept]
    with restored.inbox_session() as session:
        assert session.get(Tombstone, deleted) is not None
        purged = session.get(PurgedCase, deleted)
        assert purged is not None
        assert register.open_line(world.keyring, deleted, purged.register or b"").received == (
            line.received
        )
        actions = list(session.scalars(select(AuditEvent.action)))
    assert "deletions-reapplied" in actions
    assert not any(deleted in p.name for p in restored.inbox_config.store_dir.iterdir())
    # Nothing left to make again: the next outbox changes nothing.
    again = restored.inbox_import(world.server_export())
    assert "deletions made again (from the server's copy of the list)" not in again.counts
    restored.inbox_sessions.kw["bind"].dispose()


def test_a_copy_that_is_not_the_offices_is_refused_and_the_records_still_come(
    world: World,
) -> None:
    """A server that makes up a list (sealed to the office's public storage key, signed by
    another key) changes nothing; the report in the same bundle is imported."""
    forged = deletions.sealing.seal_text(
        world.keyring.storage_public,
        deletions.SERVER_COPY,
        deletions.sealing.NO_CASE,
        base64.b64encode(
            sign(generate_signing_keypair().seed, DELETIONS, b'{"version":1,"entries":[]}')
        ).decode(),
    )
    with world.server_state().sessions.begin() as session:
        day = world.inbox_config.clock().date()
        session.add(DeletionListRow(id=1, entries=5, blob=forged, day=day))
    submit_report(world.client)
    summary = world.inbox_import(world.server_export())
    assert summary.counts["records imported"] == 1
    assert any("not this office's" in note for note in summary.notes)
    with world.inbox_session() as session:
        assert "deletion-list-refused" in set(session.scalars(select(AuditEvent.action)))
