"""The source's journey in Firefox ESR with JavaScript off (Tor Browser's *Safest*), on a
phone-sized window, driven over Marionette (tests/marionette.py): puppeteer's WebDriver BiDi
stalls at the first page change once scripts are off, Marionette does not need them."""

import base64
from pathlib import Path

import pytest

from tests.e2e.conftest import ARTIFACTS, FLOW, Site, leaks
from tests.marionette import ELEMENT, PREFS, Firefox, firefox
from tests.submit.conftest import insert_reply

pytestmark = pytest.mark.slow

SHOTS = ARTIFACTS / "firefox" / "javascript-off-phone"


def _field(browser: Firefox, label: str) -> str:
    """The id of the control whose label starts with ``label``."""
    found = browser.value(
        "WebDriver:FindElement",
        {"using": "xpath", "value": f"//label[starts-with(normalize-space(), {label!r})]"},
    )
    return str(
        browser.value("WebDriver:GetElementAttribute", {"id": found[ELEMENT], "name": "for"})
    )


def _button(browser: Firefox, name: str) -> None:
    found = browser.value(
        "WebDriver:FindElement",
        {"using": "xpath", "value": f"//main//button[normalize-space()={name!r}]"},
    )
    browser.send("WebDriver:ElementClick", {"id": found[ELEMENT]})


def _shot(browser: Firefox, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    picture = browser.value("WebDriver:TakeScreenshot", {"full": True})
    (SHOTS / f"{name}.png").write_bytes(base64.b64decode(picture))


def test_the_journey_in_firefox_with_javascript_off_on_a_phone(site: Site, tmp_path: Path) -> None:
    report = FLOW["report"]
    attachment = tmp_path / report["files"][0]["name"]
    attachment.write_text(report["files"][0]["content"], encoding="utf-8")
    site.recorder.clear()
    with firefox({**PREFS, "javascript.enabled": False}) as browser:
        browser.send("WebDriver:SetWindowRect", {"width": 375, "height": 812})
        browser.go(f"{site.base}/language/en?next=/report")
        for entry in report["fields"]:
            browser.fill(f"#{_field(browser, entry['label'])}", entry["value"])
        browser.fill("input[type=file]", str(attachment))
        browser.click(f"#{_field(browser, report['accept'])}")
        _shot(browser, "01-report")
        _button(browser, report["submit"])

        code = browser.text("#code")
        assert len(code.replace(" ", "")) == 22
        _shot(browser, "02-receipt")
        browser.click("#written")
        _button(browser, FLOW["receipt"]["done"])
        assert FLOW["receipt"]["thanks"] in browser.text("main")

        insert_reply(site.app, code, site.office, FLOW["reply"])
        browser.go(f"{site.base}/check-in")
        browser.fill("#code", code)
        _button(browser, "Check in")
        conversation = browser.text("main")
        assert FLOW["reply"] in conversation
        assert report["fields"][0]["value"] in conversation  # their report, in context
        _shot(browser, "03-conversation")

        browser.fill("#message", FLOW["followup"]["message"])
        _button(browser, FLOW["followup"]["submit"])
        assert FLOW["followup"]["sent"] in browser.text("main")
        _shot(browser, "04-sent")

    posts = [path for method, path, _body in site.recorder.bodies if method == "POST"]
    assert posts == ["/report", "/receipt", "/check-in", "/follow-up"]  # the plain forms only
    # With JavaScript off the server sees the text, as it must; the code never travels back
    # except typed into the check-in form.
    canonical = code.replace(" ", "")
    assert [hit for hit in leaks(site.recorder.bodies, [canonical]) if "/check-in" not in hit] == []
