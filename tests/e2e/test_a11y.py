"""axe-core (npm axe-core) on every source page: no WCAG 2.1 A/AA violation.

JavaScript-on pages are audited as they are (the bundle runs); JavaScript-off pages in the
same JavaScript-on Chromium with the bundle blocked (axe cannot run with JavaScript off,
FIELD-NOTES). The CSP is bypassed for the audit so that axe itself can be injected.
As scripts/submit_a11y_audit.py does, one page after another; screenshots of each."""

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
    for entry in report["fields"]:
        page.get_by_label(entry["label"], exact=False).first.fill(entry["value"])
    path = tmp_path / report["files"][0]["name"]
    path.write_text(report["files"][0]["content"])
    page.get_by_label("Files (optional)").set_input_files(str(path))
    page.get_by_label(report["accept"], exact=False).check()


def test_javascript_off_pages(browser: Any, site: Site, tmp_path: Path) -> None:
    context = browser.new_context(bypass_csp=True)
    context.route("**/static/build/**", lambda route: route.abort())
    page = context.new_page()
    audit = Audit("javascript-off")
    base = site.base
    for lang in ("ca", "es", "en"):
        page.goto(f"{base}/language/{lang}")
        for url in ("/", "/report", "/check-in", "/channels", "/about", "/nowhere"):
            page.goto(base + url)
            audit(page, f"{lang}{url.replace('/', '-')}")
    page.goto(base + "/report")
    page.evaluate("document.querySelector('#report-form').noValidate = true")
    page.get_by_role("button", name=FLOW["report"]["submit"]).click()
    audit(page, "report-with-errors")
    page.goto(base + "/report")
    _fill_report(page, tmp_path)
    page.get_by_role("button", name=FLOW["report"]["submit"]).click()
    audit(page, "receipt")
    code = page.locator("#code").inner_text()
    page.get_by_role("button", name="Done").click()
    audit(page, "receipt-not-confirmed")
    insert_reply(site.app, code, site.office, FLOW["reply"])
    page.goto(base + "/check-in")
    page.get_by_label("Your code").fill("AAAA")
    page.get_by_role("button", name="Check in").click()
    audit(page, "check-in-with-error")
    page.get_by_label("Your code").fill(code)
    page.get_by_role("button", name="Check in").click()
    audit(page, "conversation")
    page.evaluate("document.querySelectorAll('form').forEach(f => f.noValidate = true)")
    page.get_by_role("button", name="Send the message").click()
    audit(page, "follow-up-with-errors")
    page.get_by_label("Your message").fill("more")
    page.get_by_role("button", name="Send the message").click()
    audit(page, "follow-up-sent")
    context.close()
    assert not audit.found, audit.found


def test_javascript_on_pages(browser: Any, site: Site, tmp_path: Path) -> None:
    context = browser.new_context(bypass_csp=True)
    page = context.new_page()
    audit = Audit("javascript-on")
    base = site.base
    for lang in ("ca", "es", "en"):
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
    page.get_by_label("Files (optional)").set_input_files(str(big))
    page.get_by_role("button", name=FLOW["report"]["submit"]).click()
    page.locator("#sealed-error").wait_for()
    audit(page, "report-refused-in-page")
    page.goto(f"{base}/report")
    page.wait_for_selector("html[data-encryption=page]", timeout=WAIT_MS)
    _fill_report(page, tmp_path)
    page.get_by_role("button", name=FLOW["report"]["submit"]).click()
    page.wait_for_function(
        "() => { const c = document.getElementById('code'); return c && c.textContent.trim(); }",
        timeout=WAIT_MS,
    )
    audit(page, "receipt")
    code = page.locator("#code").inner_text()
    insert_reply(site.app, code, site.office, FLOW["reply"])
    page.goto(f"{base}/check-in")
    page.wait_for_selector("html[data-encryption=page]", timeout=WAIT_MS)
    page.get_by_label("Your code").fill("AAAA")
    page.get_by_role("button", name="Check in").click()
    page.locator("#code-error").wait_for()
    audit(page, "check-in-bad-code")
    page.get_by_label("Your code").fill(code)
    page.get_by_role("button", name="Check in").click()
    page.wait_for_selector("#sealed-conversation:not([hidden])", timeout=WAIT_MS)
    audit(page, "conversation")
    page.get_by_label("Your message").fill("more")
    page.get_by_role("button", name="Send the message").click()
    page.wait_for_selector("#sealed-sent:not([hidden])", timeout=WAIT_MS)
    audit(page, "follow-up-sent")
    context.close()
    assert not audit.found, audit.found
