"""Running a real gunicorn with deploy/gunicorn.conf.py, on a free loopback port, for tests."""

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.deploy.torrc import REPO

GUNICORN_CONF = REPO / "whistle" / "deploy" / "gunicorn.conf.py"
#: How long gunicorn may take to listen (about a second here).
START_DEADLINE = 30.0


@dataclass
class RunningGunicorn:
    port: int
    process: subprocess.Popen[bytes]
    log: Path

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")


def _listening(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


@contextmanager
def gunicorn(
    app_spec: str, port: int, log: Path, *extra: str, config: Path = GUNICORN_CONF
) -> Iterator[RunningGunicorn]:
    """gunicorn serving ``app_spec`` on 127.0.0.1:``port`` with the production config file
    (or ``config``, e.g. the one ``whistle server setup`` wrote).

    ``app_spec`` is what a systemd unit passes: ``module:app`` or ``module:factory("arg")``.
    stdout and stderr (gunicorn's error log) go to ``log``; stopped by PID with SIGTERM.
    """
    gunicorn_bin = Path(sys.executable).parent / "gunicorn"
    command = [
        str(gunicorn_bin),
        "--config",
        str(config),
        "--bind",
        f"127.0.0.1:{port}",
        *extra,
        app_spec,
    ]
    with log.open("wb") as out:
        process = subprocess.Popen(command, cwd=REPO, stdout=out, stderr=subprocess.STDOUT)
    running = RunningGunicorn(port, process, log)
    try:
        deadline = time.monotonic() + START_DEADLINE
        while not _listening(port):
            if process.poll() is not None:
                raise RuntimeError(
                    f"gunicorn exited with {process.returncode}:\n{running.log_text()}"
                )
            if time.monotonic() > deadline:
                raise RuntimeError(f"gunicorn not listening in time:\n{running.log_text()}")
            time.sleep(0.05)
        yield running
    finally:
        if process.poll() is None:
            os.kill(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=45)
        except subprocess.TimeoutExpired:
            os.kill(process.pid, signal.SIGKILL)
            process.wait(timeout=10)


def raw_request(port: int, request: bytes, timeout: float = 10.0) -> bytes:
    """Send ``request`` as is and return everything the server answers until it closes."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(request)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)
