"""An officer's day in Chromium (JavaScript off), both sides real: collect → triage →
acknowledge → reply → read the source's answer → back up. Screenshots of each step are
saved in test-artifacts/officers-day/ (1366×768, the laptop the case page must fit)."""

import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import sync_playwright
from werkzeug.serving import make_server

from tests.inbox.conftest import PASSWORD
from tests.inbox.test_browser_workflow import open_group
from tests.submit.conftest import check_in, csrf_from, multipart, submit_report
from whistle.inbox import create_app

from .conftest import World

# The server's database is not what this test is about: SQLite only, to keep CI short.
pytestmark = [pytest.mark.slow, pytest.mark.sqlite_only]
CHROMIUM = "/usr/lib/chromium/chromium"
SHOTS = Path(__file__).parents[2] / "test-artifacts" / "officers-day"
REPLY = "We have opened an investigation. Can you tell us who signed the second invoice?"
ANSWER = "The second invoice was signed by the head of procurement."


def _collect(page: Any, base: str, bundle: Path) -> str:
    page.goto(f"{base}/bundles/")
    page.set_input_files("#bundle", str(bundle))
    page.click("form[action$='/check'] button")
    page.click("form[action$='/apply'] button")
    return str(page.content())


def test_an_officers_day(world: World, tmp_path: Path) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)

    def shot(page: Any, name: str) -> None:
        page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)

    # The inbox's test clock stands in 2026; the submission site dates by the real clock.
    world.inbox_config.clock.now = datetime.now(UTC)  # type: ignore[attr-defined]
    source = world.client
    source.get("/language/en")
    code = submit_report(
        source, subject="Split contracts", description="Three invoices of 14,900 €."
    )
    first = tmp_path / "outbox-1.bundle"
    first.write_bytes(world.server_export())
    usb = tmp_path / "usb"
    usb.mkdir()
    server = make_server("127.0.0.1", 0, create_app(world.inbox_config), threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{server.server_port}"
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(
                executable_path=CHROMIUM,
                args=["--no-sandbox", "--disable-background-networking", "--no-first-run"],
            )
            context = browser.new_context(
                java_script_enabled=False,
                viewport={"width": 1366, "height": 768},
                locale="en-GB",
                accept_downloads=True,
            )
            page = context.new_page()
            page.goto(f"{base}/login")
            page.fill("#name", "admin")
            page.fill("#password", PASSWORD)
            page.click("main button[type=submit]")
            assert "Nothing is due." in page.content()
            shot(page, "01-dashboard-morning")

            # Collect the reports.
            collected = _collect(page, base, first)
            assert "Applied" in collected
            shot(page, "02-collected")
            page.goto(f"{base}/dashboard")
            board = page.content()
            assert "Nothing is due." not in board
            assert "2026-0001" in board
            assert "Split contracts" in board
            shot(page, "03-dashboard-new-case")

            # Triage: open the case, assign it.
            page.click("text=2026-0001")
            assert "Read the report, then acknowledge receipt" in page.content()
            main = page.locator(".case-main").bounding_box()
            assert main is not None
            # The case page was one 5,900 px column; the case now fits in a few screens.
            assert main["height"] < 3 * 768
            page.screenshot(path=str(SHOTS / "04-case-first-screen.png"))
            open_group(page, "#assignee")
            page.select_option("#assignee", label="admin")
            page.fill("#assign-reason", "Procurement cases are mine.")
            page.click("form[action$='/assign'] button")
            assert "The change was recorded." in page.content()

            # Acknowledge, then reply.
            page.click("form[action$='/acknowledge'] button")
            assert "The acknowledgement is queued" in page.content()
            page.fill("#reply", REPLY)
            page.click("form[action$='/replies'] button[value='1']")
            assert "The reply is queued" in page.content()
            shot(page, "05-case-replied")

            # Send the replies to the server.
            page.goto(f"{base}/bundles/")
            page.click("form[action$='/export'] button")
            with page.expect_download() as download:
                page.click("form[action$='/download'] button")
            applied = world.server_import(Path(download.value.path()).read_bytes())
            assert applied.counts["replies stored"] == 2

            # The source reads the reply and answers (the submission site, no browser).
            status, conversation = check_in(source, code)
            assert status == 200
            assert REPLY in conversation
            body, content_type = multipart(
                [
                    ("csrf_token", None, csrf_from(conversation).encode()),
                    ("code", None, code.encode()),
                    ("message", None, ANSWER.encode()),
                ]
            )
            assert (
                source.post("/follow-up", data=body, content_type=content_type).status_code == 200
            )
            second = tmp_path / "outbox-2.bundle"
            second.write_bytes(world.server_export())

            # Collect again: the dashboard says what came back.
            world.inbox_config.clock.advance(minutes=5)  # type: ignore[attr-defined]
            assert "Applied" in _collect(page, base, second)
            page.goto(f"{base}/dashboard")
            board = page.content()
            assert "1 unread message" in board
            assert "replies read by the source" in board
            assert "Nothing is due." not in board
            shot(page, "06-dashboard-answer")
            page.click("text=2026-0001")
            case = page.content()
            assert ANSWER in case
            assert case.count(REPLY) == 1  # each message once
            assert "Read by the reporter on" in case
            shot(page, "07-case-answer")

            # Back up to the USB stick.
            page.goto(f"{base}/backup/")
            page.check("#target-other")
            page.fill("#directory", str(usb))
            page.click("form[action$='/backup/make'] button")
            assert "Backup written to" in page.content()
            assert f"Written to {usb}/whistle-backup-" in page.content()
            shot(page, "08-backup")
            browser.close()
    finally:
        server.shutdown()
        thread.join()
    assert len(list(usb.glob("whistle-backup-*.wbak"))) == 1
