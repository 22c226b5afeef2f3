"""The serving model: gunicorn's gevent worker with a deadline on every connection.

A connection that trickles its headers or its body holds one greenlet (a few tens of KB), not
a thread, so hundreds of them cannot crowd out the sources (docs/deployment.md, "Serving
model"). Cheap is not enough: every connection must also end. ``DeadlineSocket`` wraps each
accepted socket and hangs up when the client is too slow:

- the first request's headers must be complete within ``first_request_seconds`` of the
  connection opening, and each later request's within ``keepalive`` (gunicorn's setting) of
  the previous response: a total, however the bytes trickle;
- while a request body is read, no ``idle_seconds`` may pass without a byte, and after
  ``body_grace_seconds`` the body must have arrived at ``body_min_bytes_per_second`` on
  average (a trickle of a byte every few seconds is cut; a slow Tor upload is not);
- a client that reads no response for ``idle_seconds`` is cut too.

Hanging up looks like the client leaving: gunicorn's parser sees the end of the stream, and
an upload being read sees a short body (Werkzeug's ``ClientDisconnected``, so nothing is
stored and no traceback is logged). No request body is ever written to disk here: the app
reads it from the socket and encrypts it as it streams (whistle/submit/upload.py).

Only gevent and gunicorn are imported: the config file imports this module in the arbiter,
before any worker has patched the standard library.
"""

import errno
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext, suppress
from dataclasses import dataclass
from typing import Any

from gunicorn.workers.ggevent import GeventWorker


@dataclass(frozen=True)
class Deadlines:
    """How slow a client may be before the server hangs up (seconds, bytes per second)."""

    first_request_seconds: float
    idle_seconds: float
    body_grace_seconds: float
    body_min_bytes_per_second: float


class DeadlineSocket:
    """An accepted socket whose reads and writes end at the connection's deadlines."""

    def __init__(self, sock: Any, deadlines: Deadlines) -> None:
        self._sock = sock
        self._deadlines = deadlines
        self._headers_until = time.monotonic() + deadlines.first_request_seconds
        self._body_since: float | None = None
        self._body_bytes = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sock, name)

    def expect_headers(self, seconds: float) -> None:
        """The next request's headers (after any unread rest of a body) are due in ``seconds``."""
        self._headers_until = time.monotonic() + seconds
        self._body_since = None

    def expect_body(self) -> None:
        """A request's headers are in; its body (if any) is read from now on."""
        self._body_since = time.monotonic()
        self._body_bytes = 0

    def _read_timeout(self) -> float:
        d = self._deadlines
        if self._body_since is None:
            due = self._headers_until
        else:
            due = (
                self._body_since
                + d.body_grace_seconds
                + (self._body_bytes / d.body_min_bytes_per_second)
            )
        return min(d.idle_seconds, due - time.monotonic())

    def hang_up(self) -> None:
        with suppress(OSError):  # the client left first
            self._sock.shutdown(socket.SHUT_RDWR)

    def recv(self, size: int) -> bytes:
        timeout = self._read_timeout()
        if timeout <= 0:
            self.hang_up()
            return b""
        self._sock.settimeout(timeout)
        try:
            data: bytes = self._sock.recv(size)
        except TimeoutError:
            self.hang_up()
            return b""
        self._body_bytes += len(data)
        return data

    @contextmanager
    def _writing(self) -> Iterator[None]:
        self._sock.settimeout(self._deadlines.idle_seconds)
        try:
            yield
        except TimeoutError as exc:
            self.hang_up()
            # gunicorn ignores a broken pipe quietly: the client is gone, nothing to log.
            raise BrokenPipeError(errno.EPIPE, "the client read nothing in time") from exc

    def send(self, data: bytes) -> int:
        with self._writing():
            sent: int = self._sock.send(data)
        return sent

    def sendall(self, data: bytes) -> None:
        with self._writing():
            self._sock.sendall(data)

    def sendfile(self, file: Any, offset: int = 0, count: int | None = None) -> int:
        with self._writing():
            sent: int = self._sock.sendfile(file, offset, count)
        return sent


class DeadlineWorker(GeventWorker):  # type: ignore[misc]  # gunicorn has no types: Any
    """gunicorn's gevent worker, each connection wrapped in a ``DeadlineSocket``.

    When the worker stops (a restart, or recycling after ``max_requests``), connections that
    are between requests — idle keep-alives, headers still trickling — are closed at once:
    only requests under way get ``graceful_timeout``. Otherwise slow clients would keep a
    stopping worker, which no longer accepts, alive until their deadlines.
    """

    deadlines: Deadlines

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._between_requests: set[DeadlineSocket] = set()

    def timeout_ctx(self) -> Any:
        # gevent's worker bounds each header read by ``keepalive`` with a silent timeout; the
        # socket holds that deadline itself (a longer one for the first request).
        return nullcontext()

    def handle(self, listener: Any, client: Any, addr: Any) -> None:
        connection = DeadlineSocket(client, self.deadlines)
        self._between_requests.add(connection)
        try:
            super().handle(listener, connection, addr)
        finally:
            self._between_requests.discard(connection)

    def handle_request(self, listener_name: Any, req: Any, sock: Any, addr: Any) -> Any:
        self._between_requests.discard(sock)
        sock.expect_body()
        try:
            return super().handle_request(listener_name, req, sock, addr)
        finally:
            sock.expect_headers(self.cfg.keepalive)
            self._between_requests.add(sock)

    def notify(self) -> None:
        # Called every second by gevent's worker, also while it waits for requests to finish.
        super().notify()
        if not self.alive:
            for connection in list(self._between_requests):
                connection.hang_up()


def worker_with(deadlines: Deadlines) -> type[DeadlineWorker]:
    """The worker class for ``worker_class`` in gunicorn's config file, with these deadlines."""
    return type("WhistleWorker", (DeadlineWorker,), {"deadlines": deadlines})
