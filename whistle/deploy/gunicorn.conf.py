"""gunicorn settings for the Whistle submission site, behind a tor onion service.

Installed as /etc/whistle/gunicorn.conf.py and named by deploy/whistle-submit.service. Every
setting says why it has its value; docs/deployment.md explains the whole picture. The courier
(deploy/whistle-courier.service) uses the same file with ``--bind 127.0.0.1:8081``: settings
given on gunicorn's command line win over this file.
"""

import signal
from collections.abc import Callable
from typing import Any

from gunicorn import glogging
from gunicorn.http import wsgi

from whistle.deploy.workers import Deadlines, worker_with

# --- Where it listens -----------------------------------------------------------------------

# Loopback only: tor's HiddenServicePort 80 127.0.0.1:8080 (torrc.example) is the one client.
bind = "127.0.0.1:8080"
# A short queue: connections only come from the local tor, which has its own limits.
backlog = 64

# --- Workers: slow clients cost a greenlet each, and every connection has deadlines ----------

# gevent workers (whistle/deploy/workers.py): each connection is a greenlet, so a source uploading
# over Tor at tens of KB/s, or an attacker trickling bytes, costs a few tens of KB, not a
# thread. The deadlines below end every connection whose client is too slow; no request body
# is buffered anywhere but in the app, which encrypts it as it streams.
worker_class = worker_with(
    Deadlines(
        # The first request's headers, complete, within this long of the connection opening.
        # Tor Browser sends them at once, one circuit round trip (about a second) after the
        # stream opens.
        first_request_seconds=15,
        # No byte of a body in this long (and no byte of a response read): hang up. Tor
        # circuits stall for seconds at a time, not for half a minute.
        idle_seconds=30,
        # After this long, a body must have come at body_min_bytes_per_second on average: a
        # trickle of a byte every few seconds is cut, an upload at a few KB/s is not.
        body_grace_seconds=20,
        body_min_bytes_per_second=2048,
    )
)
# Two processes on a small server; raise with the number of cores (and memory).
workers = 2
# Connections each process holds at once (sources, uploads, slow clients): 2 x 1000. Beyond
# that, new connections wait in the backlog until the deadlines free some. Each costs a file
# descriptor: LimitNOFILE in the systemd units leaves room for them.
worker_connections = 1000
# Seconds a worker may stay silent to the arbiter before it is killed and replaced. The
# heartbeat is a greenlet: a request that keeps the CPU this long (none does) would be cut.
timeout = 120
# On restart (upgrade, SIGHUP), give requests in flight this long to finish.
graceful_timeout = 30
# Seconds to keep an idle connection from tor open for the browser's next request: the next
# request's headers must be complete by then (whistle/deploy/workers.py).
keepalive = 5
# Recycle each worker after this many requests (bounded memory growth). A stopping worker no
# longer accepts, and uploads under way (or bodies trickling until their deadline) keep it up
# to graceful_timeout: a wide jitter keeps the two workers from stopping at the same time
# (with 2000 +- 200, under load both did, and the site stopped accepting for ~20 s).
max_requests = 20000
max_requests_jitter = 10000
# Build the app in each worker, not in the arbiter: no database connection or file handle is
# shared across fork. A start-up check that fails stops gunicorn before it serves anything.
preload_app = False

# --- Request limits (the app bounds bodies itself; gunicorn has no body limit) ----------------

# Longest request line (method, path, query): Whistle's URLs are short.
limit_request_line = 2048
# At most this many header fields; Tor Browser sends about a dozen.
limit_request_fields = 40
# Longest header field, cookies included.
limit_request_field_size = 8190

# --- What the server says about itself, and what it logs --------------------------------------

# No access log: no paths, times or user agents of sources on disk (docs/threat-model.md §3.9).
accesslog = None
# Errors go to stderr, that is the journal; "warning" keeps request details out of it.
errorlog = "-"
loglevel = "warning"
# The application's own print() output is not captured into the error log.
capture_output = False
# Name in `ps` (with setproctitle, a dependency), so an operator can tell the processes apart.
proc_name = "whistle-submit"
# Every file gunicorn creates (heartbeat files) is private to the whistle user.
umask = 0o077
# No runtime control socket (gunicorn >= 25): nothing may change workers from outside systemd.
control_socket_disable = True
# Trust X-Forwarded-* headers from nobody: tor connects from 127.0.0.1 but passes the source's
# headers through, so "trusted proxy 127.0.0.1" would let any visitor set them.
forwarded_allow_ips = ""
secure_scheme_headers: dict[str, str] = {}
# HTTP/1.1 only: what tor's onion service forwards.
http_protocols = "h1"


class _NoClientDetailsLogger(glogging.Logger):  # type: ignore[misc]  # gunicorn has no types
    """gunicorn's error log without a client's address or anything from its request.

    gunicorn logs a malformed request as "Invalid request from ip=…: <the request line>", and
    an error while handling one with its method and path; neither belongs in the journal
    (docs/threat-model.md §3.9). Each such line is logged without them.
    """

    def warning(self, msg: str, *args: Any, **kwargs: Any) -> None:
        if isinstance(msg, str) and msg.startswith("Invalid request from"):
            msg, args = "An invalid request was refused.", ()
        super().warning(msg, *args, **kwargs)

    def exception(self, msg: str, *args: Any, **kwargs: Any) -> None:
        if isinstance(msg, str) and msg.startswith("Error handling request"):
            msg, args = "Error handling a request.", ()
        super().exception(msg, *args, **kwargs)


logger_class = _NoClientDetailsLogger


def _without_server_header(
    default_headers: Callable[[Any], list[str]],
) -> Callable[[Any], list[str]]:
    """Wrap gunicorn's status-line-and-default-headers builder to leave out ``Server:``."""

    def default_headers_without_server(response: Any) -> list[str]:
        return [h for h in default_headers(response) if not h.lower().startswith("server:")]

    return default_headers_without_server


# gunicorn has no setting for its "Server: gunicorn" banner (docs/threat-model.md §3.9: no server
# banner). This file runs in the arbiter before it forks, so every worker inherits the change;
# tests/deploy checks the headers a real gunicorn sends with this file.
wsgi.Response.default_headers = _without_server_header(wsgi.Response.default_headers)


def post_fork(_server: Any, _worker: Any) -> None:
    """In a new worker: a stop signal before the worker has set its own handlers ends it.

    A forked worker inherits the arbiter's handlers, which only queue the signal for the
    arbiter's loop: a SIGTERM during the worker's boot (patching, loading the app) was lost, and
    the arbiter waited graceful_timeout before killing it. A worker that has served nothing can
    simply stop; its own handlers replace these once it has booted.
    """
    for stop in (signal.SIGTERM, signal.SIGINT, signal.SIGQUIT):
        signal.signal(stop, signal.SIG_DFL)
