"""Two submission hosts on one PostgreSQL, as behind Onionbalance (DESIGN §8).

Two gunicorn instances on different ports serve copies of one data directory (the
same secrets and database URL). 200 reports are sent as a browser with JavaScript
off sends them (the plain multipart form, over httpx), split across the two hosts,
a few at a time, while a loop exports again and again. Afterwards every report is
in the export exactly once and opens with the desk key.

`whistle server export` (bundles) is not on this branch yet: the exports here are
what store.py offers an export — ``all_records`` and ``read_record`` inside one
``db.snapshot`` — each export sending the records the earlier ones had not sent.
"""

import io
import json
import re
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from tests.pgcluster import Cluster
from tests.submit.conftest import CODE, Office, browser_report, csrf_from
from whistle.crypto import record_hash
from whistle.crypto.records import open_submission
from whistle.submit import db, load_config, store
from whistle.submit.datadir import init_data_directory
from whistle.submit.models import RecordKind

pytestmark = pytest.mark.slow

REPORTS = 200
AT_ONCE = 8


def _gunicorn(data_dir: Path) -> tuple[int, subprocess.Popen[str]]:
    process = subprocess.Popen(
        [
            str(Path(sys.executable).with_name("gunicorn")),
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


@pytest.fixture
def hosts(
    tmp_path: Path, office: Office, postgres_cluster: Cluster
) -> Iterator[tuple[list[int], Path]]:
    url = postgres_cluster.new_database()
    first = tmp_path / "host-a"
    init_data_directory(first, office.card, fingerprint=office.fingerprint, database_url=url)
    second = tmp_path / "host-b"
    shutil.copytree(first, second)  # the secrets, config and cards, modes kept (0600)
    started = [_gunicorn(first), _gunicorn(second)]
    yield [port for port, _ in started], first
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
    hosts: tuple[list[int], Path], office: Office
) -> None:
    ports, data_dir = hosts
    config = load_config(data_dir)
    engine = db.make_engine(config.database_url)
    sessions = db.make_sessions(engine)
    sent: set[str] = set()  # ids of records already in an earlier export
    exports: list[list[str]] = []
    done = threading.Event()

    def export_once() -> None:
        with db.snapshot(sessions) as session:
            listed = store.all_records(session)
            fresh = []
            for record in listed:
                if record.id in sent:
                    continue
                out = io.BytesIO()
                store.read_record(session, record.id, out)
                assert record_hash(out.getvalue()) == record.record_hash
                fresh.append(record.id)
            ids = [r.id for r in listed]
            assert len(ids) == len(set(ids))
            assert sent <= set(ids), "a record an earlier export saw has vanished"
        exports.append(fresh)
        sent.update(fresh)

    def export_loop() -> None:
        while not done.is_set():
            export_once()

    markers = [f"m{n:03d}x" for n in range(REPORTS)]
    with ThreadPoolExecutor(1) as exporter, ThreadPoolExecutor(AT_ONCE) as senders:
        looping = exporter.submit(export_loop)
        codes = list(senders.map(lambda n: _report(ports[n % 2], markers[n]), range(REPORTS)))
        done.set()
        looping.result()
    export_once()  # the export after the last report

    assert len(set(codes)) == REPORTS
    assert len(exports) >= 3, "the exports did not overlap the reports"
    every = [record_id for fresh in exports for record_id in fresh]
    assert len(every) == len(set(every)) == REPORTS  # each record exported exactly once
    desk_key = office.desks["antifrau"].secret_key
    found: list[str] = []
    with sessions() as session:
        records = {r.id: r for r in store.all_records(session)}
        assert set(records) == set(every)
        for record_id in every:
            record = records[record_id]
            assert record.kind == RecordKind.SUBMISSION
            out = io.BytesIO()
            store.read_record(session, record_id, out)
            out.seek(0)
            opened = open_submission(out, [desk_key], record.case_id)
            text = json.dumps(opened.form, ensure_ascii=False)
            found += [m for m in markers if f"Informe {m}" in text]
    assert sorted(found) == markers  # every report, once, decrypted
    engine.dispose()
