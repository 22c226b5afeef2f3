"""The inbox with many cases: unlock, case list, search over all content, dashboard, memory.

    .venv/bin/python bench/inbox_cases.py --cases 10000 [--fast-kdf]

Builds an office in a temporary directory, inserts N synthetic cases straight into the
database (each with a sealed record summary as import would write it; 30 % with a follow-up,
20 % with a sealed note, varied states and dates), then times the operations an officer's
morning is made of, in the same process and through the same functions the web app calls.
Prints figures; asserts nothing. ``--fast-kdf`` uses weak Argon2 (to time everything but the
unlock quickly); without it the unlock is the production one (256 MiB, 3 passes).
"""

import argparse
import os
import random
import resource
import secrets
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select, update

from whistle.crypto import KdfParams
from whistle.inbox import compartments, db, sealing
from whistle.inbox.case_announce import confirm_held, queue_case_keys
from whistle.inbox.cases import CaseFilters, list_cases
from whistle.inbox.config import InboxConfig, insecure_password_hash
from whistle.inbox.dashboard import dashboard
from whistle.inbox.keystore import KeyStore
from whistle.inbox.models import Case, CaseKey, Note, Outgoing, Record
from whistle.inbox.office_setup import init_office
from whistle.inbox.officers import sign_in
from whistle.inbox.outgoing import pending, split_pending

PASSWORD = "bench password for the inbox"  # noqa: S105 - a throwaway office
WORDS = [
    "contract",
    "invoice",
    "mayor",
    "council",
    "tender",
    "payment",
    "supplier",
    "works",
    "road",
    "school",
    "hospital",
    "permit",
    "licence",
    "inspector",
    "overtime",
    "hiring",
    "relative",
    "gift",
    "travel",
    "expenses",
    "audit",
    "budget",
]
STATES = ["new"] * 2 + ["acknowledged"] * 3 + ["investigating"] * 3 + ["closed"] * 4


def rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def sentence(rng: random.Random, n: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(n))


def populate(config: InboxConfig, n: int, today: date) -> str:
    rng = random.Random(7)
    engine = db.make_engine(config.database_path)
    needle_case = ""
    refs: dict[int, int] = {}
    with db.transaction(db.session_factory(engine)) as session:
        for i in range(n):
            case_id = secrets.token_hex(16)
            received = today - timedelta(days=rng.randrange(0, 730))
            status = rng.choice(STATES)
            refs[received.year] = refs.get(received.year, 0) + 1
            case = Case(
                id=case_id,
                desk_id=rng.choice(["antifraud", "ethics"]),
                status=status,
                received_day=received,
                last_activity_day=received,
                imported_at=datetime(2026, 1, 1),
                extended=False,
                ref_year=received.year,
                ref_number=refs[received.year],
            )
            if status != "new":
                case.acknowledged_day = received + timedelta(days=rng.randrange(0, 9))
            if status in ("investigating", "closed") and rng.random() < 0.7:
                case.investigation_day = received + timedelta(days=rng.randrange(5, 30))
            if status == "closed":
                case.closed_day = received + timedelta(days=rng.randrange(20, 120))
                case.outcome = rng.choice(["substantiated", "unsubstantiated", "inadmissible"])
            session.add(case)
            session.flush()
            # As import does: the case's own key, granted to its desk's compartment.
            case_public = compartments.new_case_key(session, case_id, case.desk_id)
            description = sentence(rng, 80)
            if i == n // 2:
                description += " NEEDLE-zebra-quartz"
                needle_case = case_id
            meta = {
                "record": secrets.token_hex(16),
                "kind": "submission",
                "desk": case.desk_id,
                "form": {
                    "language": "ca",
                    "fields": [
                        {"key": "subject", "label": "Subject", "value": sentence(rng, 6)},
                        {"key": "description", "label": "Description", "value": description},
                    ],
                },
                "reply_public_key": secrets.token_hex(32),
                "identification": secrets.token_hex(600),
                "files": [{"index": 0, "name": f"{rng.choice(WORDS)}.pdf", "size": 123456}],
            }
            session.add(
                Record(
                    id=meta["record"],
                    case_id=case_id,
                    kind="submission",
                    received_day=received,
                    original_hash=secrets.token_bytes(32),
                    original_size=200_000,
                    stored_name=secrets.token_hex(16) + ".wenv",
                    meta=sealing.seal_json(case_public, sealing.META, case_id, meta),
                    imported_at=datetime(2026, 1, 1),
                )
            )
            if rng.random() < 0.3:
                follow = {
                    "record": secrets.token_hex(16),
                    "kind": "followup",
                    "message": sentence(rng, 40),
                    "files": [],
                }
                session.add(
                    Record(
                        id=follow["record"],
                        case_id=case_id,
                        kind="followup",
                        received_day=received + timedelta(days=3),
                        original_hash=secrets.token_bytes(32),
                        original_size=4096,
                        stored_name=secrets.token_hex(16) + ".wenv",
                        meta=sealing.seal_json(case_public, sealing.META, case_id, follow),
                        imported_at=datetime(2026, 1, 1),
                    )
                )
            if rng.random() < 0.2:
                session.add(
                    Note(
                        case_id=case_id,
                        author_id=1,
                        created_at=datetime(2026, 1, 1),
                        body=sealing.seal_text(
                            case_public, sealing.NOTE, case_id, sentence(rng, 30)
                        ),
                    )
                )
    engine.dispose()
    return needle_case


def timed(label: str, fn: Callable[[], Any], runs: int = 3) -> Any:
    times: list[float] = []
    cpu: list[float] = []
    result = None
    for _ in range(runs):
        start, start_cpu = time.perf_counter(), time.process_time()
        result = fn()
        times.append((time.perf_counter() - start) * 1000)
        cpu.append((time.process_time() - start_cpu) * 1000)
    median = statistics.median(times)
    print(
        f"{label:<44} median {median:7.1f} ms wall, {statistics.median(cpu):7.1f} ms CPU"
        f"  (runs: {', '.join(f'{t:.0f}' for t in times)})  RSS {rss_mib():4.0f} MiB"
    )
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cases", type=int, default=10_000)
    parser.add_argument("--fast-kdf", action="store_true")
    args = parser.parse_args()
    print(f"load average: {os.getloadavg()}")
    today = date(2026, 11, 27)
    with tempfile.TemporaryDirectory() as tmp:
        options: dict[str, Any] = {}
        if args.fast_kdf:
            options = {
                "kdf_params": KdfParams(opslimit=1, memlimit=8 * 1024),
                "password_hash": insecure_password_hash(),
            }
        config = InboxConfig(
            data_dir=Path(tmp) / "office",
            clock=lambda: datetime(2026, 11, 27, 9, tzinfo=UTC),
            **options,
        )
        start = time.perf_counter()
        created = init_office(
            config,
            time_zone=config.time_zone,
            name="Bench office",
            desks=[("antifraud", "Anti-fraud"), ("ethics", "Ethics")],
            officer_name="admin",
            password=PASSWORD,
        )
        print(f"office init: {time.perf_counter() - start:.1f} s")
        engine = db.make_engine(config.database_path)
        start = time.perf_counter()
        needle = populate(config, args.cases, today)
        print(f"populate {args.cases} cases: {time.perf_counter() - start:.1f} s")
        del created
        sessions = db.session_factory(engine)
        print(f"RSS before unlock: {rss_mib():.0f} MiB (peak so far {peak_mib():.0f} MiB)")

        def unlock() -> Any:
            with db.transaction(sessions) as session:
                return sign_in(session, config, "admin", PASSWORD)

        signed = timed("unlock (sign in: hash check + unwrap)", unlock, runs=1)
        keystore = KeyStore(600, config.clock)
        cache = keystore.plaintext_cache

        def listing(query: str = "", use_cache: Any = cache) -> Any:
            with db.transaction(sessions) as session:
                return list_cases(
                    session,
                    signed.keyring,
                    CaseFilters(query=query),
                    today=today,
                    page_size=25,
                    cache=use_cache,
                    officer_id=signed.officer_id,
                )

        timed("case list, first after unlock (cold cache)", listing, runs=1)
        timed("case list, page 1 (warm)", listing, runs=5)
        timed("first search (builds the search index)", lambda: listing("needle-zebra"), runs=1)
        page = timed("search all content (warm cache)", lambda: listing("needle-zebra"))
        print(f"  search found {page.total} case(s); expected {needle[:8]}")
        cache.clear()
        timed("search all content (cold cache)", lambda: listing("needle-zebra"), runs=1)
        timed("search, no cache at all (CLI)", lambda: listing("needle-zebra", None), runs=1)

        def board() -> Any:
            with db.transaction(sessions) as session:
                return dashboard(
                    session,
                    signed.keyring,
                    today=today,
                    cache=cache,
                    officer_id=signed.officer_id,
                )

        result = timed("dashboard", board, runs=5)
        print(
            f"  dashboard: {result.total_attention} case(s) need attention, counts {result.counts}"
        )

        # What a replies export adds for case keys (protocol §17): the first one signs an
        # announcement per case; afterwards one query finds none to sign.
        def announce() -> Any:
            with db.transaction(sessions) as session:
                queued = queue_case_keys(session, signed.keyring, now=config.clock())
                sendable, _acks, held = split_pending(session, pending(session))
                return queued, len(sendable), len(held)

        queued, sendable, held = timed("case keys: first export's queue (signs all)", announce, 1)
        print(f"  queued {queued}; sendable {sendable}, held for a backup {held}")
        queued, sendable, held = timed("case keys: queue, all pending (none new)", announce)
        print(f"  queued {queued}; sendable {sendable}, held for a backup {held}")
        # What an outbox import adds: every case's newest announcement checked against what
        # the server says it holds (all named, all sent: every one confirmed).
        with db.transaction(sessions) as session:
            session.execute(update(Outgoing).values(bundle_sequence=1))
            held = {
                case_id: (generation, public)
                for case_id, generation, public in session.execute(
                    select(CaseKey.case_id, CaseKey.generation, CaseKey.public_key)
                )
            }

        def confirm() -> int:
            with db.transaction(sessions) as session:
                return len(confirm_held(session, held, now=config.clock()))

        made = timed("case keys: outbox names all held, all confirmed", confirm, 1)
        made = timed("case keys: outbox names all held, already confirmed", confirm)
        print(f"  new generations made: {made}")
        queued, _sendable, _held = timed("case keys: queue, all confirmed (none new)", announce)
        print(f"  queued {queued}")
        print(
            f"RSS now: {rss_mib():.0f} MiB; peak (includes Argon2's memory): {peak_mib():.0f} MiB"
        )
        engine.dispose()


if __name__ == "__main__":
    main()
