"""One-off accessibility audit of the submission site's pages with axe-core.

axe-core cannot run in a page with JavaScript off (FIELD-NOTES), so the JS-off pages are
audited in a JavaScript-on Chromium with the CSP bypassed. Needs axe-core from npm:

    npm install --prefix /tmp/axe axe-core@4
    .venv/bin/python scripts/submit_a11y_audit.py /tmp/axe/node_modules/axe-core/axe.min.js
"""

import sys
import tempfile
import threading
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from playwright.sync_api import Page, sync_playwright
from werkzeug.serving import WSGIRequestHandler, make_server

from tests.submit.conftest import insert_reply, make_office
from whistle.submit import create_app, load_config
from whistle.submit.datadir import init_data_directory

RULES = "['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice']"


class Quiet(WSGIRequestHandler):
    def log_request(self, *args: object, **kwargs: object) -> None:
        pass


def main() -> None:
    axe = Path(sys.argv[1]).read_text()
    directory = Path(tempfile.mkdtemp()) / "data"
    office = make_office()
    init_data_directory(directory, office.card, fingerprint=office.fingerprint, language="en")
    app = create_app(load_config(directory))
    server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=Quiet)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_port}"
    failures = 0

    def audit(page: Page, name: str) -> None:
        nonlocal failures
        page.add_script_tag(content=axe)
        found = page.evaluate(
            "async () => (await axe.run(document, {runOnly: " + RULES + "})).violations"
            ".map(v => [v.id, v.impact, v.nodes.map(n => n.html).slice(0, 2)])"
        )
        failures += len(found)
        print(f"{name}: {found or 'no violations'}")

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path="/usr/lib/chromium/chromium", args=["--no-sandbox"]
        )
        page = browser.new_context(bypass_csp=True).new_page()
        for lang in ("ca", "es", "en"):
            page.goto(f"{base}/language/{lang}")
            for url in ("/", "/report", "/check-in", "/channels", "/about", "/nowhere"):
                page.goto(base + url)
                audit(page, f"{lang} {url}")
        page.goto(base + "/report")
        page.evaluate("document.querySelector('form').noValidate = true")
        page.click("button[type=submit]")
        audit(page, "report with errors")
        page.goto(base + "/report")
        page.fill("#q_subject", "s")
        page.fill("#q_description", "d")
        page.check("#accept")
        page.click("button[type=submit]")
        audit(page, "receipt")
        code = page.inner_text("#code")
        insert_reply(app, code, office, "reply")
        page.goto(base + "/check-in")
        page.fill("#code", code)
        page.click("button[type=submit]")
        audit(page, "conversation")
        page.goto(base + "/check-in")
        page.fill("#code", "AAAA")
        page.click("button[type=submit]")
        audit(page, "check-in with an error")
        browser.close()
    server.shutdown()
    raise SystemExit(1 if failures else 0)


if __name__ == "__main__":
    main()
