"""The four bundle commands and housekeeping, end to end on files."""

from pathlib import Path

from click.testing import CliRunner
from sqlalchemy import select

from tests.inbox.conftest import PASSWORD
from tests.submit.conftest import submit_report
from whistle.cli import main
from whistle.inbox.models import Case
from whistle.inbox.outgoing import queue_reply

from .conftest import World


def _inbox_obj(world: World) -> dict:  # type: ignore[type-arg]
    c = world.inbox_config
    return {
        "config": {
            "kdf_params": c.kdf_params,
            "password_hash": c.password_hash,
            "throttle": c.throttle,
            "clock": c.clock,
            "scratch_dir": c.scratch_dir,
        }
    }


def test_commands_carry_the_loop(world: World, tmp_path: Path) -> None:
    submit_report(world.client)
    password = tmp_path / "password"
    password.write_text(PASSWORD)
    runner = CliRunner()
    outbox = tmp_path / "outbox.bundle"
    result = runner.invoke(main, ["server", "export", str(world.server_dir), "--out", str(outbox)])
    assert result.exit_code == 0, result.output
    assert "submissions: 1" in result.output
    inbox_args = ["--officer", "admin", "--password-file", str(password)]
    data_dir = str(world.inbox_config.data_dir)
    result = runner.invoke(
        main, ["inbox", "import", data_dir, str(outbox), *inbox_args], obj=_inbox_obj(world)
    )
    assert result.exit_code == 0, result.output
    assert "records imported: 1" in result.output
    again = runner.invoke(
        main, ["inbox", "import", data_dir, str(outbox), *inbox_args], obj=_inbox_obj(world)
    )
    assert again.exit_code == 0, again.output
    assert "already applied" in again.output
    with world.inbox_session() as session:
        case_id = session.scalars(select(Case.id)).one()
        queue_reply(
            session,
            world.keyring,
            case_id=case_id,
            message="Noted.",
            files=[],
            now=world.inbox_config.clock(),
            store_dir=world.inbox_config.store_dir,
        )
    replies = tmp_path / "replies.bundle"
    result = runner.invoke(
        main,
        ["inbox", "export", data_dir, "--out", str(replies), *inbox_args],
        obj=_inbox_obj(world),
    )
    assert result.exit_code == 0, result.output
    assert "replies: 1" in result.output
    result = runner.invoke(main, ["server", "import", str(world.server_dir), str(replies)])
    assert result.exit_code == 0, result.output
    assert "replies stored: 1" in result.output
    result = runner.invoke(main, ["server", "housekeeping", str(world.server_dir)])
    assert result.exit_code == 0, result.output
    # A bundle fed to the wrong side is refused with a message, nothing changed.
    wrong = runner.invoke(main, ["server", "import", str(world.server_dir), str(outbox)])
    assert wrong.exit_code == 1
    assert "nothing was changed" in wrong.output
