"""At rest, the inbox directory holds no plaintext: the canary scan.

A canary string goes into every piece of content a case can carry (subject,
description, file name and content, identification, follow-up, notes, a
disclosure reason); after import, reading, previews and notes, no file under
the office directory may contain it in any common encoding.
"""

import base64
import re
from pathlib import Path

from whistle.inbox import create_app

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
    _add_custodian(office)
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
    client.post(f"/cases/{source.case_id}/notes", data={"csrf": token, "text": f"note {CANARY}"})
    client.post(
        f"/cases/{source.case_id}/disclosure", data={"csrf": token, "reason": f"reason {CANARY}"}
    )
    shown = client.post(f"/cases/{source.case_id}/identification", data={"csrf": token})
    assert CANARY in shown.get_data(as_text=True)
    assert CANARY in client.get(f"/cases?q={CANARY[:12]}").get_data(as_text=True)
    # Part 2: reasons, labels, drafts, queued replies, the search index.
    case = f"/cases/{source.case_id}"
    client.post(f"{case}/labels", data={"csrf": token, "labels": f"label {CANARY}"})
    client.post(f"{case}/assign", data={"csrf": token, "assignee": "1", "reason": f"r {CANARY}"})
    client.post(f"{case}/extend", data={"csrf": token, "reason": f"extension {CANARY}"})
    client.post(f"{case}/replies", data={"csrf": token, "text": f"draft {CANARY}", "ready": "0"})
    client.post(f"{case}/replies", data={"csrf": token, "text": f"reply {CANARY}", "ready": "1"})
    client.post(f"{case}/acknowledge", data={"csrf": token})
    client.post(
        f"{case}/status", data={"csrf": token, "to": "investigating", "reason": f"s {CANARY}"}
    )
    client.get(f"/cases?q={CANARY[:12]}")  # the search index is rewritten with the note
    page = client.get(case).get_data(as_text=True)
    for text in ("label", "extension", "draft", "reply", "s"):
        assert f"{text} {CANARY}" in page
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
