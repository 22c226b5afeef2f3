"""Real gunicorn processes over a data directory, and sources that talk to them with httpx.

Every server here listens on 127.0.0.1 only, with whistle/deploy/gunicorn.conf.py; every client is
bounded (a fixed number of submissions, a timeout on each request).
"""

import os
import re
import selectors
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from tests.deploy.gunicorn_server import GUNICORN_CONF
from tests.deploy.torrc import REPO
from tests.submit.conftest import browser_report

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
CODE = re.compile(r'id="code">([^<]+)<')
#: Seconds gunicorn may take to listen (about a second here).
START_DEADLINE = 30.0


@dataclass
class Server:
    port: int
    process: subprocess.Popen[bytes]
    log: Path

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")

    def workers(self) -> list[int]:
        """PIDs of the arbiter's worker processes (its children)."""
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        try:
            return [int(p) for p in children.read_text().split()]
        except OSError:
            return []


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _listening(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


def gunicorn_command(data_dir: Path, port: int, *extra: str) -> list[str]:
    return [
        str(Path(sys.executable).parent / "gunicorn"),
        "--config",
        str(GUNICORN_CONF),
        "--bind",
        f"127.0.0.1:{port}",
        *extra,
        f'whistle.submit:app_from_directory("{data_dir}")',
    ]


def start(command: Sequence[str], port: int, log: Path) -> Server:
    """Start ``command`` (a gunicorn, perhaps wrapped) and wait until ``port`` listens."""
    with log.open("ab") as out:
        process = subprocess.Popen(
            list(command), cwd=REPO, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    server = Server(port, process, log)
    deadline = time.monotonic() + START_DEADLINE
    while not _listening(port):
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}:\n{server.log_text()}")
        if time.monotonic() > deadline:
            stop(server)
            raise RuntimeError(f"server not listening in time:\n{server.log_text()}")
        time.sleep(0.05)
    return server


def stop(server: Server) -> None:
    """SIGTERM the arbiter (SIGKILL its process group if it lingers); wait for it."""
    if server.process.poll() is None:
        os.kill(server.process.pid, signal.SIGTERM)
    try:
        server.process.wait(timeout=45)
    except subprocess.TimeoutExpired:
        os.killpg(server.process.pid, signal.SIGKILL)
        server.process.wait(timeout=10)
    # Workers orphaned by a SIGKILLed arbiter die with their group.
    with suppress(ProcessLookupError):
        os.killpg(server.process.pid, signal.SIGKILL)


@contextmanager
def running(data_dir: Path, log: Path, *extra: str) -> Iterator[Server]:
    port = free_port()
    server = start(gunicorn_command(data_dir, port, *extra), port, log)
    try:
        yield server
    finally:
        stop(server)


def _checked(response: httpx.Response) -> httpx.Response:
    """What every real-gunicorn answer must not say: a server banner, a client address."""
    if "server" in response.headers:
        raise AssertionError(f"a Server header: {response.headers['server']}")
    if "127.0.0.1" in response.text or "127.0.0.1" in str(response.headers):
        raise AssertionError("the client's address in a response")
    return response


def submit(
    http: httpx.Client,
    base: str,
    *,
    description: str,
    files: list[tuple[str, bytes]] | None = None,
) -> tuple[int, str]:
    """One report as a browser sends it: (status, code or page text).

    A fresh cookie jar each time (a new source). The code is returned only from a receipt.
    """
    http.cookies.clear()
    page = _checked(http.get(f"{base}/report"))
    if page.status_code != 200:
        return page.status_code, page.text
    csrf = CSRF.search(page.text)
    if csrf is None:
        raise AssertionError("no CSRF token on the report form")
    body, content_type = browser_report(csrf.group(1), description=description, files=files)
    response = _checked(
        http.post(f"{base}/report", content=body, headers={"Content-Type": content_type})
    )
    code = CODE.search(response.text)
    if response.status_code == 200 and code:
        return 200, code.group(1)
    return response.status_code, response.text


def sent(i: int, pad: int = 0) -> tuple[str, list[tuple[str, bytes]]]:
    """What submission ``i`` carries: a description and one file, both unique to ``i``."""
    content = f"{i}\n".encode() * 7 + b"\0" * pad
    return f"Report number {i}: RELIABILITY-{i:06d}", [(f"evidence-{i}.txt", content)]


MARK = re.compile(r"RELIABILITY-(\d{6})")


def delivered(world, pad: int = 0) -> dict[int, int]:  # type: ignore[no-untyped-def]
    """Export the server's outbox, import it into the inbox, and decrypt every case.

    Returns {submission number: how many times it arrived}; checks each file's content too.
    """
    from sqlalchemy import select

    from whistle.inbox.cases import case_detail
    from whistle.inbox.compartments import case_secrets
    from whistle.inbox.models import Case, Record
    from whistle.inbox.store import read_attachment

    summary = world.inbox_import(world.server_export())
    seen: dict[int, int] = {}
    today = world.inbox_config.clock().date()
    with world.inbox_session() as session:
        for case_id in session.scalars(select(Case.id)):
            detail = case_detail(session, world.keyring, case_id, today=today)
            keys = case_secrets(session, world.keyring, case_id)
            for entry in detail.entries:
                assert entry.error is None, entry.error
                text = " ".join(f["value"] for f in entry.form)
                found = MARK.search(text)
                assert found, f"a case without a marker: {text[:200]}"
                number = int(found.group(1))
                seen[number] = seen.get(number, 0) + 1
                record = session.get(Record, entry.record_id)
                name, content = read_attachment(
                    keys, record, 0, world.inbox_config.store_dir, limit=1 << 20
                )
                assert (name, content) == sent(number, pad)[1][0]
    assert sum(seen.values()) == summary.counts["records imported"]
    return seen


#: Where each test writes its figures for docs/reliability.md (git-ignored).
FIGURES = REPO / "test-artifacts" / "reliability"


def record(name: str, figures: dict[str, object]) -> None:
    """Keep a test's figures (one file per test: xdist workers never share one)."""
    import json

    FIGURES.mkdir(parents=True, exist_ok=True)
    (FIGURES / f"{name}.json").write_text(json.dumps(figures, indent=2, sort_keys=True) + "\n")


def integrity(database: Path) -> str:
    import sqlite3

    connection = sqlite3.connect(database)
    try:
        return str(connection.execute("PRAGMA integrity_check").fetchone()[0])
    finally:
        connection.close()


# The submission site's fixtures (an office, a data directory, an app) for the crawl.
from tests.bundles.conftest import world  # noqa: E402
from tests.submit.conftest import (  # noqa: E402
    _compiled_translations,
    app,
    client,
    config,
    data_dir,
    office,
)

__all__ = ["_compiled_translations", "app", "client", "config", "data_dir", "office", "world"]


# --- Slow clients: connections that trickle their headers or their body -------------------

SLOW_BOUNDARY = "slow-client-boundary"
#: What a trickling connection sends at once, by kind; then one byte per tick, for ever.
TRICKLE_START = {
    "headers": b"GET / HTTP/1.1\r\nHost: x.onion\r\nX-Slow: ",
    "body": (
        "POST /report HTTP/1.1\r\nHost: x.onion\r\n"
        f"Content-Type: multipart/form-data; boundary={SLOW_BOUNDARY}\r\n"
        "Content-Length: 1000000\r\n\r\n"
        f'--{SLOW_BOUNDARY}\r\nContent-Disposition: form-data; name="q_description"\r\n\r\n'
    ).encode(),
}


@dataclass
class Tricklers:
    """``count`` connections, half trickling headers and half a report's body, one byte each
    per ``tick`` seconds, until the server closes them (``run`` in a thread).

    With ``keep_open`` a connection the server closed is replaced at once by a new one of the
    same kind (an attacker who reconnects), so ``count`` stay open until ``stop`` is set.
    ``cut`` records, per kind, how long each closed connection had been open; ``refused``
    counts replacements the server did not accept in time.
    """

    port: int
    count: int
    tick: float = 1.0
    keep_open: bool = False
    stop: threading.Event = field(default_factory=threading.Event)
    cut: dict[str, list[float]] = field(default_factory=lambda: {"headers": [], "body": []})
    fewest_open: int = 0
    refused: int = 0
    _opened: dict[socket.socket, tuple[str, float]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def _open(self, kind: str) -> socket.socket:
        sock = socket.create_connection(("127.0.0.1", self.port), timeout=30)
        sock.sendall(TRICKLE_START[kind])
        sock.setblocking(False)
        with self._lock:
            self._opened[sock] = (kind, time.monotonic())
        return sock

    def open_all(self) -> None:
        for i in range(self.count):
            self._open("headers" if i % 2 == 0 else "body")
        self.fewest_open = self.count

    def still_open(self) -> int:
        with self._lock:
            return len(self._opened)

    def run(self) -> None:
        with selectors.DefaultSelector() as selector:

            def closed_by_server(sock: socket.socket) -> None:
                selector.unregister(sock)
                sock.close()
                with self._lock:
                    kind, since = self._opened.pop(sock)
                    self.cut[kind].append(time.monotonic() - since)
                    self.fewest_open = min(self.fewest_open, len(self._opened))
                if self.keep_open and not self.stop.is_set():
                    try:
                        selector.register(self._open(kind), selectors.EVENT_READ)
                    except OSError:
                        self.refused += 1  # the server accepted none in time

            for sock in list(self._opened):
                selector.register(sock, selectors.EVENT_READ)
            next_tick = time.monotonic()
            while self._opened and not self.stop.is_set():
                for key, _ in selector.select(timeout=max(0.0, next_tick - time.monotonic())):
                    sock = key.fileobj
                    assert isinstance(sock, socket.socket)
                    try:
                        ended = not sock.recv(65536)  # a 400 page may come first, then EOF
                    except BlockingIOError:
                        ended = False
                    except ConnectionError:
                        ended = True
                    if ended:
                        closed_by_server(sock)
                if time.monotonic() >= next_tick:
                    next_tick += self.tick
                    for sock in list(self._opened):
                        try:
                            sock.send(b"a")
                        except BlockingIOError:
                            pass
                        except ConnectionError:
                            closed_by_server(sock)
            with self._lock:
                for sock in self._opened:
                    sock.close()
