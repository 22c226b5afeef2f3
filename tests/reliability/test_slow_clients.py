"""Slow clients against the real gunicorn as configured (deploy/gunicorn.conf.py).

200 connections trickle a byte a second: half never finish their headers, half send the
headers of a report and then trickle its body. While they are all open, the landing page
answers and a JS-off report with a file gets its receipt (it is then exported, imported and
decrypted in the inbox). Then every trickling connection is closed by the server, after the
deadlines in the config file (whistle/deploy/workers.py), and the log holds no traceback. On SQLite
and on PostgreSQL (psycopg under gevent).
"""

import http.client
import runpy
import signal
import socket
import threading
import time
from pathlib import Path

import httpx
import pytest

from tests.bundles.conftest import make_world
from tests.deploy.gunicorn_server import GUNICORN_CONF
from tests.reliability.conftest import (
    TRICKLE_START,
    Tricklers,
    delivered,
    record,
    running,
    sent,
    submit,
)
from whistle.crypto import KdfParams
from whistle.deploy.workers import Deadlines

pytestmark = pytest.mark.slow

TRICKLERS = 200
#: Beyond the configured deadlines: how long the server may take to notice and close.
SLACK = 30.0


def configured_deadlines() -> Deadlines:
    deadlines: Deadlines = runpy.run_path(str(GUNICORN_CONF))["worker_class"].deadlines
    return deadlines


def test_trickling_connections_neither_block_the_site_nor_stay_open(
    tmp_path: Path, insecure_kdf_params: KdfParams, database_url: str, db_backend: str
) -> None:
    deadlines = configured_deadlines()
    world = make_world(
        tmp_path, insecure_kdf_params, database_url="" if db_backend == "sqlite" else database_url
    )
    with running(world.server_dir, tmp_path / "gunicorn.log") as server:
        # The arbiter listens before its workers have booted: wait for a worker to answer, so
        # that 200 connections at once do not overflow the listen backlog meanwhile.
        with httpx.Client(timeout=60) as http:
            assert http.get(f"{server.base}/").status_code == 200
        tricklers = Tricklers(server.port, TRICKLERS)
        tricklers.open_all()
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
    assert {kind: len(times) for kind, times in tricklers.cut.items()} == {
        "headers": TRICKLERS // 2,
        "body": TRICKLERS // 2,
    }
    # Not before the deadlines either (a slow source is not cut early); 1 s for the time
    # between the server's accept and the client's clock starting.
    assert min(tricklers.cut["headers"]) >= deadlines.first_request_seconds - 1
    assert min(tricklers.cut["body"]) >= deadlines.body_grace_seconds - 1
    assert "Traceback" not in log, log
    assert delivered(world) == {1: 1}
    record(
        f"slow_clients_{db_backend}",
        {
            f"{kind} cut after (s)": [round(min(times), 1), round(max(times), 1)]
            for kind, times in tricklers.cut.items()
        },
    )


def test_a_stopping_worker_closes_waiting_connections_and_finishes_requests_under_way(
    tmp_path: Path, insecure_kdf_params: KdfParams
) -> None:
    """SIGTERM: connections between requests (kept alive, or headers trickling) are closed at
    once — before their own deadlines, which the test above shows are kept otherwise — while
    an upload under way on the same worker is still read to its end and answered."""
    deadlines = configured_deadlines()
    world = make_world(tmp_path, insecure_kdf_params)
    with running(world.server_dir, tmp_path / "gunicorn.log", "--workers", "1") as server:
        kept_alive = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
        kept_alive.request("GET", "/")
        response = kept_alive.getresponse()
        assert response.status == 200
        response.read()
        idle = kept_alive.sock
        assert idle is not None
        uploading = socket.create_connection(("127.0.0.1", server.port), timeout=30)
        start = TRICKLE_START["body"]
        body = b"x" * 1000
        length = len(start.split(b"\r\n\r\n", 1)[1]) + len(body)
        uploading.sendall(start.replace(b"1000000", str(length).encode()))
        trickling = socket.create_connection(("127.0.0.1", server.port), timeout=30)
        trickling.sendall(TRICKLE_START["headers"])
        opened = time.monotonic()

        server.process.send_signal(signal.SIGTERM)
        assert idle.recv(65536) == b""  # closed by the server (a timeout here would raise)
        assert trickling.recv(65536) == b""
        assert time.monotonic() - opened < deadlines.first_request_seconds - 1
        uploading.sendall(body)
        answer = uploading.recv(65536)
        assert answer.startswith(b"HTTP/1.1 400"), answer[:200]  # no CSRF token: refused
        assert server.process.wait(timeout=60) == 0
        for sock in (idle, uploading, trickling):
            sock.close()
