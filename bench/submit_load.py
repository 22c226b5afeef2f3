"""Submissions against the real site under gunicorn: throughput, latency, errors, server RSS.

    .venv/bin/python bench/submit_load.py                      # all three parts
    .venv/bin/python bench/submit_load.py --parts text --text-reports 1000 --clients 16
    .venv/bin/python bench/submit_load.py --parts attach --attach-reports 40 --clients 4
    .venv/bin/python bench/submit_load.py --parts big --big-mib 1024

The site is made by ``whistle server init`` and served by gunicorn with
whistle/deploy/gunicorn.conf.py (2 gevent workers with per-connection deadlines) on a free
127.0.0.1 port. Each client is a JS-off browser: it GETs the report form (CSRF token and session
cookie), then POSTs the plain multipart form, on one keep-alive connection, a fresh cookie jar
per report. Bodies are generated as they are sent (a 1 MiB random block repeated), never held
whole in the client.

Parts: ``text`` (a 5 KB description, no file), ``attach`` (one attachment of --attach-mib),
``big`` (one upload of --big-mib with [limits] raised; skipped when the disk is short).
Figures: reports/s, latency of the whole report (GET form + POST) p50/p95/p99, errors, the
server's RSS (arbiter + workers, sampled from /proc every 20 ms): at the start and the peak.
The load average is printed with every figure: the machine may be shared.
"""

import argparse
import collections
import contextlib
import os
import resource
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from _server import (
    CODE,
    Browser,
    RssSampler,
    disk_free,
    latency_line,
    load_average,
    server_cpu,
    server_rss,
    site,
)

MIB = 1024 * 1024
DURABLE_POSTGRESQL = {"fsync": "on", "synchronous_commit": "on", "full_page_writes": "on"}
BOUNDARY = "----whistle-bench-" + secrets.token_hex(8)
BLOCK = os.urandom(MIB)


def _part(name: str, value: bytes, filename: str | None = None) -> bytes:
    disposition = f'form-data; name="{name}"'
    if filename is not None:
        disposition += f'; filename="{filename}"'
    head = f"--{BOUNDARY}\r\nContent-Disposition: {disposition}\r\n"
    if filename is not None:
        head += "Content-Type: application/octet-stream\r\n"
    return head.encode() + b"\r\n" + value + b"\r\n"


def report_body(csrf: str, description: str, file_bytes: int) -> tuple[int, Iterator[bytes]]:
    """(Content-Length, the body's pieces) of the report form as a browser sends it.

    With ``file_bytes`` > 0 one file of that size, made of a repeated random block as the
    pieces are sent; 0 sends the empty file field a browser sends when none is chosen.
    """
    head = (
        _part("csrf_token", csrf.encode())
        + _part("q_subject", b"Contractes partits")
        + _part("q_description", description.encode())
    )
    name = "evidence.bin" if file_bytes else ""
    file_head = (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="files"; filename="{name}"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n"
    ).encode()
    tail = b"\r\n" + b"".join(
        _part(f"q_{key}", b"") for key in ("name", "id_number", "email", "phone")
    )
    tail += _part("accept", b"yes") + f"--{BOUNDARY}--\r\n".encode()
    length = len(head) + len(file_head) + file_bytes + len(tail)

    def pieces() -> Iterator[bytes]:
        yield head + file_head
        left = file_bytes
        while left > 0:
            piece = BLOCK[: min(left, len(BLOCK))]
            left -= len(piece)
            yield piece
        yield tail

    return length, pieces()


@dataclass
class Run:
    latencies: list[float] = field(default_factory=list)
    post_latencies: list[float] = field(default_factory=list)
    errors: dict[str, int] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def error(self, what: str) -> None:
        with self.lock:
            self.errors[what] = self.errors.get(what, 0) + 1


def post_report(
    browser: Browser, csrf: str, description: str, file_bytes: int
) -> tuple[int, bytes]:
    """POST the report form as a JS-off browser does (body streamed); (status, page)."""
    length, body = report_body(csrf, description, file_bytes)
    status, data, _headers = browser.request(
        "POST",
        "/report",
        body=body,
        headers={
            "Content-Type": f"multipart/form-data; boundary={BOUNDARY}",
            "Content-Length": str(length),
        },
    )
    return status, data


def one_report(browser: Browser, run: Run, description: str, file_bytes: int) -> None:
    browser.cookie = ""  # a new source each time
    started = time.perf_counter()
    try:
        csrf = browser.csrf("/report")
        posted = time.perf_counter()
        status, data = post_report(browser, csrf, description, file_bytes)
    except Exception as exc:
        run.error(type(exc).__name__)
        return
    done = time.perf_counter()
    if status != 200 or CODE.search(data) is None:
        run.error(f"HTTP {status}")
        return
    with run.lock:
        run.latencies.append(done - started)
        run.post_latencies.append(done - posted)


def load(port: int, reports: int, clients: int, description: str, file_bytes: int) -> Run:
    run = Run()
    counter = iter(range(reports))
    counter_lock = threading.Lock()

    def client() -> None:
        browser = Browser(port)
        try:
            while True:
                with counter_lock:
                    if next(counter, None) is None:
                        return
                one_report(browser, run, description, file_bytes)
        finally:
            browser.close()

    threads = [threading.Thread(target=client) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return run


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


#: Leaf frames of gunicorn's idle threads (waiting for a request).
IDLE = frozenset({"_worker", "select", "accept", "poll", "wait_for_and_dispatch_events"})


def start_profilers(server: object, out: Path) -> list[subprocess.Popen[bytes]]:
    """py-spy (pip install py-spy) sampling every worker, until ``stop_profilers``."""
    spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    out.mkdir(parents=True, exist_ok=True)
    return [
        subprocess.Popen(
            [
                spy,
                "record",
                "-r",
                "100",
                "-f",
                "raw",
                "-o",
                str(out / f"{pid}.txt"),
                "-p",
                str(pid),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for pid in server.workers()  # type: ignore[attr-defined]
    ]


def stop_profilers(profilers: list[subprocess.Popen[bytes]], out: Path, top: int = 14) -> None:
    """Stop py-spy (SIGINT writes its file) and print where the workers' samples fell."""
    for profiler in profilers:
        profiler.send_signal(signal.SIGINT)
    for profiler in profilers:
        profiler.wait(timeout=60)
    leaf: collections.Counter[str] = collections.Counter()
    inclusive: collections.Counter[str] = collections.Counter()
    total = 0
    for path in out.glob("*.txt"):
        for line in path.read_text().splitlines():
            stack, _sep, count = line.rpartition(" ")
            if not count.isdigit():
                continue
            frames = [f.split(" (")[0] for f in stack.split(";")]
            if frames[-1] in IDLE or "wait" in frames[-1]:
                continue  # a thread waiting for work or for a connection
            total += int(count)
            leaf[frames[-1]] += int(count)
            for frame in set(frames):
                inclusive[frame] += int(count)
    if not total:
        print("  profile: no samples")
        return
    print(f"  profile (py-spy, {total} busy samples in the workers), self time:")
    for name, count in leaf.most_common(top):
        print(f"    {100 * count / total:5.1f} %  {name}")
    print("  inclusive:")
    for name, count in inclusive.most_common(top + 10):
        print(f"    {100 * count / total:5.1f} %  {name}")


def concurrent_part(
    label: str,
    port: int,
    server: object,
    reports: int,
    clients: int,
    file_bytes: int,
    profile: Path | None = None,
) -> None:
    description = ("Un contracte s'ha partit en tres per evitar el concurs. " * 90)[:5000]
    warm = load(port, min(clients * 2, reports), clients, description, file_bytes)  # warm-up
    if warm.errors:
        print(f"  warm-up errors: {warm.errors}")
    print(f"{label}: load average {load_average()} at the start")
    cpu = cpu_seconds()
    served = server_cpu(server)  # type: ignore[arg-type]
    profilers = start_profilers(server, profile) if profile else []
    with RssSampler(server) as rss:  # type: ignore[arg-type]
        started = time.perf_counter()
        run = load(port, reports, clients, description, file_bytes)
        elapsed = time.perf_counter() - started
    cpu = cpu_seconds() - cpu
    served = server_cpu(server) - served  # type: ignore[arg-type]
    if profile:
        stop_profilers(profilers, profile)
    done = len(run.latencies)
    print(
        f"  {reports} reports, {clients} clients, {elapsed:.2f} s: {done / elapsed:.1f} reports/s"
    )
    if file_bytes:
        print(f"  attachment bytes through the app: {done * file_bytes / elapsed / 1e6:.0f} MB/s")
    print(f"  report (GET form + POST): {latency_line(run.latencies)}")
    print(f"  POST alone:               {latency_line(run.post_latencies)}")
    print(f"  errors: {sum(run.errors.values())} {run.errors or ''}")
    print(
        f"  server RSS (arbiter + 2 workers): {rss.start / MIB:.1f} MiB at the start, "
        f"peak {rss.peak / MIB:.1f} MiB"
    )
    print(
        f"  server CPU (arbiter + workers): {served:.1f} s = "
        f"{1000 * served / max(done, 1):.1f} ms per report"
    )
    print(f"  client CPU (this process): {cpu:.1f} s of {elapsed:.1f} s")
    print(f"  load average {load_average()} at the end")


def big_part(scratch: Path, mib: int) -> None:
    size = mib * MIB
    # The ciphertext is spooled to a temporary file, then written into SQLite (WAL, then the
    # database): about three times the upload, plus room to spare.
    needed = 3 * size + 512 * MIB
    free = min(disk_free(scratch), disk_free(Path(tempfile.gettempdir())))
    if free < needed:
        print(
            f"big: skipped: {free / MIB:.0f} MiB free, a {mib} MiB upload needs about "
            f"{needed / MIB:.0f} MiB"
        )
        return
    limits = {
        "max_upload_bytes": size + 16 * MIB,
        "discard_cap_bytes": size + 32 * MIB,
        "storage_quota_bytes": 4 * size + 1024 * MIB,
    }
    with site(scratch / "big", limits) as server:
        browser = Browser(server.port, timeout=900)
        one_report(browser, Run(), "warm-up", 0)  # both workers will have served a page
        one_report(browser, Run(), "warm-up", 0)
        print(f"big: {mib} MiB in one report, load average {load_average()} at the start")
        before = server_rss(server)
        run = Run()
        with RssSampler(server) as rss:
            started = time.perf_counter()
            one_report(browser, run, "One large file.", size)
            elapsed = time.perf_counter() - started
        browser.close()
        if run.errors:
            print(f"  failed: {run.errors}")
            return
        print(f"  {elapsed:.1f} s: {size / elapsed / 1e6:.0f} MB/s through the app")
        print(
            f"  server RSS: {before / MIB:.1f} MiB before, peak {rss.peak / MIB:.1f} MiB, "
            f"growth {(rss.peak - before) / MIB:.1f} MiB"
        )
        print(f"  load average {load_average()} at the end")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--parts", default="text,attach,big", help="text, attach, big")
    parser.add_argument("--clients", type=int, default=16, help="concurrent text clients")
    parser.add_argument("--text-reports", type=int, default=1000)
    parser.add_argument("--attach-clients", type=int, default=4)
    parser.add_argument("--attach-reports", type=int, default=40)
    parser.add_argument("--attach-mib", type=int, default=10)
    parser.add_argument("--big-mib", type=int, default=1024)
    parser.add_argument(
        "--profile", action="store_true", help="sample the workers with py-spy (pip install)"
    )
    parser.add_argument(
        "--postgresql",
        action="store_true",
        help="text and attach parts on a private PostgreSQL cluster (durable settings)",
    )
    args = parser.parse_args()
    parts = set(args.parts.split(","))
    with (
        tempfile.TemporaryDirectory(prefix="whistle-bench-") as name,
        contextlib.ExitStack() as stack,
    ):
        scratch = Path(name)
        database_url = ""
        if args.postgresql:
            sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
            from tests.pgcluster import running_cluster

            # The tests' cluster trades durability for speed; a bench must not.
            cluster = stack.enter_context(running_cluster(DURABLE_POSTGRESQL))
            database_url = cluster.new_database()
            print("database: PostgreSQL (fsync, synchronous_commit, full_page_writes on)")
        if parts & {"text", "attach"}:
            with site(scratch / "site", database_url=database_url) as server:
                if "text" in parts:
                    concurrent_part(
                        "text (5 KB description)",
                        server.port,
                        server,
                        args.text_reports,
                        args.clients,
                        0,
                        scratch / "profile-text" if args.profile else None,
                    )
                if "attach" in parts:
                    concurrent_part(
                        f"attach ({args.attach_mib} MiB file)",
                        server.port,
                        server,
                        args.attach_reports,
                        args.attach_clients,
                        args.attach_mib * MIB,
                        scratch / "profile-attach" if args.profile else None,
                    )
                if "Traceback" in server.log_text():
                    print("the server logged a traceback:\n" + server.log_text()[-3000:])
        if "big" in parts:
            big_part(scratch, args.big_mib)


if __name__ == "__main__":
    main()
