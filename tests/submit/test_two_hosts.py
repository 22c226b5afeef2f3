"""Two submission hosts on one PostgreSQL, as behind Onionbalance (DESIGN §8).

Two gunicorn instances on different ports serve copies of one data directory (the
same secrets and database URL). 200 reports are sent as a browser with JavaScript
off sends them (the plain multipart form, over httpx), split across the two hosts,
a few at a time, while a loop runs `whistle server export` again and again and,
after each bundle, acknowledges exactly the records in it (what the inbox's
acknowledgement does: by id and hash), so the next bundle carries only what came
after. Afterwards every report was in exactly one bundle, and opens with the desk
key. A bundle that listed a record twice, missed one committed before it, or
carried half of one (its hash is checked) fails the test; so would an
acknowledgement that deleted a record the bundle did not carry.
"""

import io
import json
import re
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from tests.deploy.gunicorn_server import GUNICORN_CONF
from tests.pgcluster import Cluster
from tests.submit.conftest import CODE, TODAY, browser_report, csrf_from
from whistle.bundling import read_bundle_bytes
from whistle.crypto import (
    BoxKeyPair,
    Desk,
    ServerCard,
    generate_box_keypair,
    generate_signing_keypair,
    make_office_card,
    read_card,
    record_hash,
)
from whistle.crypto.records import open_submission
from whistle.submit import db, load_config, store
from whistle.submit.datadir import init_data_directory

pytestmark = pytest.mark.slow

REPORTS = 200
BATCHES = 4
EXPORT_DEADLINE = 120.0  # seconds; an export takes about one on a quiet machine
AT_ONCE = 8


def _gunicorn(data_dir: Path) -> tuple[int, subprocess.Popen[str]]:
    process = subprocess.Popen(
        [
            str(Path(sys.executable).with_name("gunicorn")),
            "--config",
            str(GUNICORN_CONF),
            "--log-level",
            "info",  # for the "Listening at" line that names the port
            "--bind",
            "127.0.0.1:0",
            "--workers",
            "2",
            "--no-control-socket",
            f'whistle.submit:app_from_directory("{data_dir}")',
        ],
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stderr is not None
    for line in process.stderr:
        found = re.search(r"Listening at: http://127\.0\.0\.1:(\d+)", line)
        if found:
            # Keep reading stderr so a full pipe never blocks the server.
            threading.Thread(target=process.stderr.read, daemon=True).start()
            return int(found.group(1)), process
    raise AssertionError("gunicorn did not start")


class Office:
    """An office whose bundle key this test keeps, to open the outbox bundles."""

    def __init__(self) -> None:
        self.desk: BoxKeyPair = generate_box_keypair()
        self.bundle: BoxKeyPair = generate_box_keypair()
        self.card = make_office_card(
            generate_signing_keypair().seed,
            name="Oficina",
            bundle_key=self.bundle.public_key,
            desks=[Desk("antifrau", "Antifrau", self.desk.public_key)],
            custodian_key=generate_box_keypair().public_key,
            epoch=1,
            created=TODAY.isoformat(),
        )
        self.fingerprint = read_card(self.card).fingerprint


@pytest.fixture
def hosts(tmp_path: Path, postgres_cluster: Cluster) -> Iterator[tuple[list[int], Path, Office]]:
    office = Office()
    url = postgres_cluster.new_database()
    first = tmp_path / "host-a"
    init_data_directory(first, office.card, fingerprint=office.fingerprint, database_url=url)
    second = tmp_path / "host-b"
    shutil.copytree(first, second)  # the secrets, config and cards, modes kept (0600)
    started = [_gunicorn(first), _gunicorn(second)]
    yield [port for port, _ in started], first, office
    for _, process in started:
        process.terminate()
        process.wait(timeout=30)


def _report(port: int, marker: str) -> str:
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=120) as client:
        page = client.get("/report")
        assert page.status_code == 200
        body, content_type = browser_report(
            csrf_from(page.text),
            subject=f"Informe {marker}",
            files=[(f"{marker}.txt", marker.encode() * 500)],
        )
        response = client.post("/report", content=body, headers={"Content-Type": content_type})
        assert response.status_code == 200, response.text
        found = CODE.search(response.text)
        assert found
        return found.group(1)


def test_two_hosts_200_reports_while_exporting_each_exported_once(
    hosts: tuple[list[int], Path, Office], tmp_path: Path
) -> None:
    ports, data_dir, office = hosts
    config = load_config(data_dir)
    server_card = read_card((data_dir / "server-card.json").read_bytes())
    assert isinstance(server_card, ServerCard)
    engine = db.make_engine(config.database_url)
    sessions = db.make_sessions(engine)
    whistle = str(Path(sys.executable).with_name("whistle"))
    bundles: list[list[tuple[str, str, bytes]]] = []  # (record id, case id, envelope) each
    sequences: list[int] = []  # the numbers of the bundles written (not those written again)
    done = threading.Event()

    def export_and_acknowledge() -> None:
        out = tmp_path / f"outbox-{len(bundles) + 1}.bundle"
        subprocess.run(
            [whistle, "server", "export", str(data_dir), "--out", str(out)],
            check=True,
            capture_output=True,
        )
        verified = read_bundle_bytes(
            out.read_bytes(),
            max_bytes=config.max_bundle_bytes,
            bundle_secret_key=office.bundle.secret_key,
            signer_public_key=server_card.signing_key,
            install_id=server_card.install_id,
            direction="outbox",
        )
        carried = [(r.id, r.case, r.envelope) for r in verified.records]
        # A new number when something changed; an empty outbox after an empty bundle is that
        # bundle again (the server reuses its last bundle when nothing changed).
        again = bool(bundles) and not bundles[-1] and not carried
        assert verified.manifest.sequence == (sequences[-1] if again else len(sequences) + 1)
        if not again:
            sequences.append(verified.manifest.sequence)
        with db.writing(sessions) as session:
            pairs = [(i, record_hash(envelope)) for i, _, envelope in carried]
            assert store.acknowledge(session, pairs) == len(carried)
        bundles.append(carried)

    def export_loop() -> None:
        while not done.is_set():
            export_and_acknowledge()

    def non_empty() -> int:
        return sum(1 for carried in list(bundles) if carried)

    markers = [f"m{n:03d}x" for n in range(REPORTS)]
    codes: list[str] = []
    batch = REPORTS // BATCHES
    with ThreadPoolExecutor(1) as exporter, ThreadPoolExecutor(AT_ONCE) as senders:
        looping = exporter.submit(export_loop)
        for first in range(0, REPORTS, batch):
            before = non_empty()
            numbers = range(first, first + batch)
            codes += senders.map(lambda n: _report(ports[n % 2], markers[n]), numbers)
            # However fast the machine, every batch reaches a bundle before the next starts,
            # while the exporter keeps running: the exports and the reports overlap.
            deadline = time.monotonic() + EXPORT_DEADLINE
            while non_empty() <= before and not looping.done():
                if time.monotonic() > deadline:
                    raise AssertionError("no export carried the last batch in time")
                time.sleep(0.05)
        done.set()
        looping.result()
    export_and_acknowledge()  # the bundle after the last report

    assert len(set(codes)) == REPORTS
    assert non_empty() >= BATCHES, "the exports did not overlap"
    every = [record_id for carried in bundles for record_id, _, _ in carried]
    assert len(every) == len(set(every)) == REPORTS  # each report in exactly one bundle
    with db.snapshot(sessions) as session:
        assert store.all_records(session) == []  # all acknowledged, nothing left behind
    found: list[str] = []
    for carried in bundles:
        for _, case, envelope in carried:
            opened = open_submission(
                io.BytesIO(envelope), [office.desk.secret_key], bytes.fromhex(case)
            )
            text = json.dumps(opened.form, ensure_ascii=False)
            found += [m for m in markers if f"Informe {m}" in text]
    assert sorted(found) == markers  # every report, once, decrypted
    engine.dispose()
