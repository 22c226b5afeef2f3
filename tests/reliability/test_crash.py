"""SIGKILL under load: a gunicorn worker, and separately the master, while 50 uploads are in flight.

Each upload carries a unique marker and file. After the kill (and, for the master, a restart
like systemd's: the rest of the process group killed, gunicorn started again) the database
passes SQLite's integrity check, every submission that got a receipt is exported, imported
into the inbox and decrypts to what was sent, exactly once. A submission without a receipt is
visible only if its request was cut by the kill after the commit (the receipt lost on the
way back): it is then whole, never partial, and counted in the figures.
"""

import os
import re
import runpy
import signal
import socket
import subprocess
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from tests.bundles.conftest import make_world
from tests.deploy.gunicorn_server import GUNICORN_CONF
from tests.reliability.conftest import (
    CSRF,
    Server,
    delivered,
    free_port,
    gunicorn_command,
    integrity,
    record,
    running,
    sent,
    start,
    stop,
    submit,
)
from tests.submit.conftest import browser_report
from whistle.crypto import KdfParams

pytestmark = pytest.mark.slow

UPLOADS = 50
FILE_BYTES = 256 * 1024
#: The kill comes when this many receipts have arrived: the rest are queued or mid-upload.
KILL_AFTER = 8


def _storm(server: Server, kill: "callable[[], None]") -> dict[int, str | int | None]:  # type: ignore[valid-type]
    """50 concurrent uploads; ``kill`` runs once KILL_AFTER receipts are in.

    Returns {i: code | HTTP status | None for a connection cut}.
    """
    outcome: dict[int, str | int | None] = {}
    lock = threading.Lock()
    enough = threading.Event()

    def upload(i: int) -> None:
        description, files = sent(i, FILE_BYTES)
        with httpx.Client(timeout=60) as http:
            try:
                status, text = submit(http, server.base, description=description, files=files)
            except httpx.TransportError:
                result: str | int | None = None
            else:
                result = text if status == 200 else status
        with lock:
            outcome[i] = result
            if sum(isinstance(v, str) for v in outcome.values()) >= KILL_AFTER:
                enough.set()

    with ThreadPoolExecutor(UPLOADS) as pool:
        futures = [pool.submit(upload, i) for i in range(UPLOADS)]
        assert enough.wait(timeout=120), "no receipts before the kill"
        kill()
        for future in futures:
            future.result(timeout=180)
    return outcome


def _verify(world, outcome: dict[int, str | int | None], after: list[int]) -> dict[str, int]:  # type: ignore[no-untyped-def]
    assert integrity(world.server_dir / "submit.sqlite3") == "ok"
    seen = delivered(world, FILE_BYTES)
    receipted = {i for i, v in outcome.items() if isinstance(v, str)} | set(after)
    cut = {i for i, v in outcome.items() if v is None}
    refused = {i for i, v in outcome.items() if isinstance(v, int)}
    assert not [v for v in outcome.values() if isinstance(v, int) and v >= 500], outcome
    assert receipted <= set(seen), receipted - set(seen)  # every receipt delivered
    assert set(seen.values()) == {1}  # exactly once
    extra = set(seen) - receipted
    assert extra <= cut, extra - cut  # no receipt: visible only if cut after commit
    assert not set(seen) & refused
    return {
        "receipts": len(receipted),
        "cut": len(cut),
        "committed_receipt_lost": len(extra),
        "refused": len(refused),
    }


def _client_figures(after: int) -> list[int]:
    return list(range(UPLOADS, UPLOADS + after))


def _more(server: Server, numbers: list[int]) -> None:
    with httpx.Client(timeout=60) as http:
        for i in numbers:
            description, files = sent(i, FILE_BYTES)
            status, code = submit(http, server.base, description=description, files=files)
            assert status == 200, code


def _half_upload(server: Server, i: int) -> socket.socket:
    """Report ``i`` as a browser posts it, stopped half-way through its body."""
    http = httpx.Client(timeout=60)
    page = http.get(f"{server.base}/report")
    token = CSRF.search(page.text)
    assert token, page.text[:300]
    description, files = sent(i, FILE_BYTES)
    body, content_type = browser_report(token.group(1), description=description, files=files)
    cookies = "; ".join(f"{k}={v}" for k, v in http.cookies.items())
    http.close()
    head = (
        f"POST /report HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\n"
        f"Content-Type: {content_type}\r\nContent-Length: {len(body)}\r\n"
        f"Cookie: {cookies}\r\nConnection: close\r\n\r\n"
    ).encode()
    connection = socket.create_connection(("127.0.0.1", server.port), timeout=60)
    connection.sendall(head + body[: len(body) // 2])
    return connection


def _owner(server: Server, connection: socket.socket) -> int:
    """The worker holding the server end of ``connection`` (``ss -p``), once it accepted it."""
    client_port = connection.getsockname()[1]
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        shown = subprocess.run(
            [
                "ss",
                "-tnpH",
                "state",
                "established",
                f"( sport = :{server.port} and dport = :{client_port} )",
            ],
            capture_output=True,
            text=True,
            check=True,
            timeout=10,
        ).stdout
        found = re.search(r"pid=(\d+)", shown)
        if found and int(found.group(1)) in server.workers():
            return int(found.group(1))
        time.sleep(0.05)
    raise AssertionError("no worker accepted the half-sent upload")


def _cut(connection: socket.socket) -> bool:
    """Whether the server end went away without an answer."""
    try:
        return connection.recv(1) == b""
    except ConnectionResetError:
        return True
    finally:
        connection.close()


def _all_workers(server: Server) -> set[int]:
    """The workers, once as many as deploy/gunicorn.conf.py asks for have started."""
    wanted = runpy.run_path(str(GUNICORN_CONF))["workers"]
    deadline = time.monotonic() + 30
    while len(server.workers()) < wanted:
        assert time.monotonic() < deadline, f"{len(server.workers())} of {wanted} workers"
        time.sleep(0.05)
    return set(server.workers())


def _replacement(server: Server, before: set[int]) -> int:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        new = set(server.workers()) - before
        if new and len(server.workers()) == len(before):
            return new.pop()
        time.sleep(0.05)
    raise AssertionError(f"no new worker: {server.workers()} (before: {sorted(before)})")


def test_sigkill_a_worker(tmp_path: Path, insecure_kdf_params: KdfParams) -> None:
    """The kill cuts an upload (the one its worker holds half-read); the arbiter starts a
    new worker, and with every old worker stopped (SIGSTOP) the new one alone serves the
    next reports."""
    world = make_world(tmp_path, insecure_kdf_params)
    after = _client_figures(3)
    victim_upload = UPLOADS + len(after)
    killed: list[int] = []
    with running(world.server_dir, tmp_path / "gunicorn.log") as server:
        original = _all_workers(server)
        half = _half_upload(server, victim_upload)

        def kill() -> None:
            pid = _owner(server, half)
            os.kill(pid, signal.SIGKILL)
            killed.append(pid)

        outcome = _storm(server, kill)
        assert _cut(half), "the killed worker's upload was not cut"
        new = _replacement(server, original)
        survivors = original - set(killed)
        for pid in survivors:
            os.kill(pid, signal.SIGSTOP)
        try:
            _more(server, after)  # only the new worker can answer these
        finally:
            for pid in survivors:
                os.kill(pid, signal.SIGCONT)
        assert new in server.workers()
        assert killed[0] not in server.workers()
    # _verify: the half-sent report, with no receipt and not in the storm, never arrives.
    figures = _verify(world, outcome, after)
    assert figures["receipts"] >= KILL_AFTER + len(after)
    record(
        "crash-worker",
        {"uploads": UPLOADS, "kill_after_receipts": KILL_AFTER, "new_worker_served": 3, **figures},
    )


def test_sigkill_the_master(tmp_path: Path, insecure_kdf_params: KdfParams) -> None:
    world = make_world(tmp_path, insecure_kdf_params)
    after = _client_figures(3)
    port = free_port()
    server = start(gunicorn_command(world.server_dir, port), port, tmp_path / "gunicorn.log")
    try:

        def kill() -> None:
            os.kill(server.process.pid, signal.SIGKILL)
            server.process.wait(timeout=10)
            # What systemd does next: the rest of the unit's processes go too.
            os.killpg(server.process.pid, signal.SIGKILL)

        outcome = _storm(server, kill)
    finally:
        stop(server)
    assert any(v is None for v in outcome.values())  # the kill did cut uploads
    with running(world.server_dir, tmp_path / "restart.log") as restarted:
        _more(restarted, after)
    figures = _verify(world, outcome, after)
    assert figures["receipts"] >= KILL_AFTER + len(after)
    record("crash-master", {"uploads": UPLOADS, "kill_after_receipts": KILL_AFTER, **figures})
