"""kill -9 while a bundle is being applied: the state is as before; applying again completes."""

import signal
import subprocess
import sys
import textwrap
from pathlib import Path

from sqlalchemy import select

from tests.submit.conftest import submit_report
from whistle.inbox.models import Case
from whistle.inbox.outgoing import queue_reply

from .conftest import World

SERVER_CHILD = textwrap.dedent(
    """
    import datetime, os, signal, sys
    from pathlib import Path
    from whistle.submit import bundles, db
    from whistle.submit.config import load_config

    real = bundles._purge
    def purge_then_die(*args, **kwargs):
        real(*args, **kwargs)  # every write of the bundle is done, none committed
        os.kill(os.getpid(), signal.SIGKILL)
    bundles._purge = purge_then_die

    config = load_config(sys.argv[1])
    sessions = db.make_sessions(db.make_engine(config.database_url))
    data = Path(sys.argv[2]).read_bytes()
    with sessions.begin() as session:
        bundles.apply_replies(session, config, data, today=datetime.date(2026, 11, 2))
    """
)

INBOX_CHILD = textwrap.dedent(
    """
    import datetime, os, signal, sys
    from pathlib import Path
    from whistle.inbox import bundles, db
    from whistle.inbox.config import InboxConfig
    from whistle.inbox.keyring import OfficeKeyring

    real = bundles._confirm
    def confirm_then_die(*args, **kwargs):
        real(*args, **kwargs)  # records imported and re-encrypted, not committed
        os.kill(os.getpid(), signal.SIGKILL)
    bundles._confirm = confirm_then_die

    config = InboxConfig(data_dir=Path(sys.argv[1]))
    keyring = OfficeKeyring.from_bytes(Path(sys.argv[3]).read_bytes())
    sessions = db.session_factory(db.make_engine(config.database_path))
    with db.transaction(sessions) as session:
        bundles.import_outbox(
            session, keyring, Path(sys.argv[2]).read_bytes(), store_dir=config.store_dir,
            now=datetime.datetime(2026, 11, 2, tzinfo=datetime.UTC),
        )
    """
)


def _run(script: str, *args: str) -> int:
    return subprocess.run(
        [sys.executable, "-c", script, *args], check=False, timeout=120
    ).returncode


def test_kill_while_the_server_applies(world: World, tmp_path: Path) -> None:
    world.acknowledge_on_import()  # the acknowledgement travels in the first replies bundle
    submit_report(world.client)
    world.inbox_import(world.server_export())
    with world.inbox_session() as session:
        case_id = session.scalars(select(Case.id)).one()
        queue_reply(
            session,
            world.keyring,
            case_id=case_id,
            message="Received.",
            files=[],
            now=world.inbox_config.clock(),
            store_dir=world.inbox_config.store_dir,
        )
    bundle = tmp_path / "replies.bundle"
    bundle.write_bytes(world.inbox_export())
    before = world.snapshot()["server"]
    assert _run(SERVER_CHILD, str(world.server_dir), str(bundle)) == -signal.SIGKILL
    assert world.snapshot()["server"] == before
    summary = world.server_import(bundle.read_bytes())
    assert summary.counts["replies stored"] == 1
    assert summary.counts["acknowledged records deleted"] == 1


def test_kill_while_the_inbox_applies(world: World, tmp_path: Path) -> None:
    submit_report(world.client)
    bundle = tmp_path / "outbox.bundle"
    bundle.write_bytes(world.server_export())
    keyring = tmp_path / "keyring"
    keyring.write_bytes(world.keyring.to_bytes())
    before = world.snapshot()["inbox"]
    code = _run(INBOX_CHILD, str(world.inbox_config.data_dir), str(bundle), str(keyring))
    assert code == -signal.SIGKILL
    assert world.snapshot()["inbox"] == before
    summary = world.inbox_import(bundle.read_bytes())
    assert summary.counts["records imported"] == 1
