"""End to end in Chromium (JavaScript off): an officer logs in, triages, acknowledges,
investigates, replies and closes a case; nothing leaves 127.0.0.1, no CSP violation."""

import threading

import pytest
from playwright.sync_api import sync_playwright
from sqlalchemy import select
from werkzeug.serving import make_server

from whistle.inbox import create_app
from whistle.inbox.models import Case, Outgoing

from .conftest import PASSWORD, do_import, incoming, make_submission

pytestmark = pytest.mark.slow
CHROMIUM = "/usr/lib/chromium/chromium"


def open_group(page, control: str) -> None:  # type: ignore[no-untyped-def]
    """Open the case page's side-panel group holding ``control``, as an officer clicks it."""
    group = page.locator(f"details:has({control})")
    if group.get_attribute("open") is None:
        group.locator("> summary").click()


@pytest.fixture
def served(office):
    source, envelope = make_submission(office, subject="Contractes trossejats")
    do_import(office, [incoming("submission", source.case_id, envelope)])
    office.config.clock.advance(days=5)  # the acknowledgement falls due in 2 days
    server = make_server("127.0.0.1", 0, create_app(office.config), threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}", source.case_id
    server.shutdown()
    thread.join()


def test_officer_works_a_case_from_new_to_closed(served, office) -> None:
    base, case_id = served
    requests: list[str] = []
    console: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-background-networking", "--no-first-run"],
        )
        context = browser.new_context(java_script_enabled=False, locale="en-GB")
        page = context.new_page()
        page.on("request", lambda r: requests.append(r.url))
        page.on("console", lambda m: console.append(m.text))
        page.goto(f"{base}/")
        page.fill("#name", "admin")
        page.fill("#password", PASSWORD)
        page.click("main button[type=submit]")
        assert page.url.endswith("/dashboard")
        assert "Contractes trossejats" in page.content()
        page.click("table a >> nth=0")
        assert case_id in page.url
        # Triage: assign and label.
        open_group(page, "#assignee")
        page.select_option("#assignee", label="admin")
        page.fill("#assign-reason", "Contracts are mine.")
        page.click("form[action$='/assign'] button")
        page.fill("#labels", "contracts, urgent")
        page.click("form[action$='/labels'] button")
        assert "contracts, urgent" in page.content()
        # A state change without a reason is refused with a message (spaces pass the
        # browser's `required` check, so the server's refusal is what is tested).
        page.select_option("#to", "closed")
        page.select_option("#outcome", "inadmissible")
        page.fill("#status-reason", "  ")
        page.click("form[action$='/status'] button")
        assert "Give a reason for this decision." in page.content()
        # Acknowledge (one click).
        page.click("form[action$='/acknowledge'] button")
        assert "The acknowledgement is queued" in page.content()
        # Investigate.
        open_group(page, "#to")
        page.select_option("#to", "investigating")
        page.fill("#status-reason", "Credible, within our remit.")
        page.click("form[action$='/status'] button")
        assert "Under investigation" in page.content()
        # Reply: save a draft, then queue it.
        page.fill("#reply", "We have opened an investigation.")
        page.click("form[action$='/replies'] button[value='0']")
        assert "The draft was saved." in page.content()
        page.click("text=Mark ready and queue")
        assert "The reply is queued" in page.content()
        # Close with an outcome and a reason.
        open_group(page, "#to")
        page.select_option("#to", "closed")
        page.select_option("#outcome", "substantiated")
        page.fill("#status-reason", "Split contracts confirmed.")
        page.click("form[action$='/status'] button")
        assert "Substantiated" in page.content()
        page.goto(f"{base}/register")
        assert "2026-0001" in page.content()  # the office's reference
        page.goto(f"{base}/statistics")
        chart = page.locator("main img").first
        assert chart.evaluate("img => img.naturalWidth") > 0
        browser.close()
    assert all(url.startswith(base) for url in requests), requests
    assert not [m for m in console if "Content Security Policy" in m], console
    with office.session() as session:
        case = session.get(Case, case_id)
        assert case.status == "closed"
        assert case.outcome == "substantiated"
        kinds = session.scalars(select(Outgoing.kind).where(Outgoing.case_id == case_id)).all()
        assert list(kinds).count("reply") == 2
