"""Slow clients against the real gunicorn as configured (deploy/gunicorn.conf.py).

200 connections trickle a byte a second: half never finish their headers, half send the
headers of a report and then trickle its body. While they are all open, the landing page
answers and a JS-off report with a file gets its receipt (it is then exported, imported and
decrypted in the inbox). Then every trickling connection is closed by the server, after the
deadlines in the config file (whistle/serving.py), and the log holds no traceback.
"""

import runpy
import selectors
import socket
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from tests.bundles.conftest import make_world
from tests.deploy.gunicorn_server import GUNICORN_CONF
from tests.reliability.conftest import delivered, running, sent, submit
from whistle.crypto import KdfParams
from whistle.serving import Deadlines

pytestmark = pytest.mark.slow

TRICKLERS = 200
#: Seconds between two bytes of a trickling connection (well under the idle deadline).
TICK = 1.0
#: Beyond the configured deadlines: how long the server may take to notice and close.
SLACK = 30.0
BOUNDARY = "slow-client-boundary"


def configured_deadlines() -> Deadlines:
    deadlines: Deadlines = runpy.run_path(str(GUNICORN_CONF))["worker_class"].deadlines
    return deadlines


def header_trickle_start() -> bytes:
    return b"GET / HTTP/1.1\r\nHost: x.onion\r\nX-Slow: "


def body_trickle_start() -> bytes:
    head = (
        f"POST /report HTTP/1.1\r\nHost: x.onion\r\n"
        f"Content-Type: multipart/form-data; boundary={BOUNDARY}\r\n"
        "Content-Length: 1000000\r\n\r\n"
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="q_description"\r\n\r\n'
    )
    return head.encode()


@dataclass
class Tricklers:
    """Connections that each send one byte per TICK until the server closes them."""

    port: int
    opened: dict[socket.socket, float] = field(default_factory=dict)
    kind: dict[socket.socket, str] = field(default_factory=dict)
    closed: dict[str, list[float]] = field(default_factory=lambda: {"headers": [], "body": []})
    lock: threading.Lock = field(default_factory=threading.Lock)
    stop: threading.Event = field(default_factory=threading.Event)

    def open(self, count: int) -> None:
        for i in range(count):
            sock = socket.create_connection(("127.0.0.1", self.port), timeout=10)
            kind = "headers" if i % 2 == 0 else "body"
            sock.sendall(header_trickle_start() if kind == "headers" else body_trickle_start())
            sock.setblocking(False)
            self.opened[sock] = time.monotonic()
            self.kind[sock] = kind

    def still_open(self) -> int:
        with self.lock:
            return len(self.opened)

    def _closed_by_server(self, sock: socket.socket) -> None:
        with self.lock:
            self.closed[self.kind[sock]].append(time.monotonic() - self.opened.pop(sock))
        sock.close()

    def run(self) -> None:
        """Trickle until every connection is closed by the server or ``stop`` is set."""
        with selectors.DefaultSelector() as selector:
            for sock in list(self.opened):
                selector.register(sock, selectors.EVENT_READ)
            next_tick = time.monotonic()
            while self.opened and not self.stop.is_set():
                for key, _ in selector.select(timeout=max(0.0, next_tick - time.monotonic())):
                    sock = key.fileobj
                    assert isinstance(sock, socket.socket)
                    try:
                        ended = not sock.recv(65536)  # a 400 page may come first, then EOF
                    except ConnectionError:
                        ended = True
                    if ended:
                        selector.unregister(sock)
                        self._closed_by_server(sock)
                if time.monotonic() >= next_tick:
                    next_tick += TICK
                    for sock in list(self.opened):
                        try:
                            sock.send(b"a")
                        except BlockingIOError:
                            pass
                        except ConnectionError:
                            selector.unregister(sock)
                            self._closed_by_server(sock)
            for sock in list(self.opened):
                sock.close()


def test_trickling_connections_neither_block_the_site_nor_stay_open(
    tmp_path: Path, insecure_kdf_params: KdfParams, database_url: str, db_backend: str
) -> None:
    deadlines = configured_deadlines()
    world = make_world(
        tmp_path, insecure_kdf_params, database_url="" if db_backend == "sqlite" else database_url
    )
    with running(world.server_dir, tmp_path / "gunicorn.log") as server:
        tricklers = Tricklers(server.port)
        tricklers.open(TRICKLERS)
        trickling = threading.Thread(target=tricklers.run, daemon=True)
        trickling.start()
        try:
            with httpx.Client(timeout=30) as http:
                landing = http.get(f"{server.base}/")
                description, files = sent(1)
                status, code = submit(http, server.base, description=description, files=files)
            # Both answered while every trickling connection was still held open.
            assert tricklers.still_open() == TRICKLERS
            assert landing.status_code == 200
            assert status == 200, code

            last = max(deadlines.first_request_seconds, deadlines.body_grace_seconds) + SLACK
            trickling.join(timeout=last)
            assert not trickling.is_alive(), f"{tricklers.still_open()} connections still open"
        finally:
            tricklers.stop.set()
            trickling.join(timeout=10)
        log = server.log_text()
    assert {kind: len(times) for kind, times in tricklers.closed.items()} == {
        "headers": TRICKLERS // 2,
        "body": TRICKLERS // 2,
    }
    assert "Traceback" not in log, log
    assert delivered(world) == {1: 1}
