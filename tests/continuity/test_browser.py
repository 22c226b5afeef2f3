"""A real browser on the Backup page: the form works with JavaScript off, and axe-core finds no
WCAG 2.1 A/AA violation on the Backup page (as it is, with an error) or on the dashboard with
its backup warning, in ca, es and en."""

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import sync_playwright
from werkzeug.serving import make_server

from whistle.inbox import create_app

from .conftest import PASSWORD, Populated

pytestmark = pytest.mark.slow
CHROMIUM = "/usr/lib/chromium/chromium"
AXE = Path(__file__).parents[2] / "node_modules" / "axe-core" / "axe.min.js"
TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]


@pytest.fixture
def served(populated: Populated) -> Iterator[str]:
    server = make_server("127.0.0.1", 0, create_app(populated.office.config), threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join()


def _axe(page: Any, axe: str) -> list[Any]:
    page.add_script_tag(content=axe)
    return page.evaluate(  # type: ignore[no-any-return]
        "async (tags) => (await axe.run(document, {runOnly: {type: 'tag', values: tags}}))"
        ".violations.map(v => [v.id, v.impact, v.nodes.map(n => n.html).slice(0, 2)])",
        TAGS,
    )


def test_backup_page_in_a_browser(served: str, tmp_path: Path) -> None:
    usb = tmp_path / "usb"
    usb.mkdir()
    axe = AXE.read_text(encoding="utf-8")
    found: dict[str, Any] = {}
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-background-networking", "--no-first-run"],
        )
        plain = browser.new_context(java_script_enabled=False, locale="ca-ES")
        page = plain.new_page()
        page.goto(f"{served}/login")
        page.fill("#name", "admin")
        page.fill("#password", PASSWORD)
        page.click("main button[type=submit]")
        # axe needs JavaScript: a second context with the same session, CSP bypassed.
        audited = browser.new_context(bypass_csp=True)
        audited.add_cookies(plain.cookies())
        page = audited.new_page()
        page.goto(f"{served}/dashboard")
        assert "Make a backup." in page.content()  # the warning (English: no locale here)
        found["dashboard-warning"] = _axe(page, axe)
        for lang in ("ca", "es", "en"):
            page.context.add_cookies([{"name": "whistle_lang", "value": lang, "url": served}])
            page.goto(f"{served}/backup/")
            found[f"{lang}-backup"] = _axe(page, axe)
            page.fill("#directory", "relative/path")
            page.evaluate("document.querySelectorAll('form').forEach(f => f.noValidate = true)")
            page.click("form[action='/backup/make'] button")
            assert 'aria-invalid="true"' in page.content()
            found[f"{lang}-backup-error"] = _axe(page, axe)
            page.goto(f"{served}/dashboard")
            found[f"{lang}-dashboard"] = _axe(page, axe)
        audited.close()
        # Back in the JavaScript-off context: the form posts as a browser sends it.
        page = plain.new_page()
        page.goto(f"{served}/backup/")
        page.fill("#directory", str(usb))
        page.click("form[action='/backup/make'] button")
        assert "Còpia de seguretat escrita a" in page.content()
        assert len(list(usb.glob("whistle-backup-*.wbak"))) == 1
        plain.close()
        browser.close()
    assert {name: v for name, v in found.items() if v} == {}
