"""``whistle demo``: a throwaway office and server on this machine, kept in sync.

For a newcomer to see the whole loop in one command: report in one tab, see the case
appear in the inbox in the other, reply, and read the reply with the code.

    DEMO ONLY — the office keys are wrapped with Argon2id at libsodium's minimum
    (fast, NOT SAFE), the password is printed on the terminal, and everything lives
    in a temporary directory that is deleted at the end (unless --data is given).
    Never use a demo office for real reports.

The submission site runs under gunicorn (the production server), the inbox and the
courier endpoint under Werkzeug on 127.0.0.1; a thread syncs through the courier
every few seconds. Ctrl-C stops everything.
"""

import ctypes
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from whistle.crypto import KdfParams
from whistle.deploy import GUNICORN_CONF

#: DEMO ONLY: the weakest Argon2id libsodium allows. Never used outside ``whistle demo``.
DEMO_INSECURE_KDF = KdfParams(opslimit=1, memlimit=8192)
DEMO_OFFICER = "demo"
SYNC_SECONDS = 3.0


@dataclass
class DemoSetup:
    root: Path
    inbox_dir: Path
    server_dir: Path
    password: str


def set_up(root: Path) -> DemoSetup:
    """A new office (insecure demo KDF) and a server that trust each other; courier on."""
    from whistle.inbox import db as inbox_db
    from whistle.inbox.office_setup import init_office, pin_server
    from whistle.inbox.settings import set_acknowledge_on_import
    from whistle.submit.datadir import init_data_directory

    inbox_dir, server_dir = root / "inbox", root / "server"
    password = secrets.token_urlsafe(12)
    config = inbox_config(inbox_dir)
    created = init_office(
        config,
        time_zone=config.time_zone,
        name="Demo office (DEMO ONLY)",
        desks=[("antifraud", "Anti-fraud office"), ("ethics", "Ethics desk")],
        officer_name=DEMO_OFFICER,
        password=password,
    )
    init_data_directory(server_dir, created.card, fingerprint=created.fingerprint, language="en")
    path = server_dir / "config.toml"
    path.write_text(
        path.read_text(encoding="utf-8").replace(
            "courier_enabled = false", "courier_enabled = true"
        ),
        encoding="utf-8",
    )
    engine = inbox_db.make_engine(config.database_path)
    try:
        with inbox_db.transaction(inbox_db.session_factory(engine)) as session:
            pin_server(session, config, (server_dir / "server-card.json").read_bytes())
            # The demo is throwaway: nothing to back up, so the server may delete a report
            # as soon as the inbox holds it (a real office waits for a backup by default).
            set_acknowledge_on_import(session, True, officer_id=None, now=config.clock())
    finally:
        engine.dispose()
    return DemoSetup(root, inbox_dir, server_dir, password)


def inbox_config(inbox_dir: Path) -> Any:
    from whistle.inbox.config import InboxConfig, insecure_password_hash

    scratch = Path("/dev/shm") if Path("/dev/shm").is_dir() else inbox_dir.parent  # noqa: S108
    return InboxConfig(
        data_dir=inbox_dir,
        kdf_params=DEMO_INSECURE_KDF,
        password_hash=insecure_password_hash(),
        default_language="en",
        idle_lock_seconds=60 * 60,
        scratch_dir=scratch,
    )


def start_gunicorn(server_dir: Path, port: int) -> subprocess.Popen[bytes]:
    """The submission site under gunicorn, as in production (whistle/deploy/gunicorn.conf.py)."""
    args = [sys.executable, "-m", "gunicorn", "--config", str(GUNICORN_CONF)]
    args += [
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        "1",
        "--name",
        "whistle-demo-submit",
        f"whistle.submit:app_from_directory({str(server_dir)!r})",
    ]
    return subprocess.Popen(args, start_new_session=True, preexec_fn=_die_with_parent)


_LIBC = ctypes.CDLL(None, use_errno=True)
_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    """In the child: the kernel sends SIGTERM when the demo process dies, however it dies.

    Runs between fork and exec while other threads exist: it only calls into libc.
    """
    _LIBC.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def _stop_on_sigterm(_signum: int, _frame: object) -> None:
    raise KeyboardInterrupt


class _QuietHandler(WSGIRequestHandler):
    """No access log on the terminal (and none anywhere else)."""

    def log_request(self, *args: object, **kwargs: object) -> None:
        pass


def _serve(app: Any, port: int) -> tuple[BaseWSGIServer, threading.Thread]:
    server = make_server("127.0.0.1", port, app, threaded=True, request_handler=_QuietHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    return server, thread


def _wait_for(url: str, proc: subprocess.Popen[bytes], seconds: float = 30.0) -> None:
    import httpx

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("the submission site (gunicorn) stopped at start-up")
        try:
            httpx.get(url, timeout=1.0)
            return
        except httpx.HTTPError:
            time.sleep(0.2)
    raise RuntimeError("the submission site did not start in time")


def sync_loop(
    setup: DemoSetup, courier_url: str, stop: threading.Event, say: Callable[[str], None]
) -> None:
    """Sync through the courier every few seconds until ``stop`` is set."""
    from whistle.errors import WhistleError
    from whistle.inbox import db as inbox_db
    from whistle.inbox.courier_client import client, sync
    from whistle.inbox.officers import sign_in

    config = inbox_config(setup.inbox_dir)
    engine = inbox_db.make_engine(config.database_path)
    sessions = inbox_db.session_factory(engine)
    with inbox_db.transaction(sessions) as session:
        keyring = sign_in(session, config, DEMO_OFFICER, setup.password).keyring
    try:
        with client(courier_url) as http:
            while not stop.is_set():
                try:
                    result = sync(http, sessions, keyring, config)
                    received = (
                        result.received.counts.get("records imported", 0) if result.received else 0
                    )
                    if received:
                        say(f"[sync] {received} new record(s) arrived in the inbox")
                    if result.sent and result.sent.counts.get("replies"):
                        say(f"[sync] {result.sent.counts['replies']} reply(ies) sent to the server")
                except WhistleError as exc:
                    say(f"[sync] {exc}")
                except Exception as exc:  # the demo keeps syncing (e.g. a busy database)
                    say(f"[sync] will retry: {type(exc).__name__}: {exc}")
                stop.wait(SYNC_SECONDS)
    finally:
        engine.dispose()


def run_demo(
    data: Path | None, submit_port: int, inbox_port: int, say: Callable[[str], None]
) -> None:
    from whistle.inbox import create_app as create_inbox
    from whistle.submit import load_config
    from whistle.submit.courier import create_courier_app

    temporary = data is None
    root = Path(tempfile.mkdtemp(prefix="whistle-demo-")) if data is None else data
    if not temporary and root.exists() and any(root.iterdir()):
        raise RuntimeError(f"{root} is not empty: give an empty or new directory")
    root.mkdir(parents=True, exist_ok=True)
    gunicorn: subprocess.Popen[bytes] | None = None
    servers: list[tuple[BaseWSGIServer, threading.Thread]] = []
    stop = threading.Event()
    signal.signal(signal.SIGTERM, _stop_on_sigterm)  # `kill` stops it as Ctrl-C does
    try:
        say("Setting up a throwaway office and server (DEMO ONLY: insecure, fast key wrapping)…")
        setup = set_up(root)
        courier_app = create_courier_app(load_config(setup.server_dir))
        courier = _serve(courier_app, 0)
        servers.append(courier)
        courier_url = f"http://127.0.0.1:{courier[0].server_port}"
        servers.append(_serve(create_inbox(inbox_config(setup.inbox_dir)), inbox_port))
        gunicorn = start_gunicorn(setup.server_dir, submit_port)
        _wait_for(f"http://127.0.0.1:{submit_port}/", gunicorn)
        syncer = threading.Thread(
            target=sync_loop, args=(setup, courier_url, stop, say), daemon=True
        )
        syncer.start()
        say("")
        say(f"  Report (the source's site):  http://127.0.0.1:{submit_port}/")
        say(f"  Inbox (the officers' app):   http://localhost:{inbox_port}/")
        say(f"  Sign in to the inbox as:     {DEMO_OFFICER}")
        say(f"  Password:                    {setup.password}")
        say(f"  Data (deleted at the end):   {root}" if temporary else f"  Data: {root}")
        say("")
        say("Send a report, watch it arrive in the inbox, reply, then check in with the code.")
        say(f"The inbox syncs with the server every {SYNC_SECONDS:g} s. Ctrl-C stops everything.")
        while gunicorn.poll() is None:
            time.sleep(0.5)
        say("The submission site stopped.")
    except KeyboardInterrupt:
        say("\nStopping…")
    finally:
        stop.set()
        if gunicorn is not None and gunicorn.poll() is None:
            os.killpg(gunicorn.pid, signal.SIGTERM)
            try:
                gunicorn.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(gunicorn.pid, signal.SIGKILL)
        for server, thread in servers:
            server.shutdown()
            thread.join(timeout=5)
        if temporary:
            shutil.rmtree(root, ignore_errors=True)
