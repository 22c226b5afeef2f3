"""Check-in under a code-guessing flood, against the real site under gunicorn.

    .venv/bin/python bench/checkin_flood.py
    .venv/bin/python bench/checkin_flood.py --checkins 300 --flood-clients 8 --slots 4 --wait-ms 100
    .venv/bin/python bench/checkin_flood.py --slots 256 --wait-ms 0    # in effect no cap

The site (``whistle server init``, gunicorn with whistle/deploy/gunicorn.conf.py: 2 gevent
workers) gets --sources reports first; their codes are the legitimate check-ins. Then:

1. unloaded: one legitimate source checks in --checkins times in a row (GET the check-in form,
   POST the code as a JS-off browser does), and a page probe GETs the report form beside it;
2. flooded: the same while --flood-clients connections (in a separate process, so the flood's
   client work does not share the measuring process's interpreter lock) POST random codes,
   well-formed with a correct check symbol so that each one costs a derivation and a look-up,
   as fast as the server answers them.

Printed: legitimate check-in latency p50/p95 (the POST) and errors, the report form's latency
(the rest of the site), the flood's rate and its answers (422 unknown, 503 busy). The target
(issue 11): flooded legitimate p95 <= 3x the unloaded p95. The [limits] lookup_slots and
lookup_wait_ms are set from --slots and --wait-ms. Load averages are printed with each figure.
"""

import argparse
import multiprocessing
import tempfile
import threading
import time
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path

from _server import CODE, Browser, latency_line, load_average, percentile, site
from submit_load import post_report

from whistle.crypto import generate_code

FORM = {"Content-Type": "application/x-www-form-urlencoded"}


def make_sources(port: int, count: int) -> list[str]:
    """Send ``count`` short reports; their codes."""
    codes = []
    browser = Browser(port)
    for _ in range(count):
        browser.cookie = ""
        status, data = post_report(browser, browser.csrf("/report"), "A short report.", 0)
        found = CODE.search(data)
        if status != 200 or found is None:
            raise RuntimeError(f"a report failed: {status}")
        codes.append(found.group(1).decode())
    browser.close()
    return codes


@dataclass
class Probe:
    checkin: list[float] = field(default_factory=list)
    page: list[float] = field(default_factory=list)
    errors: dict[str, int] = field(default_factory=dict)

    def error(self, what: str) -> None:
        self.errors[what] = self.errors.get(what, 0) + 1


def legitimate(port: int, codes: list[str], checkins: int) -> Probe:
    """One source at a time checks in (a new tab each time); a page probe between them."""
    probe = Probe()
    browser = Browser(port)
    for i in range(checkins):
        browser.cookie = ""
        try:
            csrf = browser.csrf("/check-in")
            body = urllib.parse.urlencode({"csrf_token": csrf, "code": codes[i % len(codes)]})
            started = time.perf_counter()
            status, _data, _headers = browser.request("POST", "/check-in", body, FORM)
            took = time.perf_counter() - started
            if status == 200:
                probe.checkin.append(took)
            else:
                probe.error(f"check-in HTTP {status}")
            started = time.perf_counter()
            status, _data, _headers = browser.request("GET", "/report")
            took = time.perf_counter() - started
            if status == 200:
                probe.page.append(took)
            else:
                probe.error(f"report form HTTP {status}")
        except OSError as exc:
            probe.error(type(exc).__name__)
    browser.close()
    return probe


def flood(port: int, clients: int, stop: object, results: object) -> None:
    """Runs in its own process: ``clients`` connections POST random codes until ``stop``."""
    counts: dict[str, int] = {}
    lock = threading.Lock()

    def one() -> None:
        browser = Browser(port, timeout=30)
        csrf = browser.csrf("/check-in")
        mine: dict[str, int] = {}
        while not stop.is_set():  # type: ignore[attr-defined]
            body = urllib.parse.urlencode({"csrf_token": csrf, "code": generate_code()})
            try:
                status, _data, _headers = browser.request("POST", "/check-in", body, FORM)
                key = str(status)
            except OSError as exc:
                key = type(exc).__name__
            mine[key] = mine.get(key, 0) + 1
        browser.close()
        with lock:
            for key, value in mine.items():
                counts[key] = counts.get(key, 0) + value

    threads = [threading.Thread(target=one) for _ in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    results.put((counts, time.perf_counter() - started))  # type: ignore[attr-defined]


def report(label: str, probe: Probe) -> None:
    print(f"  {label} legitimate check-in (POST): {latency_line(probe.checkin)}")
    print(f"  {label} report form (GET):          {latency_line(probe.page)}")
    print(f"  {label} legitimate errors: {sum(probe.errors.values())} {probe.errors or ''}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sources", type=int, default=20, help="reports made first")
    parser.add_argument("--checkins", type=int, default=300, help="legitimate check-ins a run")
    parser.add_argument("--flood-clients", type=int, default=8)
    parser.add_argument("--slots", type=int, default=1, help="limits.lookup_slots")
    parser.add_argument("--wait-ms", type=int, default=1000, help="limits.lookup_wait_ms")
    args = parser.parse_args()
    limits = {"lookup_slots": args.slots, "lookup_wait_ms": args.wait_ms}
    context = multiprocessing.get_context("fork")
    with (
        tempfile.TemporaryDirectory(prefix="whistle-flood-") as name,
        site(Path(name), limits) as server,
    ):
        codes = make_sources(server.port, args.sources)
        legitimate(server.port, codes, 20)  # warm-up: both workers, their caches
        print(
            f"lookup_slots {args.slots} per worker (2 workers), lookup_wait_ms {args.wait_ms}; "
            f"{args.checkins} legitimate check-ins a run, {args.sources} sources"
        )
        print(f"unloaded: load average {load_average()} at the start")
        started = time.perf_counter()
        quiet = legitimate(server.port, codes, args.checkins)
        print(f"  {time.perf_counter() - started:.1f} s")
        report("unloaded", quiet)
        print(f"  load average {load_average()} at the end")

        stop = context.Event()
        results = context.Queue()
        flooder = context.Process(
            target=flood, args=(server.port, args.flood_clients, stop, results)
        )
        flooder.start()
        time.sleep(1.0)  # let the flood reach its pace before measuring
        print(
            f"flooded ({args.flood_clients} connections of random codes): "
            f"load average {load_average()} at the start"
        )
        loaded = legitimate(server.port, codes, args.checkins)
        stop.set()
        counts, seconds = results.get(timeout=120)
        flooder.join(timeout=30)
        report("flooded", loaded)
        total = sum(counts.values())
        print(
            f"  flood: {total} requests in {seconds:.1f} s = {total / seconds:.0f}/s; "
            f"answers {dict(sorted(counts.items()))}"
        )
        print(f"  load average {load_average()} at the end")
        if "Traceback" in server.log_text():
            print("the server logged a traceback:\n" + server.log_text()[-3000:])
    base = percentile(quiet.checkin, 0.95)
    flooded = percentile(loaded.checkin, 0.95)
    verdict = "met" if flooded <= 3 * base and not loaded.errors else "not met"
    print(
        f"target p95 flooded <= 3 x unloaded: {flooded * 1000:.1f} ms vs 3 x "
        f"{base * 1000:.1f} ms = {3 * base * 1000:.1f} ms, legit errors "
        f"{sum(loaded.errors.values())}: {verdict}"
    )


if __name__ == "__main__":
    main()
