"""What the load benches share: a real submission site under gunicorn, its RSS, plain HTTP.

A data directory made by ``whistle server init`` from a fresh office card, served by gunicorn
with whistle/deploy/gunicorn.conf.py (2 gevent workers with per-connection deadlines) on a free
loopback port, stopped by PID. The clients speak HTTP/1.1 with ``http.client`` (keep-alive,
streamed bodies): much lighter than httpx, which matters when client and server share two cores.
"""

import http.client
import os
import re
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.reliability.conftest import Server, running  # noqa: E402
from tests.submit.conftest import make_office  # noqa: E402

CSRF = re.compile(rb'name="csrf_token" value="([^"]+)"')
CODE = re.compile(rb'id="code">([^<]+)<')


def load_average() -> str:
    """The 1, 5 and 15 minute load averages, as `uptime` prints them."""
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def make_data_directory(
    scratch: Path, limits: dict[str, int] | None = None, database_url: str = ""
) -> Path:
    """``whistle server init`` over a fresh office card; ``limits`` overrides [limits] keys;
    ``database_url`` a PostgreSQL database instead of SQLite in the directory."""
    office = make_office()
    scratch.mkdir(parents=True, exist_ok=True)
    card = scratch / "office-card.json"
    card.write_bytes(office.card)
    directory = scratch / "data"
    subprocess.run(
        [
            str(Path(sys.executable).parent / "whistle"),
            "server",
            "init",
            str(directory),
            "--office-card",
            str(card),
            "--fingerprint",
            office.fingerprint,
            "--language",
            "en",
            *(["--database-url", database_url] if database_url else []),
        ],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    if limits:
        config = directory / "config.toml"
        text = config.read_text()
        for key, value in limits.items():
            text, count = re.subn(rf"(?m)^{key} = \d+", f"{key} = {value}", text)
            if count == 0:
                text = text.replace("[limits]\n", f"[limits]\n{key} = {value}\n")
        config.write_text(text)
    return directory


@contextmanager
def site(
    scratch: Path, limits: dict[str, int] | None = None, database_url: str = ""
) -> Iterator[Server]:
    """The real site under gunicorn (whistle/deploy/gunicorn.conf.py) on a free loopback port."""
    directory = make_data_directory(scratch, limits, database_url)
    with running(directory, scratch / "gunicorn.log") as server:
        yield server


def disk_free(path: Path) -> int:
    return shutil.disk_usage(path).free


# --- Server memory: the arbiter and its workers, sampled from /proc -----------------------


def _rss(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def server_rss(server: Server) -> int:
    """Resident bytes of the gunicorn arbiter plus its workers, now."""
    return _rss(server.process.pid) + sum(_rss(pid) for pid in server.workers())


def _cpu_seconds(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    # utime and stime, fields 14 and 15 of proc(5), in clock ticks.
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def server_cpu(server: Server) -> float:
    """CPU seconds used so far by the gunicorn arbiter and its workers (user + system)."""
    return _cpu_seconds(server.process.pid) + sum(_cpu_seconds(p) for p in server.workers())


@dataclass
class RssSampler:
    """Samples ``server_rss`` every ``interval`` seconds in a thread; keeps the peak."""

    server: Server
    interval: float = 0.02
    start: int = 0
    peak: int = 0
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def __enter__(self) -> "RssSampler":
        self.start = self.peak = server_rss(self.server)
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.peak = max(self.peak, server_rss(self.server))

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self.peak = max(self.peak, server_rss(self.server))


# --- A JS-off browser, in plain HTTP/1.1 ------------------------------------------------


class Browser:
    """One keep-alive connection and one cookie jar (the session cookie), like a tab."""

    def __init__(self, port: int, timeout: float = 120.0) -> None:
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
        self.cookie = ""

    def close(self) -> None:
        self.connection.close()

    def request(
        self,
        method: str,
        path: str,
        body: bytes | Iterable[bytes] | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, bytes, dict[str, str]]:
        sent = dict(headers or {})
        if self.cookie:
            sent["Cookie"] = self.cookie
        try:
            self.connection.request(method, path, body=body, headers=sent)
            response = self.connection.getresponse()
            data = response.read()
        except (OSError, http.client.HTTPException):
            self.connection.close()  # reconnects on the next request
            raise
        cookie = response.getheader("Set-Cookie")
        if cookie:
            self.cookie = cookie.split(";", 1)[0]
        if response.getheader("Connection", "").lower() == "close":
            self.connection.close()
        return response.status, data, {k.lower(): v for k, v in response.getheaders()}

    def csrf(self, path: str) -> str:
        """GET a form page; its CSRF token (the session cookie is kept)."""
        try:
            status, data, _headers = self.request("GET", path)
        except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
            # A kept-alive connection the server had closed: a browser retries a GET.
            status, data, _headers = self.request("GET", path)
        found = CSRF.search(data)
        if status != 200 or found is None:
            raise RuntimeError(f"GET {path}: {status}, no CSRF token")
        return found.group(1).decode()


def percentile(values: list[float], fraction: float) -> float:
    """Nearest-rank percentile (no interpolation); 0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(1, round(fraction * len(ordered) + 0.5))
    return ordered[min(rank, len(ordered)) - 1]


def latency_line(seconds: list[float]) -> str:
    ms = [s * 1000 for s in seconds]
    return (
        f"p50 {percentile(ms, 0.50):.1f} ms, p95 {percentile(ms, 0.95):.1f} ms, "
        f"p99 {percentile(ms, 0.99):.1f} ms"
    )
