"""Load: 1,000 submissions from 20 concurrent sources against gunicorn, then every one delivered.

Nothing lost, nothing duplicated, no 5xx: each submission carries a unique marker and a unique
file; after the run the server's outbox is exported, imported into an inbox and decrypted.
"""

import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from tests.bundles.conftest import make_world
from tests.reliability.conftest import delivered, integrity, record, running, sent, submit
from whistle.crypto import KdfParams

pytestmark = pytest.mark.slow

SUBMISSIONS = 1000
CLIENTS = 20


def test_thousand_submissions_twenty_clients(
    tmp_path: Path, insecure_kdf_params: KdfParams
) -> None:
    world = make_world(tmp_path, insecure_kdf_params)
    statuses: dict[int, int] = {}
    codes: dict[int, str] = {}

    def source(worker: int) -> None:
        with httpx.Client(timeout=60) as http:
            for i in range(worker, SUBMISSIONS, CLIENTS):
                description, files = sent(i)
                status, code = submit(http, base, description=description, files=files)
                statuses[i] = status
                if status == 200:
                    codes[i] = code

    with running(world.server_dir, tmp_path / "gunicorn.log") as server:
        base = server.base
        started = time.monotonic()
        with ThreadPoolExecutor(CLIENTS) as pool:
            list(pool.map(source, range(CLIENTS)))
        submitting = time.monotonic() - started
        log = server.log_text()

    assert sorted(statuses) == list(range(SUBMISSIONS))
    assert set(statuses.values()) == {200}, {s for s in statuses.values() if s != 200}
    assert len(set(codes.values())) == SUBMISSIONS  # every source its own code
    assert "Traceback" not in log
    assert integrity(world.server_dir / "submit.sqlite3") == "ok"

    started = time.monotonic()
    seen = delivered(world)
    delivering = time.monotonic() - started
    assert sorted(seen) == list(range(SUBMISSIONS))  # nothing lost
    assert set(seen.values()) == {1}  # nothing duplicated
    record(
        "load",
        {
            "submissions": SUBMISSIONS,
            "clients": CLIENTS,
            "receipts": len(codes),
            "non_200": sum(s != 200 for s in statuses.values()),
            "delivered_once": sum(v == 1 for v in seen.values()),
            "seconds_submitting": round(submitting, 1),
            "seconds_export_import_decrypt": round(delivering, 1),
        },
    )
    world.app.extensions["whistle_submit"].engine.dispose()
    world.inbox_sessions.kw["bind"].dispose()
