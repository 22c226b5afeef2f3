"""At rest, the inbox directory holds no plaintext: the canary scan.

A canary string goes into every piece of content a case can carry (subject,
description, file name and content, identification, follow-up, notes, a
disclosure reason); after import, reading, previews and notes, no file under
the office directory may contain it in any common encoding.
"""

import base64
import re
from pathlib import Path

from sqlalchemy import select

from whistle.inbox import create_app, sealing
from whistle.inbox.compartments import case_secrets
from whistle.inbox.models import Disclosure

from .conftest import (
    CANARY,
    PASSWORD,
    do_import,
    incoming,
    make_followup,
    make_submission,
)
from .test_web import _add_custodian


def encodings(text: str) -> list[bytes]:
    raw = text.encode("utf-8")
    return [
        raw,
        text.encode("utf-16-le"),
        text.encode("utf-16-be"),
        raw.hex().encode(),
        raw.hex().upper().encode(),
        base64.b64encode(raw)[:24],
        text.lower().encode(),
    ]


def scan(directory: Path, needle: str) -> list[str]:
    found = []
    patterns = encodings(needle)
    for path in directory.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            found.extend(f"{path} ({p[:12]!r})" for p in patterns if p in data)
    return found


def csrf(html: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', html).group(1)


def test_no_plaintext_under_the_office_directory(office) -> None:
    _add_custodian(office, ("officer", "custodian"))  # reads the case and its identity
    source, envelope = make_submission(
        office,
        subject=f"subject {CANARY}",
        description=f"description {CANARY}",
        files=[(f"{CANARY}.txt", f"file content {CANARY}".encode()), ("x.pdf", b"%PDF-1.4 junk")],
        identification=[{"key": "name", "label": "Name", "value": f"name {CANARY}"}],
    )
    follow = make_followup(office, source, f"follow-up {CANARY}", [("f.txt", CANARY.encode())])
    report = do_import(
        office,
        [
            incoming("submission", source.case_id, envelope, "sub"),
            incoming("followup", source.case_id, follow, "fol"),
        ],
    )
    assert report.imported == ["sub", "fol"]

    app = create_app(office.config)
    client = app.test_client()
    client.post("/login", data={"name": "carla", "password": PASSWORD})
    page = client.get(f"/cases/{source.case_id}").get_data(as_text=True)
    assert CANARY in page  # it is readable after unlock…
    token = csrf(page)

    def written(url: str, **form: str) -> None:
        """Each write must succeed (a 303 to its "done" anchor), or the scan covers less."""
        response = client.post(url, data={"csrf": token, **form})
        assert response.status_code == 303, (url, response.status_code)
        assert "done=" in response.headers["Location"], (url, response.headers["Location"])

    case = f"/cases/{source.case_id}"
    written(f"{case}/notes", text=f"note {CANARY}")
    written(f"{case}/disclosure", reason=f"reason {CANARY}")
    shown = client.post(f"{case}/identification", data={"csrf": token})
    assert CANARY in shown.get_data(as_text=True)
    assert CANARY in client.get(f"/cases?q={CANARY[:12]}").get_data(as_text=True)
    # Part 2: reasons, labels, drafts, queued replies, the search index.
    written(f"{case}/labels", labels=f"label {CANARY}")
    written(f"{case}/assign", assignee="1", reason=f"r {CANARY}")
    written(f"{case}/extend", reason=f"extension {CANARY}")
    written(f"{case}/replies", text=f"draft {CANARY}", ready="0")
    written(f"{case}/replies", text=f"reply {CANARY}", ready="1")
    written(f"{case}/acknowledge")
    written(f"{case}/status", to="investigating", reason=f"s {CANARY}")
    client.get(f"/cases?q={CANARY[:12]}")  # the search index is rewritten with the note
    page = client.get(case).get_data(as_text=True)
    for text in ("note", "label", "extension", "draft", "reply", "s"):
        assert f"{text} {CANARY}" in page
    # The disclosure reason is shown nowhere: it is read back from its sealed row instead.
    keyring = office.sign_in().keyring
    with office.session() as session:
        [row] = session.scalars(select(Disclosure)).all()
        keys = case_secrets(session, keyring, row.case_id)  # sealed to the case key
        reason = sealing.open_text(keys, sealing.REASON, row.case_id, row.reason)
    assert reason == f"reason {CANARY}"
    base = f"/cases/{source.case_id}/records/sub/files"
    assert CANARY in client.get(f"{base}/0").get_data(as_text=True)
    client.get(f"{base}/1")
    assert client.post(f"{base}/0/clean", data={"csrf": token}).status_code in (200, 422)
    app.extensions["whistle_inbox"].engine.dispose()

    assert scan(office.config.data_dir, CANARY) == []  # …and nowhere at rest
    assert list(office.config.scratch_dir.iterdir()) == []


def test_scan_would_find_plaintext(tmp_path) -> None:
    (tmp_path / "leak.bin").write_bytes(b"xx" + CANARY.encode("utf-16-le"))
    assert scan(tmp_path, CANARY)
