"""A real browser (Chromium, JavaScript off, Catalan) adds and removes an officer."""

import threading

import pytest
from playwright.sync_api import sync_playwright
from werkzeug.serving import make_server

from whistle.inbox import compartments, create_app

from .conftest import PASSWORD

pytestmark = pytest.mark.slow
CHROMIUM = "/usr/lib/chromium/chromium"
NEW_PASSWORD = "another long passphrase here"


@pytest.fixture
def served(office):
    server = make_server("127.0.0.1", 0, create_app(office.config), threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join()


def test_manager_adds_then_removes_an_officer(served, office) -> None:
    base = served
    requests: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-background-networking", "--no-first-run"],
        )
        context = browser.new_context(java_script_enabled=False, locale="ca-ES")
        page = context.new_page()
        page.on("request", lambda r: requests.append(r.url))
        page.goto(f"{base}/login")
        page.fill("#name", "admin")
        page.fill("#password", PASSWORD)
        page.click("main button[type=submit]")
        page.click("nav >> text=Personal")
        assert page.url.endswith("/officers")
        page.fill("#name", "berta")
        page.fill("#password", NEW_PASSWORD)
        page.fill("#repeat", NEW_PASSWORD)
        page.check("#role-manager")
        page.check("#desk-ethics")
        page.click("form[action$='/officers/add'] button")
        assert "Heu donat d'alta berta" in page.inner_text("main")
        berta = office.sign_in("berta", NEW_PASSWORD)
        assert berta.roles == ("officer", "manager")
        with office.session() as session:
            assert compartments.desks_of(session, berta.officer_id) == ["ethics"]
        page.click("text=Canvia els rols o dona de baixa berta")
        page.check("#confirm")
        page.click("form[action$='/remove'] button")
        text = page.inner_text("main")
        assert "whistle inbox rotate-keys" in text
        assert "Heu donat de baixa berta" in text
        browser.close()
    assert all(url.startswith(base) for url in requests), requests
