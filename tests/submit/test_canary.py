"""DESIGN §3.1: no plaintext of a report, file, file name or follow-up reaches a disk.

A unique string goes in as subject, description, identification, file content
and file name (the file larger than Werkzeug's 500 KB spooling threshold), and
in a follow-up's message, file and file name. TMPDIR points inside the scanned
tree, temporary files are kept instead of deleted (so spooled ciphertext is
scanned too), and every byte under the data directory (database, WAL), TMPDIR,
the logs and the process output is searched for it — and for the client's
address and user agent, which must not be kept either.
"""

import logging
import os
import tempfile
import uuid
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from tests.submit.conftest import CODE, browser_report, check_in, csrf_from, multipart
from whistle.submit import create_app, load_config
from whistle.submit import web as app_module


def _scan(root: Path, needles: list[bytes]) -> list[str]:
    found = []
    for path in root.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            found += [f"{path}: {n!r}" for n in needles if n in data]
    return found


@pytest.mark.sqlite_only  # scans the SQLite files in the data directory
def test_canary_is_nowhere_on_disk(
    tmp_path: Path,
    data_dir: Path,
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
    application.extensions["whistle_submit"].engine.dispose()

    assert any(spool.iterdir()), "nothing was spooled: the scan of TMPDIR proves nothing"
    assert list(data_dir.glob("*.sqlite3*")), "no database found to scan"
    assert _scan(tmp_path, needles) == []
    out, err = capfd.readouterr()
    for text in (canary, address, agent):
        assert text not in caplog.text
        assert text not in out
        assert text not in err
    assert os.environ["TMPDIR"] == str(spool)
