"""A full disk and a read-only data directory under a real gunicorn.

Made with ``unshare -m`` (FIELD-NOTES: chmod does not stop root): gunicorn runs in its own
mount namespace where the data directory is a small tmpfs (disk full) or a bind mount that is
remounted read-only while it serves. The test reaches into that namespace with ``nsenter`` to
fill the disk, free it, and check the database. The source must get a clear page (503, not a
500 and not a reset), nothing may be corrupted, and it must work again afterwards.
"""

import hashlib
import io
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from tests.reliability.conftest import (
    CSRF,
    Server,
    _checked,
    free_port,
    gunicorn_command,
    integrity,
    record,
    running,
    start,
    stop,
    submit,
)
from tests.submit.conftest import Office, browser_report, make_office
from whistle.crypto import derive_source_keys, login_lookup
from whistle.crypto.records import open_submission
from whistle.submit import create_app, load_config, store
from whistle.submit.datadir import init_data_directory

pytestmark = pytest.mark.slow

#: The tmpfs the data directory lives on: room for the database and a few reports.
TMPFS_BYTES = 24 * 1024 * 1024
UNAVAILABLE = "cannot use its storage"
#: The ext4 image of the in-flight read-only test (sparse), and how many reports are half-way
#: through their bodies when it turns read-only, and how many arrive after.
EXT4_BYTES = 64 * 1024 * 1024
IN_FLIGHT = 3
AFTER = 2


def _in_namespace(server: Server, *command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["nsenter", "-t", str(server.process.pid), "-m", "--", *command],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@contextmanager
def _served(
    tmp_path: Path, setup: str, office: Office | None = None
) -> Iterator[tuple[Server, Path, Office]]:
    data = tmp_path / "data"
    if office is None:
        office = make_office()
        init_data_directory(data, office.card, fingerprint=office.fingerprint, language="en")
    port = free_port()
    command = " ".join(f"'{part}'" for part in gunicorn_command(data, port))
    script = setup.format(data=data, copy=tmp_path / "copy") + f" && exec {command}"
    server = start(
        ["unshare", "-m", "--propagation", "private", "--", "sh", "-ec", script],
        port,
        tmp_path / "gunicorn.log",
    )
    try:
        yield server, data, office
    finally:
        stop(server)


def _check(server: Server, data: Path, office: Office, codes: list[str], out: Path) -> None:
    """Integrity check inside the namespace, then every receipted report opens from a copy."""
    check = _in_namespace(
        server,
        sys.executable,
        "-c",
        "import sqlite3,sys; c=sqlite3.connect(sys.argv[1]);"
        "print(c.execute('PRAGMA integrity_check').fetchone()[0])",
        str(data / "submit.sqlite3"),
    )
    assert check.stdout.strip() == "ok", check
    copied = _in_namespace(server, "cp", "-a", f"{data}/.", str(out))
    assert copied.returncode == 0, copied.stderr
    _open_all(out, office, codes)


def _open_all(out: Path, office: Office, codes: list[str]) -> None:
    """Every receipted report is in the copy ``out`` and opens with the desk key."""
    app = create_app(load_config(out))
    state = app.extensions["whistle_submit"]
    try:
        for code in codes:
            keys = derive_source_keys(code, state.config.install_salt)
            with state.sessions() as session:
                case_id = store.find_case(
                    session, login_lookup(keys.login_token, state.config.pepper)
                )
                assert case_id is not None, code
                [record] = store.case_records(session, case_id)
                buffer = io.BytesIO()
                store.read_record(session, record.id, buffer)
            opened = open_submission(
                io.BytesIO(buffer.getvalue()), [office.desks["antifrau"].secret_key], case_id
            )
            assert opened.files
    finally:
        state.engine.dispose()


def _report(http: httpx.Client, server: Server, n: int, size: int = 20_000) -> tuple[int, str]:
    return submit(
        http,
        server.base,
        description=f"report {n}",
        files=[(f"f{n}.bin", bytes([n % 256]) * size)],
    )


def test_disk_full(tmp_path: Path) -> None:
    setup = (
        "mkdir -p {copy} && cp -a {data}/. {copy}/ && "
        f"mount -t tmpfs -o size={TMPFS_BYTES},mode=0700 tmpfs {{data}} && "
        "cp -a {copy}/. {data}/"
    )
    with _served(tmp_path, setup) as (server, data, office), httpx.Client(timeout=60) as http:
        codes = []
        for n in range(3):
            status, code = _report(http, server, n)
            assert status == 200, code
            codes.append(code)
        fill = _in_namespace(server, "dd", "if=/dev/zero", f"of={data}/filler", "bs=1M")
        assert "No space left" in fill.stderr, fill.stderr
        refused = 0
        for n in range(3, 8):
            status, page = _report(http, server, n, size=600_000)
            assert status == 503, (status, page[:500])
            assert UNAVAILABLE in page
            refused += 1
        # Reading still works while the disk is full: the landing page, the check-in form.
        assert _checked(http.get(f"{server.base}/")).status_code == 200
        assert _checked(http.get(f"{server.base}/check-in")).status_code == 200
        _check(server, data, office, codes, tmp_path / "while-full")

        assert _in_namespace(server, "rm", f"{data}/filler").returncode == 0
        for n in range(8, 10):
            status, code = _report(http, server, n, size=600_000)
            assert status == 200, code
            codes.append(code)
        _check(server, data, office, codes, tmp_path / "after")
        assert refused == 5
        record(
            "disk-full",
            {"tmpfs_bytes": TMPFS_BYTES, "before": 3, "refused_503": refused, "after": 2},
        )
        assert "Traceback" not in server.log_text()


def test_read_only_data_directory(tmp_path: Path) -> None:
    """The data directory's file system goes read-only (ext4 errors=remount-ro) and the
    service is restarted on it: pages still load, reports get the 503 page, nothing changes;
    restarted on a writable directory, it takes reports again."""
    office = make_office()
    data = tmp_path / "data"
    init_data_directory(data, office.card, fingerprint=office.fingerprint, language="en")
    codes = []
    with running(data, tmp_path / "before.log") as server, httpx.Client(timeout=60) as http:
        for n in range(2):
            status, code = _report(http, server, n)
            assert status == 200, code
            codes.append(code)
    before = _digest(data)

    setup = "mount --bind {data} {data} && mount -o remount,bind,ro {data}"
    with _served(tmp_path, setup, office) as (server, _, _), httpx.Client(timeout=60) as http:
        assert _in_namespace(server, "touch", f"{data}/probe").returncode != 0  # really ro
        for url in ("/", "/about"):
            assert _checked(http.get(f"{server.base}{url}")).status_code == 200, url
        # The form needs the database: the source learns before writing, not after.
        form = _checked(http.get(f"{server.base}/report"))
        assert form.status_code == 503
        assert UNAVAILABLE in form.text
        for n in range(2, 6):
            status, page = _report(http, server, n)
            assert status == 503, (status, page[:500])
            assert UNAVAILABLE in page
        assert "Traceback" not in server.log_text()
    assert _digest(data) == before  # not a byte changed

    with running(data, tmp_path / "after.log") as server, httpx.Client(timeout=60) as http:
        status, code = _report(http, server, 6)
        assert status == 200, code
        codes.append(code)
    out = tmp_path / "after"
    shutil.copytree(data, out)
    _open_all(out, office, codes)
    assert integrity(data / "submit.sqlite3") == "ok"
    record("read-only", {"before": 2, "refused_503": 4, "after": 1, "bytes_changed": 0})


def _digest(directory: Path) -> dict[str, str]:
    return {
        p.name: hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(directory.iterdir())
        if p.is_file()
    }


def _ext4_image(tmp_path: Path) -> Path:
    image = tmp_path / "data.ext4"
    with image.open("wb") as handle:
        handle.truncate(EXT4_BYTES)  # sparse: a few MB of real disk
    subprocess.run(["mkfs.ext4", "-q", "-F", str(image)], check=True, timeout=60)
    return image


def _half_then_rest(
    body: bytes, sent_half: threading.Event, go: threading.Event
) -> Iterator[bytes]:
    half = len(body) // 2
    yield body[:half]
    sent_half.set()
    go.wait(timeout=60)
    yield body[half:]


def test_storage_goes_read_only_with_reports_in_flight(tmp_path: Path) -> None:
    """The data directory's ext4 hits an error and the kernel remounts it read-only
    (``errors=remount-ro``, triggered through ``/sys/fs/ext4/DEV/trigger_fs_error``) while
    real POSTs are half-way through their bodies, and more arrive after: every one gets the
    503 page, none a 500 or a reset; what was receipted before is intact and opens."""
    office = make_office()
    data = tmp_path / "data"
    init_data_directory(data, office.card, fingerprint=office.fingerprint, language="en")
    image = _ext4_image(tmp_path)
    setup = (
        "mkdir -p {copy} && cp -a {data}/. {copy}/ && "
        f"mount -o loop,errors=remount-ro {image} {{data}} && cp -a {{copy}}/. {{data}}/"
    )
    codes: list[str] = []
    with _served(tmp_path, setup, office) as (server, _, _), httpx.Client(timeout=60) as http:
        for n in range(2):
            status, code = _report(http, server, n)
            assert status == 200, code
            codes.append(code)
        # Forms loaded while the disk is fine: each source has its session and CSRF token.
        sources = []
        for n in range(IN_FLIGHT + AFTER):
            client = httpx.Client(timeout=60)
            page = _checked(client.get(f"{server.base}/report"))
            token = CSRF.search(page.text)
            assert token, page.text[:300]
            body, content_type = browser_report(
                token.group(1), description=f"in flight {n}", files=[("f.bin", b"x" * 300_000)]
            )
            sources.append((client, body, content_type))

        go = threading.Event()
        halves = [threading.Event() for _ in range(IN_FLIGHT)]
        results: dict[int, httpx.Response | BaseException] = {}

        def upload(i: int) -> None:
            client, body, content_type = sources[i]
            try:
                results[i] = client.post(
                    f"{server.base}/report",
                    content=_half_then_rest(body, halves[i], go),
                    headers={"Content-Type": content_type, "Content-Length": str(len(body))},
                )
            except BaseException as exc:  # a reset is a failure the test reports
                results[i] = exc

        threads = [threading.Thread(target=upload, args=(i,)) for i in range(IN_FLIGHT)]
        for thread in threads:
            thread.start()
        for half in halves:
            assert half.wait(timeout=60)
        device = _in_namespace(server, "findmnt", "-n", "-o", "SOURCE", str(data)).stdout.strip()
        trigger = f"/sys/fs/ext4/{Path(device).name}/trigger_fs_error"
        fail = _in_namespace(server, "sh", "-c", f"echo whistle-test > {trigger}")
        assert fail.returncode == 0, fail.stderr
        assert _in_namespace(server, "touch", f"{data}/probe").returncode != 0  # really ro
        go.set()
        for thread in threads:
            thread.join(timeout=120)
        statuses = []
        for i in range(IN_FLIGHT):
            response = results[i]
            assert isinstance(response, httpx.Response), response
            _checked(response)
            assert response.status_code == 503, (response.status_code, response.text[:500])
            assert UNAVAILABLE in response.text
            statuses.append(response.status_code)
        for client, body, content_type in sources[IN_FLIGHT:]:
            response = _checked(
                client.post(
                    f"{server.base}/report", content=body, headers={"Content-Type": content_type}
                )
            )
            assert response.status_code == 503, (response.status_code, response.text[:500])
            assert UNAVAILABLE in response.text
            statuses.append(response.status_code)
        for client, _body, _type in sources:
            client.close()
        assert _checked(http.get(f"{server.base}/")).status_code == 200
        assert "Traceback" not in server.log_text()
        copied = _in_namespace(server, "cp", "-a", f"{data}/.", str(tmp_path / "copy-ro"))
        assert copied.returncode == 0, copied.stderr
    out = tmp_path / "copy-ro"
    (out / "probe").unlink(missing_ok=True)
    assert integrity(out / "submit.sqlite3") == "ok"
    _open_all(out, office, codes)
    with _count_records(out) as count:
        assert count == 2  # the in-flight reports kept nothing
    # A writable copy of the same directory takes reports again.
    with running(out, tmp_path / "after.log") as server, httpx.Client(timeout=60) as http:
        status, code = _report(http, server, 9)
        assert status == 200, code
    record(
        "read-only-in-flight",
        {"before": 2, "in_flight_503": IN_FLIGHT, "after_503": AFTER, "statuses": statuses},
    )


@contextmanager
def _count_records(directory: Path) -> Iterator[int]:
    import sqlite3

    connection = sqlite3.connect(directory / "submit.sqlite3")
    try:
        yield int(connection.execute("SELECT count(*) FROM records").fetchone()[0])
    finally:
        connection.close()
