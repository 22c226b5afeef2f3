"""`whistle demo` shows the whole loop: report → inbox → reply → read with the code."""

import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from whistle.inbox import db as inbox_db
from whistle.inbox.models import Case
from whistle.inbox.officers import sign_in
from whistle.inbox.outgoing import queue_reply

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
CODE = re.compile(r'id="code">([^<]+)<')


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _until(check, seconds: float = 60.0):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.3)
    raise AssertionError("the demo did not get there in time")


@pytest.mark.slow
def test_demo_runs_the_whole_loop(tmp_path: Path) -> None:
    from whistle.demo import inbox_config

    data = tmp_path / "demo"
    submit_port, inbox_port = _free_port(), _free_port()
    log = (tmp_path / "demo.log").open("w+")
    whistle = str(Path(sys.executable).parent / "whistle")
    args = [whistle, "demo", "--data", str(data)]
    proc = subprocess.Popen(
        [*args, "--submit-port", str(submit_port), "--inbox-port", str(inbox_port)],
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        password = _until(
            lambda: re.search(r"Password:\s+(\S+)", Path(log.name).read_text()), 120
        ).group(1)
        site = f"http://127.0.0.1:{submit_port}"
        with httpx.Client(base_url=site) as web:
            web.get("/language/en")
            page = web.get("/report/antifraud").text
            files = {"files": ("note.txt", b"evidence", "text/plain")}
            fields = {
                "csrf_token": CSRF.search(page).group(1),  # type: ignore[union-attr]
                "q_subject": "Demo subject",
                "q_description": "Demo description",
                "accept": "yes",
            }
            receipt = web.post("/report/antifraud", data=fields, files=files)
            code = CODE.search(receipt.text).group(1)  # type: ignore[union-attr]
            assert httpx.get(f"http://127.0.0.1:{inbox_port}/login").status_code == 200

            config = inbox_config(data / "inbox")
            engine = inbox_db.make_engine(config.database_path)
            sessions = inbox_db.session_factory(engine)

            def arrived() -> str | None:
                with inbox_db.transaction(sessions) as session:
                    return session.scalar(select(Case.id))

            case_id = _until(arrived)
            with inbox_db.transaction(sessions) as session:
                keyring = sign_in(session, config, "demo", password).keyring
                queue_reply(
                    session,
                    keyring,
                    case_id=case_id,
                    message="Reply seen in the demo.",
                    files=[],
                    now=config.clock(),
                    store_dir=config.store_dir,
                )
            engine.dispose()

            def reply_visible() -> bool:
                page = web.get("/check-in").text
                answer = web.post(
                    "/check-in",
                    data={"csrf_token": CSRF.search(page).group(1), "code": code},  # type: ignore[union-attr]
                )
                return "Reply seen in the demo." in answer.text

            _until(reply_visible)
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
