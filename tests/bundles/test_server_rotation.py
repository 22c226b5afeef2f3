"""A server signing-key rotation, and a rebuilt server: the inbox re-pins the new card
(`whistle inbox trust-server --replace`, a manager signed in, audited) and the loop goes on."""

from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from tests.inbox.conftest import PASSWORD
from tests.submit.conftest import submit_report
from whistle.cli import main
from whistle.crypto import read_card
from whistle.errors import WhistleError
from whistle.inbox.models import AuditEvent, Case, Office
from whistle.inbox.officers import add_officer
from whistle.submit import create_app, load_config
from whistle.submit.datadir import init_data_directory

from .conftest import World
from .test_cli import _inbox_obj


def _switch_server(world: World, directory: Path) -> None:
    """The inbox's counterpart is now the server in ``directory`` (reloaded, as after a
    restart)."""
    world.app.extensions["whistle_submit"].engine.dispose()
    world.server_dir = directory
    world.server_config = load_config(directory)
    world.app = create_app(world.server_config)


def _cases(world: World) -> int:
    with world.inbox_session() as session:
        return len(list(session.scalars(select(Case.id))))


def _repin(world: World, tmp_path: Path, *extra: str):  # type: ignore[no-untyped-def]
    password = tmp_path / "password"
    password.write_text(PASSWORD)
    return CliRunner().invoke(
        main,
        [
            "inbox",
            "trust-server",
            str(world.inbox_config.data_dir),
            str(world.server_dir / "server-card.json"),
            "--yes",
            *extra,
        ],
        obj=_inbox_obj(world),
    )


def test_signing_key_rotation_and_repin(world: World, tmp_path: Path) -> None:
    submit_report(world.client)
    world.inbox_import(world.server_export())
    assert _cases(world) == 1
    old_fingerprint = read_card((world.server_dir / "server-card.json").read_bytes()).fingerprint

    rotated = CliRunner().invoke(
        main, ["server", "rotate-signing-key", str(world.server_dir), "--yes"]
    )
    assert rotated.exit_code == 0, rotated.output
    new_card = read_card((world.server_dir / "server-card.json").read_bytes())
    assert new_card.fingerprint in rotated.output
    assert new_card.fingerprint != old_fingerprint
    assert new_card.install_id == world.server_config.install_id
    _switch_server(world, world.server_dir)
    code = submit_report(world.client, subject="After the rotation")

    # Until the office re-pins, the new server's bundles are refused, nothing changed.
    with pytest.raises(WhistleError):
        world.inbox_import(world.server_export())
    assert _cases(world) == 1

    missing = _repin(world, tmp_path, "--replace")
    assert missing.exit_code == 2
    assert "--officer" in missing.output
    with world.inbox_session() as session:
        add_officer(
            session,
            world.inbox_config,
            name="berta",
            password=PASSWORD,
            roles=("officer",),
            keyring=world.keyring,
            custodian_keyring=None,
        )
    password = tmp_path / "password"
    refused = _repin(
        world, tmp_path, "--replace", "--officer", "berta", "--password-file", str(password)
    )
    assert refused.exit_code == 1
    assert "Only a system manager" in refused.output
    without = _repin(world, tmp_path)
    assert without.exit_code == 1
    assert "rotation" in without.output

    replaced = _repin(
        world, tmp_path, "--replace", "--officer", "admin", "--password-file", str(password)
    )
    assert replaced.exit_code == 0, replaced.output
    assert "replaced" in replaced.output
    with world.inbox_session() as session:
        office = session.scalar(select(Office))
        assert office.server_fingerprint == new_card.fingerprint
        [event] = session.scalars(
            select(AuditEvent).where(AuditEvent.action == "server-pin-replaced")
        )
        assert event.detail == f"{old_fingerprint} -> {new_card.fingerprint} (same install)"
    summary = world.inbox_import(world.server_export())
    assert summary.sequence == 3  # the numbering went on (number 2 was the refused one)
    assert _cases(world) == 2
    # Replies go the other way, sealed to the new bundle key.
    applied = world.server_import(world.inbox_export())
    assert applied is not None
    assert code  # the source's code is unchanged: same salt, pepper and database
    audit = CliRunner().invoke(
        main, ["inbox", "verify-audit", str(world.inbox_config.data_dir)], obj=_inbox_obj(world)
    )
    assert audit.exit_code == 0, audit.output


def test_repin_a_rebuilt_server_restarts_the_outbox_numbering(world: World, tmp_path: Path) -> None:
    for _ in range(2):
        submit_report(world.client)
        world.inbox_import(world.server_export())
    assert _cases(world) == 2
    # The server is rebuilt from nothing: a new install for the same office card.
    rebuilt = tmp_path / "rebuilt"
    with world.inbox_session() as session:
        card = session.scalar(select(Office)).card
    init_data_directory(rebuilt, card, fingerprint=read_card(card).fingerprint, language="en")
    _switch_server(world, rebuilt)
    submit_report(world.client, subject="On the rebuilt server")
    password = tmp_path / "password"
    replaced = _repin(
        world, tmp_path, "--replace", "--officer", "admin", "--password-file", str(password)
    )
    assert replaced.exit_code == 0, replaced.output
    assert "another install" in replaced.output
    summary = world.inbox_import(world.server_export())  # bundle number 1 again
    assert not summary.already_applied
    assert _cases(world) == 3
    same = _repin(
        world, tmp_path, "--replace", "--officer", "admin", "--password-file", str(password)
    )
    assert same.exit_code == 1
    assert "pinned already" in same.output
