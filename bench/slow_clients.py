"""Slow clients (slowloris) against the real site under gunicorn, as deployed.

    .venv/bin/python bench/slow_clients.py                          # 500 trickling, 1000 reports
    .venv/bin/python bench/slow_clients.py --slow 1000 --text-reports 2000

The site (``whistle server init``, gunicorn with deploy/gunicorn.conf.py: gevent workers with
per-connection deadlines, whistle/deploy/workers.py) on a free 127.0.0.1 port, SQLite in the data
directory. First without attack: text reports (5 KB description, JS-off: GET the form, POST
it) from --clients clients, reports/s and latency of the whole report. Then --slow connections
trickle one byte a second, half in their headers and half in a report's body; each one the
server cuts is replaced at once (an attacker who reconnects), so that many stay open
throughout. With them open: the landing page, one full JS-off report with a --file-kib file,
then the same text load again. Printed: reports/s, p50/p95/p99, server CPU per report and RSS
(arbiter + workers) for both, how many trickling connections the server cut (and after how
long), the fewest open at any moment, and the load average with each figure: the machine may
be shared.
"""

import argparse
import tempfile
import threading
import time
from pathlib import Path

from _server import (
    CODE,
    Browser,
    RssSampler,
    latency_line,
    load_average,
    percentile,
    server_cpu,
    site,
)
from submit_load import MIB, load, post_report

from tests.reliability.conftest import Tricklers

DESCRIPTION = ("Un contracte s'ha partit en tres per evitar el concurs. " * 90)[:5000]


def text_load(label: str, server: object, reports: int, clients: int) -> float:
    """The text load; prints its figures and returns its report p95 in ms."""
    port = server.port  # type: ignore[attr-defined]
    print(f"{label}: load average {load_average()} at the start")
    cpu = server_cpu(server)  # type: ignore[arg-type]
    with RssSampler(server) as rss:  # type: ignore[arg-type]
        started = time.perf_counter()
        run = load(port, reports, clients, DESCRIPTION, 0)
        elapsed = time.perf_counter() - started
    cpu = server_cpu(server) - cpu  # type: ignore[arg-type]
    done = len(run.latencies)
    print(
        f"  {reports} text reports, {clients} clients, {elapsed:.2f} s: "
        f"{done / elapsed:.1f} reports/s"
    )
    print(f"  report (GET form + POST): {latency_line(run.latencies)}")
    print(f"  errors: {sum(run.errors.values())} {run.errors or ''}")
    print(f"  server CPU: {1000 * cpu / max(done, 1):.1f} ms per report")
    print(
        f"  server RSS (arbiter + workers): {rss.start / MIB:.1f} MiB at the start, "
        f"peak {rss.peak / MIB:.1f} MiB"
    )
    print(f"  load average {load_average()} at the end")
    return percentile([s * 1000 for s in run.latencies], 0.95)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--slow", type=int, default=500, help="trickling connections")
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--text-reports", type=int, default=1000)
    parser.add_argument("--file-kib", type=int, default=512)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="whistle-bench-") as name, site(Path(name)) as server:
        load(server.port, args.clients * 2, args.clients, DESCRIPTION, 0)  # warm-up
        calm = text_load("without slow clients", server, args.text_reports, args.clients)

        tricklers = Tricklers(server.port, args.slow, keep_open=True)
        tricklers.open_all()
        trickling = threading.Thread(target=tricklers.run, daemon=True)
        trickling.start()
        try:
            print(
                f"{args.slow} trickling connections open ({args.slow // 2} headers, "
                f"{args.slow // 2} bodies), one byte a second each"
            )
            browser = Browser(server.port, timeout=60)
            started = time.perf_counter()
            status, page, _headers = browser.request("GET", "/")
            print(
                f"  landing page: HTTP {status} in {1000 * (time.perf_counter() - started):.0f} ms"
            )
            started = time.perf_counter()
            csrf = browser.csrf("/report")
            status, page = post_report(browser, csrf, "A report with a file.", args.file_kib * 1024)
            receipt = "a receipt" if status == 200 and CODE.search(page) else "NO receipt"
            print(
                f"  JS-off report with a {args.file_kib} KiB file: HTTP {status}, {receipt}, "
                f"{1000 * (time.perf_counter() - started):.0f} ms"
            )
            browser.close()
            attacked = text_load(
                f"with {args.slow} slow clients", server, args.text_reports, args.clients
            )
        finally:
            tricklers.stop.set()
            trickling.join(timeout=30)
        for kind, times in tricklers.cut.items():
            if times:
                print(
                    f"  {kind} tricklers cut by the server: {len(times)}, after "
                    f"{min(times):.1f}–{max(times):.1f} s"
                )
        print(f"  fewest trickling connections open at any moment: {tricklers.fewest_open}")
        print(f"  replacements the server did not accept within 30 s: {tricklers.refused}")
        print(f"report p95 with / without slow clients: {attacked / calm:.2f}x")
        if "Traceback" in server.log_text():
            print("the server logged a traceback:\n" + server.log_text()[-3000:])


if __name__ == "__main__":
    main()
