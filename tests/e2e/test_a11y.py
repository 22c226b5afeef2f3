"""axe-core (npm axe-core) on every source page: no WCAG 2.1 A/AA violation.

JavaScript-on pages are audited as they are (the bundle runs); JavaScript-off pages in the
same JavaScript-on Chromium with the bundle blocked (axe cannot run with JavaScript off,
FIELD-NOTES). The CSP is bypassed for the audit so that axe itself can be injected.
As scripts/submit_a11y_audit.py does, one page after another; screenshots of each, saved in
test-artifacts/a11y/javascript-{off,on}-{desktop,phone}/: every source page and state (errors,
receipt, a mistyped code with its character marked, the conversation, the follow-up) in ca, es
and en, at 1280×800 and on a 390×844 phone."""

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import ARTIFACTS, FLOW, ROOT, Site
from tests.e2e.test_chromium import CHROMIUM, FLAGS, WAIT_MS
from tests.submit.conftest import insert_reply

pytestmark = pytest.mark.slow
AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
        yield launched
        launched.close()


class Audit:
    def __init__(self, mode: str) -> None:
        self.axe = AXE.read_text(encoding="utf-8")
        self.found: dict[str, list[Any]] = {}
        self.directory = ARTIFACTS / "a11y" / mode
        self.directory.mkdir(parents=True, exist_ok=True)
        self.count = 0

    def __call__(self, page: Any, name: str) -> None:
        self.count += 1
        page.screenshot(path=str(self.directory / f"{self.count:02d}-{name}.png"), full_page=True)
        page.add_script_tag(content=self.axe)
        violations = page.evaluate(
            "async (tags) => (await axe.run(document, {runOnly: {type: 'tag', values: tags}}))"
            ".violations.map(v => [v.id, v.impact, v.nodes.map(n => n.html).slice(0, 2)])",
            TAGS,
        )
        if violations:
            self.found[name] = violations


def _fill_report(page: Any, tmp_path: Path) -> None:
    report = FLOW["report"]
    for field_id, entry in zip(("#q_subject", "#q_description"), report["fields"], strict=True):
        page.locator(field_id).fill(entry["value"])
    path = tmp_path / report["files"][0]["name"]
    path.write_text(report["files"][0]["content"])
    page.locator("#files").set_input_files(str(path))
    page.locator("#accept").check()


VIEWPORTS = {"desktop": {"width": 1280, "height": 800}, "phone": {"width": 390, "height": 844}}
LANGS = ("ca", "es", "en")


CODE_SHOWN = (
    "() => { const c = document.getElementById('code'); return c && c.textContent.trim(); }"
)


def _submit(page: Any) -> None:
    page.locator("#report-form button[type=submit]").click()


def _check_in(page: Any, code: str) -> None:
    page.locator("#checkin-form #code").fill(code)
    page.locator("#checkin-form button[type=submit]").click()


@pytest.mark.parametrize("viewport", VIEWPORTS)
def test_javascript_off_pages(browser: Any, site: Site, tmp_path: Path, viewport: str) -> None:
    context = browser.new_context(bypass_csp=True, viewport=VIEWPORTS[viewport])
    context.route("**/static/build/**", lambda route: route.abort())
    page = context.new_page()
    audit = Audit(f"javascript-off-{viewport}")
    base = site.base
    for lang in LANGS:
        page.goto(f"{base}/language/{lang}")
        for url in ("/", "/report", "/check-in", "/channels", "/about", "/nowhere"):
            page.goto(base + url)
            audit(page, f"{lang}{url.replace('/', '-')}")
        page.goto(base + "/report")
        page.evaluate("document.querySelector('#report-form').noValidate = true")
        _submit(page)
        audit(page, f"{lang}-report-with-errors")
        page.goto(base + "/report")
        _fill_report(page, tmp_path)
        _submit(page)
        audit(page, f"{lang}-receipt")
        code = page.locator("#code").inner_text()
        page.locator("#main form button[type=submit]").click()
        audit(page, f"{lang}-receipt-not-confirmed")
        page.locator("#written").check()
        page.locator("#main form button[type=submit]").click()
        audit(page, f"{lang}-receipt-done")
        insert_reply(site.app, code, site.office, FLOW["reply"])
        page.goto(base + "/check-in")
        _check_in(page, "AAAA")
        audit(page, f"{lang}-check-in-not-a-code")
        compact = code.replace(" ", "")
        wrong = "Z" if compact[5] != "Z" else "Y"
        _check_in(page, compact[:5] + wrong + compact[6:])
        audit(page, f"{lang}-check-in-mistyped")
        _check_in(page, code)
        audit(page, f"{lang}-conversation")
        page.evaluate("document.querySelectorAll('form').forEach(f => f.noValidate = true)")
        page.locator("form:has(#message) button[type=submit]").click()
        audit(page, f"{lang}-follow-up-with-errors")
        page.locator("#message").fill("more")
        page.locator("form:has(#message) button[type=submit]").click()
        audit(page, f"{lang}-follow-up-sent")
    context.close()
    assert not audit.found, audit.found


@pytest.mark.parametrize("viewport", VIEWPORTS)
def test_javascript_on_pages(browser: Any, site: Site, tmp_path: Path, viewport: str) -> None:
    context = browser.new_context(bypass_csp=True, viewport=VIEWPORTS[viewport])
    page = context.new_page()
    audit = Audit(f"javascript-on-{viewport}")
    base = site.base
    for lang in LANGS:
        page.goto(f"{base}/language/{lang}?next=/report")
        page.wait_for_selector("html[data-encryption=page]", timeout=WAIT_MS)
        audit(page, f"{lang}-report")
        page.goto(f"{base}/check-in")
        page.wait_for_selector("html[data-encryption=page]", timeout=WAIT_MS)
        audit(page, f"{lang}-check-in")
        page.goto(f"{base}/report")
        page.wait_for_selector("html[data-encryption=page]", timeout=WAIT_MS)
        _fill_report(page, tmp_path)
        big = tmp_path / "big.bin"
        with big.open("wb") as handle:
            handle.truncate(FLOW["limit_bytes"] + 1)
        page.locator("#files").set_input_files(str(big))
        _submit(page)
        page.locator("#sealed-error").wait_for()
        audit(page, f"{lang}-report-refused-in-page")
        page.goto(f"{base}/report")
        page.wait_for_selector("html[data-encryption=page]", timeout=WAIT_MS)
        _fill_report(page, tmp_path)
        _submit(page)
        page.wait_for_function(CODE_SHOWN, timeout=WAIT_MS)
        audit(page, f"{lang}-receipt")
        code = page.locator("#code").inner_text()
        insert_reply(site.app, code, site.office, FLOW["reply"])
        page.locator("#written").check()
        page.locator("#main form button[type=submit]").click()
        page.wait_for_selector("#main form", state="detached")
        page.goto(f"{base}/check-in")
        page.wait_for_selector("html[data-encryption=page]", timeout=WAIT_MS)
        _check_in(page, "AAAA")
        page.locator("#code-error").wait_for()
        audit(page, f"{lang}-check-in-bad-code")
        compact = code.replace(" ", "")
        wrong = "Z" if compact[5] != "Z" else "Y"
        _check_in(page, compact[:5] + wrong + compact[6:])
        page.locator("#code-error mark").wait_for()
        audit(page, f"{lang}-check-in-mistyped")
        _check_in(page, code)
        page.wait_for_selector("#sealed-conversation:not([hidden])", timeout=WAIT_MS)
        audit(page, f"{lang}-conversation")
        page.locator("#sealed-message").fill("more")
        page.locator("#sealed-followup button[type=submit]").click()
        page.wait_for_selector("#sealed-sent h3", timeout=WAIT_MS)
        audit(page, f"{lang}-follow-up-sent")
    context.close()
    assert not audit.found, audit.found
