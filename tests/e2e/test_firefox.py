"""The flow of flow.json in Firefox ESR with Tor Browser *Safer*'s prefs (no WebAssembly, no
JIT, no asm.js), via npm puppeteer-core over WebDriver BiDi (tests/e2e/firefox.mjs). The office
announces the case's key with its first reply, so the follow-up is sealed to it alone
(docs/protocol.md §17)."""

import json
import subprocess
from pathlib import Path

import pytest

from tests.e2e.conftest import (
    ARTIFACTS,
    FLOW,
    HERE,
    ROOT,
    Site,
    announce_case_key,
    case_of,
    leaks,
    opens_with_the_case_key_alone,
    stored_followups,
)
from tests.submit.conftest import insert_reply
from whistle.crypto import generate_box_keypair

pytestmark = pytest.mark.slow


def _line(process: subprocess.Popen[str]) -> dict[str, object]:
    assert process.stdout is not None
    line = process.stdout.readline()
    assert line, f"firefox.mjs ended: {process.stderr.read() if process.stderr else ''}"
    message = json.loads(line)
    assert "error" not in message, message["error"]
    return message  # type: ignore[no-any-return]


def test_firefox_safer(site: Site, tmp_path: Path) -> None:
    site.recorder.clear()
    process = subprocess.Popen(
        [
            "node",
            str(HERE / "firefox.mjs"),
            site.base,
            str(tmp_path),
            str(ARTIFACTS / "firefox" / "safer"),
        ],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        code = str(_line(process)["code"])
        insert_reply(site.app, code, site.office, FLOW["reply"])
        case_id, keys = case_of(site, code)
        case_key = generate_box_keypair()
        announce_case_key(site, case_id, 1, case_key)
        assert process.stdin is not None
        process.stdin.write("reply inserted\n")
        process.stdin.flush()
        done = _line(process)
        assert done["mode"] == "javascript"  # WebAssembly off, as in Safer
    finally:
        process.wait(timeout=300)
    assert process.returncode == 0
    canonical = code.replace(" ", "")
    # The page really sent its report, check-in and follow-up sealed, and nothing else.
    posts = {p for m, p, b in site.recorder.bodies if m == "POST" and b}
    assert {"/report/sealed", "/check-in/sealed", "/follow-up/sealed"} <= posts
    assert posts <= {"/report/sealed", "/check-in/sealed", "/follow-up/sealed", "/receipt"}
    assert leaks(site.recorder.bodies, [FLOW["canary"], canonical, code]) == []
    [(sealed_to, envelope)] = stored_followups(site, case_id)
    assert sealed_to == case_key.public_key
    message = opens_with_the_case_key_alone(site, envelope, case_id, keys, case_key)
    assert message == FLOW["followup"]["message"]
