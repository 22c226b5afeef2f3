"""The inbox at 10,000 cases, two or more versions of the code side by side.

    .venv/bin/python bench/inbox_compare.py --tree before=/path/to/old/checkout \\
        --tree now=. [--cases 10000] [--rounds 15]
    .venv/bin/python bench/inbox_compare.py --tree now=. --profile   # cProfile of each operation

On a shared machine two runs one after the other are not comparable (the load changes
between them). Here one worker process per tree (``PYTHONPATH`` chooses the code) builds the
same office with that tree's own ``bench/inbox_cases.populate`` (same seed, so the same
cases), signs in, searches once (building the index), and then waits. The driver asks each
worker in turn for one operation at a time — the order of the trees shuffled each round —
so load hits every version alike; each reply is the CPU time of the worker process for that
one call. Medians over the rounds. Operations (those a tree lacks are skipped):

    list        case list, page 1, warm key store cache
    overdue     the list of overdue cases only (a filter the database cannot apply)
    search      search all content, warm cache (one hit)
    common      a search with thousands of hits ("contract"), warm cache
    cli         search with no cache at all (the command line)
    dashboard   the dashboard for the signed-in officer (with their news where the tree has it)
    board-bare  the dashboard without an officer (no news: like for like with a tree without)
"""

import argparse
import cProfile
import gc
import importlib.util
import inspect
import json
import os
import pstats
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

OPERATIONS = ("list", "overdue", "search", "common", "cli", "dashboard", "board-bare")
TODAY = date(2026, 11, 27)
SELF = str(Path(__file__).resolve())  # the workers run from their own tree's directory


def _kwargs(fn: Callable[..., Any], **wanted: Any) -> dict[str, Any]:
    """The keyword arguments ``fn`` takes, of ``wanted`` (older trees take fewer)."""
    accepted = inspect.signature(fn).parameters
    return {k: v for k, v in wanted.items() if k in accepted}


def worker(tree: Path, cases: int) -> None:
    """One tree's office, answering "OPERATION" lines on stdin with one JSON line each."""
    spec = importlib.util.spec_from_file_location("tree_bench", tree / "bench/inbox_cases.py")
    if spec is None or spec.loader is None:
        raise SystemExit(f"no bench/inbox_cases.py in {tree}")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    from sqlalchemy import select

    from whistle.crypto import KdfParams
    from whistle.inbox import db
    from whistle.inbox.cases import CaseFilters, list_cases
    from whistle.inbox.config import InboxConfig, insecure_password_hash
    from whistle.inbox.dashboard import dashboard
    from whistle.inbox.keystore import KeyStore
    from whistle.inbox.models import Office
    from whistle.inbox.office_setup import init_office
    from whistle.inbox.officers import sign_in

    tmp = tempfile.TemporaryDirectory()
    config = InboxConfig(
        data_dir=Path(tmp.name) / "office",
        clock=lambda: datetime(2026, 11, 27, 9, tzinfo=UTC),
        kdf_params=KdfParams(opslimit=1, memlimit=8 * 1024),
        password_hash=insecure_password_hash(),
    )
    init_office(
        config,
        time_zone=config.time_zone,
        name="Bench office",
        desks=[("antifraud", "Anti-fraud"), ("ethics", "Ethics")],
        officer_name="admin",
        password=bench.PASSWORD,
    )
    engine = db.make_engine(config.database_path)
    sessions = db.session_factory(engine)
    if "storage_public" in inspect.signature(bench.populate).parameters:  # before desks
        with db.transaction(sessions) as session:
            storage_public = session.scalar(select(Office.storage_public_key))
        bench.populate(config, storage_public, cases, TODAY)
    else:
        bench.populate(config, cases, TODAY)
    with db.transaction(sessions) as session:
        signed = sign_in(session, config, "admin", bench.PASSWORD)
    cache = KeyStore(600, config.clock).plaintext_cache

    def listing(query: str = "", use_cache: Any = cache, overdue: bool = False) -> Any:
        with db.transaction(sessions) as session:
            page = list_cases(
                session,
                signed.keyring,
                CaseFilters(query=query, overdue=overdue),
                today=TODAY,
                page_size=25,
                **_kwargs(list_cases, cache=use_cache, officer_id=signed.officer_id),
            )
            return f"{page.total} cases, first {page.cases[0].subject[:20] if page.cases else ''}"

    def board(officer: bool) -> Any:
        with db.transaction(sessions) as session:
            wanted: dict[str, Any] = {"cache": cache}
            if officer:
                wanted["officer_id"] = signed.officer_id
            result = dashboard(session, signed.keyring, today=TODAY, **_kwargs(dashboard, **wanted))
            return f"{result.total_attention} waiting, {len(result.rows)} rows"

    operations: dict[str, Callable[[], Any]] = {
        "list": listing,
        "overdue": lambda: listing(overdue=True),
        "search": lambda: listing("needle-zebra"),
        "common": lambda: listing("contract"),
        "cli": lambda: listing("needle-zebra", None),
        "board-bare": lambda: board(False),
    }
    if "officer_id" in inspect.signature(dashboard).parameters:
        operations["dashboard"] = lambda: board(True)
    for fn in operations.values():  # builds the search index, fills the cache
        fn()
    print(json.dumps({"ready": sorted(operations)}), flush=True)
    for line in sys.stdin:
        name, _, mode = line.strip().partition(" ")
        if name not in operations:
            print(json.dumps({"skipped": name}), flush=True)
            continue
        gc.collect()  # the previous call's garbage is not this one's cost
        if mode == "profile":
            profile = cProfile.Profile()
            profile.enable()
            operations[name]()
            profile.disable()
            stats = pstats.Stats(profile, stream=sys.stderr)
            print(f"\n===== {tree.name}: {name}", file=sys.stderr)
            stats.sort_stats("cumulative").print_stats(35)
            print(json.dumps({"profiled": name}), flush=True)
            continue
        wall, cpu = time.perf_counter(), time.process_time()
        answer = operations[name]()
        print(
            json.dumps(
                {
                    "cpu": (time.process_time() - cpu) * 1000,
                    "wall": (time.perf_counter() - wall) * 1000,
                    "answer": answer,
                }
            ),
            flush=True,
        )
    engine.dispose()
    tmp.cleanup()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tree", action="append", default=[], help="NAME=PATH")
    parser.add_argument("--cases", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--only", default=",".join(OPERATIONS))
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(Path(args.worker), args.cases)
        return
    trees = dict(t.split("=", 1) for t in args.tree) or {"here": "."}
    wanted = [op for op in args.only.split(",") if op]
    print(f"load average at start: {os.getloadavg()}")
    workers: dict[str, subprocess.Popen[str]] = {}
    for name, path in trees.items():
        root = Path(path).resolve()
        workers[name] = subprocess.Popen(
            [sys.executable, SELF, "--worker", str(root), "--cases", str(args.cases)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONPATH": str(root)},
            cwd=root,
        )
    has: dict[str, list[str]] = {}
    for name, proc in workers.items():
        assert proc.stdout is not None
        has[name] = json.loads(proc.stdout.readline())["ready"]

    def ask(name: str, request: str) -> dict[str, Any]:
        proc = workers[name]
        assert proc.stdin is not None
        assert proc.stdout is not None
        proc.stdin.write(request + "\n")
        proc.stdin.flush()
        reply: dict[str, Any] = json.loads(proc.stdout.readline())
        return reply

    if args.profile:
        for op in wanted:
            for name in workers:
                if op in has[name]:
                    ask(name, f"{op} profile")
    else:
        rng = random.Random(1)
        cpu: dict[tuple[str, str], list[float]] = {}
        wall: dict[tuple[str, str], list[float]] = {}
        answers: dict[tuple[str, str], str] = {}
        loads = []
        for _ in range(args.rounds):
            loads.append(os.getloadavg()[0])
            for op in wanted:
                order = list(workers)
                rng.shuffle(order)
                for name in order:
                    if op not in has[name]:
                        continue
                    reply = ask(name, op)
                    cpu.setdefault((name, op), []).append(reply["cpu"])
                    wall.setdefault((name, op), []).append(reply["wall"])
                    answers[(name, op)] = reply["answer"]
        print(
            f"{args.cases} cases, {args.rounds} rounds interleaved; load average (1 min) "
            f"{min(loads):.1f}–{max(loads):.1f}; medians, ms (CPU of the worker / wall)"
        )
        print(f"{'operation':<12}" + "".join(f"{name:>22}" for name in workers))
        for op in wanted:
            cells = []
            for name in workers:
                if (name, op) in cpu:
                    c, w = statistics.median(cpu[name, op]), statistics.median(wall[name, op])
                    cells.append(f"{c:9.1f} / {w:7.1f}")
                else:
                    cells.append("—")
            print(f"{op:<12}" + "".join(f"{cell:>22}" for cell in cells))
        print("answers (a check that every tree did the same work):")
        for (name, op), answer in sorted(answers.items(), key=lambda item: item[0][::-1]):
            print(f"  {op:<12} {name:<10} {answer}")
    for proc in workers.values():
        assert proc.stdin is not None
        proc.stdin.close()
        proc.wait()


if __name__ == "__main__":
    main()
