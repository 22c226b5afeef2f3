"""axe-core (npm axe-core) on every inbox page: no WCAG 2.1 A/AA violation, in ca, es and en.

Every GET page the app serves without an argument is audited (so a page added later is
too), plus a case page with every <details> group opened, an officer's page and a file's
page. axe needs JavaScript (FIELD-NOTES): the pages are audited in a JavaScript-on context
with the CSP bypassed; they contain no script of their own.
"""

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import sync_playwright
from werkzeug.serving import make_server

from whistle.inbox import create_app

from .conftest import PASSWORD, Office, do_import, incoming, make_followup, make_submission

pytestmark = pytest.mark.slow
CHROMIUM = "/usr/lib/chromium/chromium"
AXE = Path(__file__).parents[2] / "node_modules" / "axe-core" / "axe.min.js"
TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
#: Not pages: files, images, CSV, the sign-in form's post, the root's redirect.
NOT_PAGES = (".csv", ".svg", ".png", "/download", "/static/")


@pytest.fixture
def served(office: Office) -> Iterator[tuple[str, list[str]]]:
    source, envelope = make_submission(
        office, subject="Obres <i>inflades</i>", files=[("factura.txt", b"ledger")]
    )
    do_import(office, [incoming("submission", source.case_id, envelope, "rec")])
    office.config.clock.advance(minutes=5)  # type: ignore[attr-defined]
    do_import(office, [incoming("followup", source.case_id, make_followup(office, source, "Més"))])
    app = create_app(office.config)
    pages = sorted(
        rule.rule
        for rule in app.url_map.iter_rules()
        if "GET" in (rule.methods or ())
        and not rule.arguments
        and not any(part in rule.rule for part in NOT_PAGES)
        and rule.rule != "/"
    )
    pages += [
        f"/cases/{source.case_id}",
        "/cases?q=inflades",
        "/officers/1",
        f"/cases/{source.case_id}/records/rec/files/0",
    ]
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}", pages
    server.shutdown()
    thread.join()


def _axe(page: Any, axe: str) -> list[Any]:
    page.add_script_tag(content=axe)
    return page.evaluate(  # type: ignore[no-any-return]
        "async (tags) => (await axe.run(document, {runOnly: {type: 'tag', values: tags}}))"
        ".violations.map(v => [v.id, v.impact, v.nodes.map(n => n.html).slice(0, 2)])",
        TAGS,
    )


def test_every_inbox_page_passes_axe(served: tuple[str, list[str]]) -> None:
    base, pages = served
    axe = AXE.read_text(encoding="utf-8")
    found: dict[str, Any] = {}
    statuses: dict[str, int] = {}
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-background-networking", "--no-first-run"],
        )
        context = browser.new_context(bypass_csp=True, viewport={"width": 1280, "height": 800})
        page = context.new_page()
        page.goto(f"{base}/login")
        found["login"] = _axe(page, axe)
        page.fill("#name", "admin")
        page.fill("#password", PASSWORD)
        page.click("main button[type=submit]")
        for lang in ("ca", "es", "en"):
            context.add_cookies([{"name": "whistle_lang", "value": lang, "url": base}])
            for path in pages:
                response = page.goto(f"{base}{path}")
                assert response is not None
                statuses[f"{lang} {path}"] = response.status
                if path.startswith("/cases/"):
                    page.evaluate(
                        "document.querySelectorAll('details').forEach(d => d.open = true)"
                    )
                found[f"{lang} {path}"] = _axe(page, axe)
                # Tables do not overflow at 1280 px (the register wrapped and overflowed).
                found[f"{lang} {path} overflow"] = page.evaluate(
                    "document.documentElement.scrollWidth > window.innerWidth"
                )
        browser.close()
    assert {k: v for k, v in statuses.items() if v != 200} == {}
    assert {name: v for name, v in found.items() if v} == {}
