"""DESIGN §3.1: no plaintext of a report, file, file name or follow-up reaches a disk, the
source's own copy of them included.

A unique string goes in as subject, description, identification, file content
and file name (the file larger than Werkzeug's 500 KB spooling threshold), and
in a follow-up's message, file and file name. TMPDIR points inside the scanned
tree, anonymous temporary files are kept instead of deleted (so spooled ciphertext
is scanned too), and every byte under the data directory (database, WAL) or
PostgreSQL's whole cluster directory (data files and WAL, after a checkpoint),
TMPDIR, the logs and the process output is searched for it — and for the client's
address and user agent, which must not be kept either.

Files that are written and deleted during the request (``NamedTemporaryFile``,
``mkstemp`` + ``unlink``, anywhere on the machine) would escape a scan made afterwards:
an audit hook (``sys.addaudithook``) sees every file the process opens for writing and
copies each file's bytes aside just before ``os.unlink``/``os.remove`` deletes it; the
copies and every file written outside the scanned tree are searched too. A file opened
with ``O_TMPFILE`` (no name, nothing to copy) fails the test unless it is one of the
kept ``TemporaryFile``s.
"""

import logging
import os
import sys
import tempfile
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from tests.submit.conftest import CODE, browser_report, check_in, csrf_from, multipart
from whistle.submit import create_app, load_config
from whistle.submit import web as app_module
from whistle.submit.models import Chunk, SourceCopy

_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC


class _FileAudit:
    """What the process wrote to files while active (one hook per process: it cannot be
    removed, so it does nothing while no audit is active)."""

    def __init__(self) -> None:
        self.graveyard: Path | None = None
        self.written: set[str] = set()
        self.deleted = 0
        self.unnamed: list[str] = []
        self._busy = threading.local()

    def __call__(self, event: str, args: tuple[Any, ...]) -> None:
        if self.graveyard is None or getattr(self._busy, "on", False):
            return
        self._busy.on = True
        try:
            if event == "open":
                self._opened(*args[:3])
            elif event == "os.remove":
                self._removing(*args[:2])
            elif event in ("os.rename", "os.replace"):
                self.written.add(os.path.abspath(os.fsdecode(args[1])))
        finally:
            self._busy.on = False

    def _opened(self, path: Any, mode: Any, flags: Any) -> None:
        if not isinstance(path, str | bytes):
            return  # an fd already open
        writing = (isinstance(flags, int) and flags & _WRITE_FLAGS) or (
            isinstance(mode, str) and any(c in mode for c in "wax+")
        )
        if isinstance(flags, int) and flags & getattr(os, "O_TMPFILE", 0) == os.O_TMPFILE:
            self.unnamed.append(os.fsdecode(path))
        elif writing:
            self.written.add(os.path.abspath(os.fsdecode(path)))

    def _removing(self, path: Any, dir_fd: Any) -> None:
        name = os.fsdecode(path)
        if isinstance(dir_fd, int) and dir_fd >= 0:  # -1 (or None): no directory fd
            name = f"/proc/self/fd/{dir_fd}/{name}"
        try:
            with open(name, "rb") as handle:
                data = handle.read()
        except OSError:
            return  # a directory, or gone already
        assert self.graveyard is not None
        self.deleted += 1
        (self.graveyard / f"deleted-{self.deleted}").write_bytes(data)


_AUDIT = _FileAudit()
sys.addaudithook(_AUDIT)


@contextmanager
def file_audit(graveyard: Path) -> Iterator[_FileAudit]:
    graveyard.mkdir()
    _AUDIT.graveyard, _AUDIT.written, _AUDIT.deleted, _AUDIT.unnamed = graveyard, set(), 0, []
    try:
        yield _AUDIT
    finally:
        _AUDIT.graveyard = None


def _scan(root: Path, needles: list[bytes]) -> list[str]:
    found = []
    for path in root.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            found += [f"{path}: {n!r}" for n in needles if n in data]
    return found


def _scan_files(paths: set[str], needles: list[bytes]) -> list[str]:
    found = []
    for name in sorted(paths):
        path = Path(name)
        if name.startswith(("/proc/", "/dev/")) or not path.is_file():
            continue
        data = path.read_bytes()
        found += [f"{path}: {n!r}" for n in needles if n in data]
    return found


def _database_roots(db_backend: str, data_dir: Path, request: pytest.FixtureRequest) -> Path:
    """Where the database keeps its bytes: the data directory, or the PostgreSQL cluster's
    directory (data files, WAL, log) after a checkpoint has written every page out."""
    if db_backend == "sqlite":
        return data_dir
    import psycopg

    cluster = request.getfixturevalue("postgres_cluster")
    with psycopg.connect(cluster.admin_conninfo, autocommit=True) as connection:
        connection.execute("CHECKPOINT")
    return Path(cluster.socket_dir)


def test_canary_is_nowhere_on_disk(
    tmp_path: Path,
    data_dir: Path,
    db_backend: str,
    request: pytest.FixtureRequest,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    caplog.set_level(logging.DEBUG)
    spool = tmp_path / "tmpdir"
    spool.mkdir()
    monkeypatch.setenv("TMPDIR", str(spool))
    monkeypatch.setattr(tempfile, "tempdir", str(spool))

    def kept_temporary_file(*args: Any, **kwargs: Any) -> Any:
        kwargs.pop("delete", None)
        return tempfile.NamedTemporaryFile(*args, delete=False, **kwargs)

    monkeypatch.setattr(tempfile, "TemporaryFile", kept_temporary_file)
    monkeypatch.setattr(app_module, "SPOOL_MEMORY_BYTES", 1024)  # ciphertext goes to disk

    canary = f"CANARY{uuid.uuid4().hex}"
    needles = [
        canary.encode(),
        canary.encode("utf-16-le"),
        canary.lower().encode(),
        canary[6:].encode(),
    ]
    address = "203.0.113.177"
    agent = f"Mozilla/5.0 AGENT{uuid.uuid4().hex}"
    needles += [address.encode(), agent[12:].encode()]
    application: Flask = create_app(load_config(data_dir))
    client = application.test_client()
    client.environ_base.update(
        {
            "REMOTE_ADDR": address,
            "HTTP_USER_AGENT": agent,
            "HTTP_X_FORWARDED_FOR": address,
        }
    )
    with file_audit(tmp_path / "deleted") as audit:
        _report_and_follow_up(client, canary)
    ciphertext = _a_stored_chunk(application)
    # The source's copies (subject, description, file names, the follow-up's message): kept
    # sealed, so the scan below must reach them and find no canary in them either.
    copies = _stored_copies(application)
    assert len(copies) == 2
    application.extensions["whistle_submit"].engine.dispose()

    assert any(spool.iterdir()), "nothing was spooled: the scan of TMPDIR proves nothing"
    assert audit.written, "the audit saw no file written: it proves nothing"
    assert audit.unnamed == [], f"unnamed temporary files the scan cannot see: {audit.unnamed}"
    database = _database_roots(db_backend, data_dir, request)
    # The scan reaches the stored bytes: the ciphertext of a chunk row is found there.
    assert _scan(database, [ciphertext]), f"no stored chunk found under {database}"
    assert all(_scan(database, [copy]) for copy in copies), "no stored copy found"
    assert _scan(tmp_path, needles) == []
    assert _scan(database, needles) == []
    assert _scan_files(audit.written, needles) == []
    out, err = capfd.readouterr()
    for text in (canary, address, agent):
        assert text not in caplog.text
        assert text not in out
        assert text not in err
    assert os.environ["TMPDIR"] == str(spool)


def _stored_copies(application: Flask) -> list[bytes]:
    """A sample of each source's copy stored (the report's and the follow-up's)."""
    with application.extensions["whistle_submit"].sessions() as session:
        return [bytes(data[200:264]) for data in session.scalars(select(SourceCopy.data))]


def _a_stored_chunk(application: Flask) -> bytes:
    with application.extensions["whistle_submit"].sessions() as session:
        data = session.scalars(select(Chunk.data).order_by(Chunk.sequence)).first()
    assert data
    return bytes(data[1000:1064])


def _report_and_follow_up(client: Any, canary: str) -> None:
    csrf = csrf_from(client.get("/report").text)
    file_content = (canary + "\n").encode() * (600_000 // (len(canary) + 1))
    assert len(file_content) > 500_000
    body, content_type = browser_report(
        csrf,
        subject=f"subject {canary}",
        description=f"description {canary}",
        files=[(f"{canary}.pdf", file_content), (f"small-{canary}.txt", canary.encode())],
        identification={"name": canary, "email": f"{canary}@example.org"},
    )
    response = client.post("/report", data=body, content_type=content_type)
    assert response.status_code == 200
    match = CODE.search(response.text)
    assert match
    code = match.group(1)

    status, page = check_in(client, code)
    assert status == 200
    assert canary in page  # the conversation was decrypted in memory and shown
    body, content_type = multipart(
        [
            ("csrf_token", None, csrf_from(page).encode()),
            ("files", f"follow-{canary}.odt", file_content),
            ("message", None, f"follow-up {canary}".encode()),
            ("code", None, code.encode()),
        ]
    )
    response = client.post("/follow-up", data=body, content_type=content_type)
    assert response.status_code == 200
    status, page = check_in(client, code)
    assert f"follow-up {canary}" in page
