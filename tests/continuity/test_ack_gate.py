"""The acknowledgement gate: the server deletes a report only once a backup holds it."""

import io
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from tests.bundles.conftest import World, make_world
from tests.submit.conftest import submit_report
from whistle.crypto import KdfParams
from whistle.inbox.bundles import export_replies
from whistle.inbox.models import Case, Outgoing
from whistle.inbox.outgoing import HELD_FOR_BACKUP, held_acks
from whistle.inbox.workflow import purge_case
from whistle.submit.bundles import verify_replies
from whistle.submit.models import Record as ServerRecord


@pytest.fixture
def world(tmp_path: Path, insecure_kdf_params: KdfParams) -> Iterator[World]:
    w = make_world(tmp_path, insecure_kdf_params)
    yield w
    w.app.extensions["whistle_submit"].engine.dispose()
    w.inbox_sessions.kw["bind"].dispose()


def _server_kinds(world: World) -> list[str]:
    with world.server_state().sessions() as session:
        return sorted(r.kind.value for r in session.scalars(select(ServerRecord)))


def _export(world: World):  # type: ignore[no-untyped-def]
    out = io.BytesIO()
    with world.inbox_session() as session:
        summary = export_replies(session, world.keyring, out, now=world.inbox_config.clock())
    return summary, out.getvalue()


def test_acknowledgements_wait_for_a_backup(world: World) -> None:
    submit_report(world.client)
    submit_report(world.client)
    imported = world.inbox_import(world.server_export())
    assert imported.counts["records imported"] == 2

    summary, data = _export(world)
    assert summary.counts["acknowledgements"] == 0
    assert summary.counts["acknowledgements held back until a backup"] == 2
    assert any("held back" in note for note in summary.notes)
    extra = verify_replies(world.server_config, data).manifest.extra
    assert extra["acknowledged"] == []
    assert extra["acknowledgements_held"] == 2
    assert extra["acknowledgements_held_why"] == HELD_FOR_BACKUP
    applied = world.server_import(data)
    assert applied.counts["acknowledged records deleted"] == 0
    assert (
        "2 acknowledgement(s) held back (waiting for a backup in the office)" in applied.lines()[-1]
    )
    assert _server_kinds(world) == ["submission", "submission"]
    # The server confirming that bundle does not count the held rows as delivered.
    world.inbox_import(world.server_export())
    with world.inbox_session() as session:
        assert held_acks(session) == 2
        rows = session.scalars(select(Outgoing).where(Outgoing.kind == "ack")).all()
        assert all(r.bundle_sequence is None and r.confirmed is None for r in rows)

    world.inbox_backup()
    summary, data = _export(world)
    assert summary.counts["acknowledgements"] == 2
    assert "acknowledgements held back until a backup" not in summary.counts
    assert "acknowledgements_held" not in verify_replies(world.server_config, data).manifest.extra
    assert world.server_import(data).counts["acknowledged records deleted"] == 2
    assert _server_kinds(world) == []


def test_a_backup_releases_only_what_it_holds(world: World) -> None:
    submit_report(world.client)
    world.inbox_import(world.server_export())
    world.inbox_backup()
    submit_report(world.client)  # arrives after the backup
    world.inbox_import(world.server_export())
    summary, data = _export(world)
    assert summary.counts["acknowledgements"] == 1
    assert summary.counts["acknowledgements held back until a backup"] == 1
    world.server_import(data)
    assert _server_kinds(world) == ["submission"]


def test_acknowledge_on_import_sends_them_at_once(world: World) -> None:
    world.acknowledge_on_import()
    submit_report(world.client)
    world.inbox_import(world.server_export())
    summary, data = _export(world)
    assert summary.counts["acknowledgements"] == 1
    assert "acknowledgements_held" not in verify_replies(world.server_config, data).manifest.extra
    world.server_import(data)
    assert _server_kinds(world) == []


def test_turning_acknowledge_on_import_on_releases_held_ones(world: World) -> None:
    submit_report(world.client)
    world.inbox_import(world.server_export())
    with world.inbox_session() as session:
        assert held_acks(session) == 1
    world.acknowledge_on_import()
    with world.inbox_session() as session:
        assert held_acks(session) == 0
    summary, _ = _export(world)
    assert summary.counts["acknowledgements"] == 1


def test_a_purged_case_holds_nothing_back(world: World) -> None:
    submit_report(world.client)
    world.inbox_import(world.server_export())
    config = world.inbox_config
    with world.inbox_session() as session:
        case_id = session.scalars(select(Case.id)).one()
        paths = purge_case(
            session,
            world.keyring,
            case_id,
            confirm=True,
            reason="Filed by mistake, nothing to investigate.",
            officer_id=1,
            now=config.clock(),
            today=config.today(),
            store_dir=config.store_dir,
        )
    for path in paths:
        path.unlink()
    summary, _ = _export(world)
    assert summary.counts["purge orders"] == 1
    assert "acknowledgements held back until a backup" not in summary.counts


def test_a_restored_inbox_picks_up_where_the_server_is(world: World, tmp_path: Path) -> None:
    """Lose the laptop after a backup: the new one gets back what came later, and its replies
    bundles are numbered after the ones the server applied from the lost laptop."""
    import dataclasses

    from whistle.inbox import db
    from whistle.inbox.backup import read_header, restore_backup, unlock_with_password
    from whistle.inbox.outgoing import queue_reply

    from .conftest import PASSWORD

    submit_report(world.client, description="Before the backup")
    world.inbox_import(world.server_export())
    backup = world.inbox_backup()
    submit_report(world.client, description="After the backup")
    world.inbox_import(world.server_export())
    with world.inbox_session() as session:
        case_id = session.scalars(select(Case.id)).first()
        assert case_id is not None
        queue_reply(
            session,
            world.keyring,
            case_id=case_id,
            message="Thank you.",
            files=[],
            now=world.inbox_config.clock(),
            store_dir=world.inbox_config.store_dir,
        )
    applied = world.server_import(world.inbox_export())  # replies bundle no. 1
    assert applied.counts["acknowledged records deleted"] == 1  # the backed-up one only
    assert _server_kinds(world) == ["reply", "submission"]

    # The laptop is lost. Restore the backup elsewhere.
    world.inbox_sessions.kw["bind"].dispose()
    target = tmp_path / "new-laptop"
    with backup.open("rb") as source:
        info = read_header(source)
        keyring = unlock_with_password(info, "admin", PASSWORD)
        restore_backup(source, info, keyring, target, now=world.inbox_config.clock())
    config = dataclasses.replace(world.inbox_config, data_dir=target)
    engine = db.make_engine(config.database_path)
    restored = dataclasses.replace(
        world, inbox_config=config, inbox_sessions=db.session_factory(engine)
    )
    again = restored.inbox_import(restored.server_export())
    assert again.counts["records imported"] == 1  # the report that came after the backup
    summary = restored.server_import(restored.inbox_export())  # numbered 2, not 1 again
    assert summary.sequence == 2
    assert summary.counts["acknowledged records deleted"] == 0  # the new one waits for a backup
    engine.dispose()
