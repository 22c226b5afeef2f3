"""The source's pages with JavaScript on, in Debian's Chromium against the real server: the
language switch keeps what was typed (report, receipt, conversation), and every answer the page
script can get is said in its own words (issue 22)."""

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import FLOW, Site
from tests.e2e.test_chromium import CHROMIUM, FLAGS, WAIT_MS, Shots, _files
from tests.submit.conftest import insert_reply, submit_report
from whistle.crypto import format_code, generate_code

pytestmark = pytest.mark.slow

REPORT = FLOW["report"]
POSTS_SEALED = {"/report/sealed", "/check-in/sealed", "/follow-up/sealed"}


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
        yield browser
        browser.close()


@pytest.fixture
def page(chromium: Any) -> Iterator[Any]:
    context = chromium.new_context()
    page = context.new_page()
    yield page
    context.close()


def _posts(site: Site) -> list[str]:
    return [p for m, p, _b in site.recorder.bodies if m == "POST"]


def _ready(page: Any, site: Site, path: str, lang: str = "en") -> None:
    page.goto(f"{site.base}/language/{lang}?next={path}")
    page.wait_for_selector("html[data-encryption=page]", timeout=WAIT_MS)


def _fill_report(page: Any, tmp_path: Path) -> None:
    for entry in REPORT["fields"] + REPORT["identification"]:
        page.get_by_label(entry["label"], exact=False).first.fill(entry["value"])
    page.get_by_label(REPORT["identified"], exact=False).check()
    page.get_by_label(REPORT["category"]["label"]).select_option(label=REPORT["category"]["choice"])
    page.get_by_label(REPORT["meeting"], exact=False).check()
    page.get_by_label(REPORT["availability"]["label"]).fill(REPORT["availability"]["value"])
    page.locator("#files").set_input_files(_files(tmp_path, REPORT["files"]))
    page.get_by_label(REPORT["accept"], exact=False).check()


def _report_state(page: Any) -> dict[str, Any]:
    return page.evaluate(
        """() => {
        const f = document.getElementById('report-form');
        return {
          values: Array.from(f.querySelectorAll(
              'input:not([type=hidden]):not([type=file]), textarea, select'
            )).map((e) => e.type === 'checkbox' || e.type === 'radio' ? e.checked : e.value),
          files: Array.from(f.elements.files.files).map((file) => file.name),
        };
      }"""
    )


def _switch(page: Any, name: str, lang: str) -> None:
    page.get_by_role("button", name=name).or_(page.get_by_role("link", name=name)).click()
    page.wait_for_selector(f'html[lang="{lang}"]')
    page.wait_for_function(
        "() => document.querySelector('p.visually-hidden[role=status]').textContent !== ''"
    )


def _code_for_check_in(site: Site) -> str:
    code = submit_report(site.app.test_client())
    insert_reply(site.app, code, site.office, FLOW["reply"])
    return code


def test_the_report_form_keeps_everything_across_a_language_switch(
    page: Any, site: Site, tmp_path: Path
) -> None:
    shots = Shots("language-switch-js")
    _ready(page, site, "/report")
    _fill_report(page, tmp_path)
    before = _report_state(page)
    page.get_by_label(REPORT["fields"][1]["label"], exact=False).first.focus()
    site.recorder.clear()
    _switch(page, "Español", "es")
    # Only GETs: nothing typed went anywhere.
    assert _posts(site) == []
    assert _report_state(page) == before
    assert "Make a report" not in page.title()
    heading = page.locator("#main h1").inner_text()
    assert heading != "Make a report"
    assert page.locator("#report-form").get_attribute("data-lang") == "es"
    assert page.url.endswith("/report")
    assert page.locator("p.visually-hidden[role=status]").inner_text() == (
        "Esta página ahora está en español. Lo que ha escrito sigue aquí."
    )
    # The encryption is still ready, its texts now in Spanish.
    assert "Encryption" not in page.locator("#mode").inner_text()
    shots(page, "report-es")
    # And back: still everything there; then sent, in the language now shown.
    _switch(page, "Català", "ca")
    assert _report_state(page) == before
    page.locator("#report-form button[type=submit]").click()
    page.wait_for_function(
        "() => { const c = document.getElementById('code'); return c && c.textContent.trim(); }",
        timeout=WAIT_MS,
    )
    code = page.locator("#code").inner_text()
    assert page.locator("#main h1").inner_text() == "Comunicació rebuda: anoteu el vostre codi"
    assert _posts(site) == ["/report/sealed"]
    shots(page, "receipt-ca")
    # The receipt re-shows itself in another language, with the same code; the site's links
    # are not offered, and leaving still asks first.
    page.get_by_label("He anotat el codi").check()
    _switch(page, "English", "en")
    assert page.locator("#code").inner_text() == code
    assert page.get_by_role("heading", name="Report received: write down your code").is_visible()
    assert page.get_by_label(FLOW["receipt"]["written"]).is_checked()
    assert page.locator("header nav:not(.langs)").is_hidden()
    leaving = (
        "() => { const e = new Event('beforeunload', {cancelable: true});"
        " window.dispatchEvent(e); return e.defaultPrevented; }"
    )
    assert page.evaluate(leaving) is True
    shots(page, "receipt-en")
    page.get_by_role("button", name=FLOW["receipt"]["done"]).click()
    assert page.get_by_role("heading", name=FLOW["receipt"]["thanks"]).is_visible()


def test_the_conversation_and_a_reply_being_written_survive_a_language_switch(
    page: Any, site: Site, tmp_path: Path
) -> None:
    shots = Shots("language-switch-js")
    code = _code_for_check_in(site)
    _ready(page, site, "/check-in")
    page.get_by_label("Your code").fill(code)
    page.get_by_role("button", name="Check in").click()
    page.wait_for_selector("#sealed-conversation:not([hidden])", timeout=WAIT_MS)
    message = page.locator("#sealed-message")
    message.fill("Half a message, not sent yet")
    page.locator("#sealed-files").set_input_files(_files(tmp_path, FLOW["followup"]["files"]))
    site.recorder.clear()
    _switch(page, "Català", "ca")
    assert _posts(site) == []
    main = page.locator("#main").inner_text()
    assert FLOW["reply"] in main
    assert "Reply from the office" not in main
    assert "Status: acknowledged" not in main
    assert message.input_value() == "Half a message, not sent yet"
    assert page.evaluate("document.getElementById('sealed-files').files.length") == 1
    # The page's own words, and the page's texts for the script, in Catalan.
    assert page.locator("#sealed-case-status").inner_text() != ""
    assert page.locator("#sealed-texts").get_attribute("data-reply") != "Reply from the office"
    shots(page, "conversation-ca")
    page.locator("#sealed-followup button[type=submit]").click()
    page.locator("#sealed-sent h3").wait_for(timeout=WAIT_MS)
    assert page.locator("#sealed-sent h3").inner_text() != FLOW["followup"]["sent"]
    _switch(page, "English", "en")
    assert page.locator("#sealed-sent h3").inner_text() == FLOW["followup"]["sent"]
    assert FLOW["reply"] in page.locator("#main").inner_text()
    shots(page, "follow-up-sent-en")


def test_when_the_page_cannot_be_fetched_the_switch_leaves_and_the_browser_asks(
    page: Any, site: Site
) -> None:
    _ready(page, site, "/report")
    page.get_by_label(REPORT["fields"][0]["label"], exact=False).first.fill("typed")

    def refuse_fetch(route: Any) -> None:
        if route.request.resource_type == "fetch":
            route.abort()
        else:
            route.continue_()

    page.route(re.compile(r".*/language/.*"), refuse_fetch)
    with page.expect_event("dialog", timeout=WAIT_MS) as asked:
        page.get_by_role("button", name="Català").click(no_wait_after=True)
    assert asked.value.type == "beforeunload"
    asked.value.dismiss()
    # Dismissed: the page and what was typed stay.
    assert page.locator("html").get_attribute("lang") == "en"
    field = page.get_by_label(REPORT["fields"][0]["label"], exact=False).first
    assert field.input_value() == "typed"


def _error_box(page: Any) -> Any:
    box = page.locator("#sealed-error")
    box.wait_for(timeout=WAIT_MS)
    assert box.get_attribute("role") == "alert"
    assert "errors" in (box.get_attribute("class") or "")
    assert page.evaluate("document.activeElement.id") == "sealed-error"
    return box


def _plain_offered(page: Any) -> bool:
    return bool(page.get_by_role("button", name="Use the plain form").is_visible())


def test_a_busy_server_at_check_in_says_so_and_keeps_the_code(page: Any, site: Site) -> None:
    _ready(page, site, "/check-in")
    code = format_code(generate_code())
    page.get_by_label("Your code").fill(code)
    with site.app.extensions["whistle_submit"].lookup_slots.all_taken():
        page.get_by_role("button", name="Check in").click()
        box = _error_box(page)
    assert "Too many people are checking in" in box.inner_text()
    assert "Nothing was sent. Reason" not in box.inner_text()
    assert not _plain_offered(page)
    assert page.locator("html").get_attribute("data-encryption-failed") is None
    assert page.get_by_label("Your code").input_value() == code
    # Beside the button, so it is on screen on a phone.
    assert (
        page.evaluate(
            "document.querySelector('#checkin-form button[type=submit]').nextElementSibling.id"
        )
        == "sealed-error"
    )
    page.set_viewport_size({"width": 375, "height": 812})
    assert box.is_visible()
    Shots("errors-js")(page, "busy-phone")


def test_a_rate_limit_answer_says_to_wait(page: Any, site: Site) -> None:
    """The server has no rate limit of its own; a 429 comes from a proxy in front of it, so
    this one is answered by route interception."""
    _ready(page, site, "/check-in")
    page.route(
        re.compile(r".*/check-in/sealed$"),
        lambda route: route.fulfill(status=429, body="Too Many Requests"),
    )
    page.get_by_label("Your code").fill(format_code(generate_code()))
    page.get_by_role("button", name="Check in").click()
    box = _error_box(page)
    assert "Wait a minute" in box.inner_text()
    assert not _plain_offered(page)
    Shots("errors-js")(page, "rate-limit")


def test_a_lost_connection_says_so_and_keeps_the_report(
    page: Any, site: Site, tmp_path: Path
) -> None:
    """A connection that drops cannot be made on demand on loopback: the request is aborted."""
    _ready(page, site, "/report")
    _fill_report(page, tmp_path)
    page.route(re.compile(r".*/report/sealed\?.*"), lambda route: route.abort())
    page.get_by_role("button", name=REPORT["submit"]).click()
    box = _error_box(page)
    assert "connection to the site was lost" in box.inner_text()
    assert not _plain_offered(page)
    assert (
        page.get_by_label(REPORT["fields"][0]["label"], exact=False).first.input_value()
        == REPORT["fields"][0]["value"]
    )
    assert page.locator("#report-form").get_attribute("aria-busy") is None
    Shots("errors-js")(page, "connection")


def test_a_file_over_the_servers_limit_is_said_as_too_large(
    page: Any, site: Site, tmp_path: Path
) -> None:
    """The page checks the limit it was given; a page that holds a larger one (the server's
    limit lowered since) gets the server's 413, said as too large, not as a failure."""
    _ready(page, site, "/report")
    page.evaluate("document.getElementById('report-form').dataset.maxBytes = '100000000'")
    big = tmp_path / "big.bin"
    with big.open("wb") as handle:
        handle.truncate(FLOW["limit_bytes"] * 3)  # over the limit and the form's allowance
    for entry in REPORT["fields"]:
        page.get_by_label(entry["label"], exact=False).first.fill(entry["value"])
    page.locator("#files").set_input_files(str(big))
    page.get_by_label(REPORT["accept"], exact=False).check()
    site.recorder.clear()
    page.get_by_role("button", name=REPORT["submit"]).click()
    box = _error_box(page)
    assert "Too large" in box.inner_text()
    assert not _plain_offered(page)
    assert _posts(site) == ["/report/sealed"]
    Shots("errors-js")(page, "too-large-server")


def test_an_expired_session_is_renewed_and_nothing_is_lost(page: Any, site: Site) -> None:
    """The session cookie is gone (as after hours): the server refuses the CSRF token, the
    page fetches itself for a new one and sends again; the unknown code is then said as such."""
    _ready(page, site, "/check-in")
    page.context.clear_cookies()
    site.recorder.clear()
    page.get_by_label("Your code").fill(format_code(generate_code()))
    page.get_by_role("button", name="Check in").click()
    page.wait_for_function(
        "() => document.getElementById('code-error-text').textContent.includes('unknown')",
        timeout=WAIT_MS,
    )
    assert _posts(site) == ["/check-in/sealed", "/check-in/sealed"]
    assert page.locator("#sealed-error").is_hidden()


def test_a_session_that_cannot_be_renewed_says_so(page: Any, site: Site) -> None:
    _ready(page, site, "/check-in")
    page.route(
        re.compile(r".*/check-in/sealed$"),
        lambda route: route.fulfill(
            status=400, json={"error": "Your session had expired", "reason": "expired"}
        ),
    )
    page.get_by_label("Your code").fill(format_code(generate_code()))
    page.get_by_role("button", name="Check in").click()
    box = _error_box(page)
    assert "could not be renewed" in box.inner_text()
    assert not _plain_offered(page)


def test_keys_for_a_retired_epoch_take_the_new_page(page: Any, site: Site) -> None:
    """A page loaded before a key change: the server says 409; the page takes the fresh keys
    and asks the source to press again (what was encrypted to the old keys is not resent)."""
    _ready(page, site, "/check-in")
    code = _code_for_check_in(site)
    page.get_by_label("Your code").fill(code)
    page.get_by_role("button", name="Check in").click()
    page.wait_for_selector("#sealed-conversation:not([hidden])", timeout=WAIT_MS)
    page.evaluate(
        "() => { const f = document.getElementById('checkin-form');"
        " f.dataset.followupAction = f.dataset.followupAction.replace(/epoch=\\d+/, 'epoch=0'); }"
    )
    page.locator("#sealed-message").fill("kept across the refusal")
    page.locator("#sealed-followup button[type=submit]").click()
    box = _error_box(page)
    assert "changed its keys" in box.inner_text()
    action = page.locator("#checkin-form").get_attribute("data-followup-action")
    assert action
    assert "epoch=0" not in action
    assert page.locator("#sealed-message").input_value() == "kept across the refusal"
    page.locator("#sealed-followup button[type=submit]").click()
    page.locator("#sealed-sent h3").wait_for(timeout=WAIT_MS)


def test_enter_in_a_field_of_the_report_is_not_a_language_switch(page: Any, site: Site) -> None:
    """The first language button is the form's first submit button, so Enter in a field
    "clicks" it: with JavaScript on that is neither a switch nor a send."""
    # A switch would call fetch at once, inside the key press.
    page.add_init_script(
        "const f = window.fetch; window.fetched = 0;"
        " window.fetch = (...a) => {"
        " if (String(a[0]).includes('/language/')) window.fetched += 1; return f(...a); };"
    )
    _ready(page, site, "/report")
    field = page.locator("#report-form input:not([type])").first
    field.fill("typed")
    site.recorder.clear()
    field.press("Enter")
    assert page.evaluate("window.fetched") == 0
    assert page.locator("html").get_attribute("lang") == "en"
    assert field.input_value() == "typed"
    assert _posts(site) == []
    # A real press of the button does switch.
    page.get_by_role("button", name="Català").press("Enter")
    page.wait_for_selector('html[lang="ca"]')
    assert field.input_value() == "typed"
