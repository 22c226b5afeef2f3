"""A real browser (Chromium, JavaScript off) against the inbox served on 127.0.0.1.

Catches what a test client cannot: what the browser sends (Origin, Sec-Fetch-Site),
CSP violations, and any request leaving the machine.
"""

import threading

import pytest
from playwright.sync_api import sync_playwright
from werkzeug.serving import make_server

from whistle.inbox import create_app

from .conftest import PASSWORD, do_import, incoming, make_submission
from .test_attachments import PDF_JS, jpeg_with_exif

pytestmark = pytest.mark.slow
CHROMIUM = "/usr/lib/chromium/chromium"


@pytest.fixture
def served(office):
    source, envelope = make_submission(
        office,
        subject="Obres inflades",
        files=[("doc.pdf", PDF_JS), ("photo.jpg", jpeg_with_exif()), ("x.html", b"<script>")],
    )
    do_import(office, [incoming("submission", source.case_id, envelope, "rec")])
    server = make_server("127.0.0.1", 0, create_app(office.config), threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}", source.case_id
    server.shutdown()
    thread.join()


def test_officer_signs_in_reads_a_case_and_locks(served) -> None:
    base, case_id = served
    requests: list[str] = []
    console: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-background-networking", "--no-first-run"],
        )
        context = browser.new_context(
            java_script_enabled=False, viewport={"width": 390, "height": 844}, locale="ca-ES"
        )
        page = context.new_page()
        page.on("request", lambda r: requests.append(r.url))
        page.on("console", lambda m: console.append(m.text))
        page.goto(f"{base}/cases")
        assert "/login" in page.url
        page.fill("#name", "admin")
        page.fill("#password", PASSWORD)
        page.click("main button[type=submit]")
        assert page.url.endswith("/cases")
        assert "Obres inflades" in page.content()
        assert page.locator("html").get_attribute("lang") == "ca"
        page.click("table a >> nth=0")
        assert case_id in page.url
        page.fill("#note", "Trucar a intervenció")
        page.click("form[action$='/notes'] button")
        assert "Trucar a intervenció" in page.content()
        for name in ("doc.pdf", "photo.jpg"):
            page.goto(f"{base}/cases/{case_id}")
            page.click(f"text={name}")
            page.wait_for_load_state("load")
            image = page.locator("main img").first
            assert image.evaluate("img => img.naturalWidth") > 0
        page.goto(f"{base}/cases/{case_id}")
        page.click("text=x.html")
        assert "&lt;script&gt;" in page.content()
        page.click("header button[type=submit] >> nth=0")  # Lock
        assert "/login" in page.url
        page.goto(f"{base}/cases")
        assert "/login" in page.url
        browser.close()
    assert all(url.startswith(base) for url in requests), requests
    assert not [m for m in console if "Content Security Policy" in m], console
