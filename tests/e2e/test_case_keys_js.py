"""Follow-ups sealed to their case's key from the page (docs/protocol.md §17), in Debian's
Chromium against the real server: once the office announced the case's key in a replies bundle,
the page seals to it alone; a changed key between check-in and send is refused by the server and
said by the page, the message kept; an announcement that does not verify sends nothing."""

import base64
import re
from collections.abc import Iterator
from typing import Any

import pytest

from tests.e2e.conftest import (
    FLOW,
    Site,
    announce_case_key,
    case_of,
    opens_with_the_case_key_alone,
    stored_followups,
)
from tests.e2e.test_chromium import CHROMIUM, FLAGS, WAIT_MS, Shots
from tests.submit.conftest import insert_reply, submit_report
from whistle.crypto import (
    generate_box_keypair,
    generate_signing_keypair,
)
from whistle.crypto.case_keys import CaseKeyAnnouncement, sign_case_key

pytestmark = pytest.mark.slow


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


def _checked_in(page: Any, site: Site, code: str) -> None:
    page.goto(f"{site.base}/language/en?next=/check-in")
    page.wait_for_selector("html[data-encryption=page]", timeout=WAIT_MS)
    page.get_by_label("Your code").fill(code)
    page.get_by_role("button", name="Check in").click()
    page.wait_for_selector("#sealed-conversation:not([hidden])", timeout=WAIT_MS)


def _new_case(site: Site) -> tuple[str, bytes, Any]:
    code = submit_report(site.app.test_client())
    insert_reply(site.app, code, site.office, FLOW["reply"])
    case_id, keys = case_of(site, code)
    return code, case_id, keys


def _send(page: Any) -> Any:
    """Presses the button; the follow-up POST's request."""
    with page.expect_request(
        lambda r: r.method == "POST" and "/follow-up/sealed" in r.url, timeout=WAIT_MS
    ) as sent:
        page.locator("#sealed-followup button[type=submit]").click()
    return sent.value


def test_a_follow_up_goes_to_the_announced_case_key_alone(page: Any, site: Site) -> None:
    code, case_id, keys = _new_case(site)
    case_key = generate_box_keypair()
    announce_case_key(site, case_id, 4, case_key)
    _checked_in(page, site, code)
    page.locator("#sealed-message").fill("Only for those who hold this case")
    request = _send(page)
    page.locator("#sealed-sent h3").wait_for(timeout=WAIT_MS)
    assert f"case_key={case_key.public_key.hex()}" in request.url
    assert "copy=" in request.url
    assert "epoch=" in request.url
    [(sealed_to, envelope)] = stored_followups(site, case_id)
    assert sealed_to == case_key.public_key
    message = opens_with_the_case_key_alone(site, envelope, case_id, keys, case_key)
    assert message == "Only for those who hold this case"


@pytest.mark.parametrize("again", [2, 1], ids=["newer generation", "same generation"])
def test_a_key_changed_since_check_in_is_said_and_the_message_kept(
    page: Any, site: Site, again: int
) -> None:
    """The officer stepped aside meanwhile (generation 2), or an inbox restored from an older
    backup made generation 1 again with another key: the page posts the key it sealed to, so
    the server refuses both."""
    code, case_id, keys = _new_case(site)
    older = generate_box_keypair()
    announce_case_key(site, case_id, 1, older)
    _checked_in(page, site, code)
    newer = generate_box_keypair()
    announce_case_key(site, case_id, again, newer)
    page.set_viewport_size({"width": 375, "height": 812})
    page.locator("#sealed-message").fill("Written before the office changed the key")
    request = _send(page)
    assert f"case_key={older.public_key.hex()}" in request.url
    box = page.locator("#sealed-error")
    box.wait_for(timeout=WAIT_MS)
    assert "changed the keys of your case" in box.inner_text()
    assert not page.get_by_role("button", name="Use the plain form").is_visible()
    assert page.evaluate("document.activeElement.id") == "sealed-error"
    assert box.is_visible()
    assert page.locator("#sealed-message").input_value() == (
        "Written before the office changed the key"
    )
    assert stored_followups(site, case_id) == []  # nothing stored
    if again == 2:
        Shots("case-keys-js")(page, "case-key-changed-phone")
    # Pressed again: sealed to the new key, which the page took when it checked in again.
    request = _send(page)
    page.locator("#sealed-sent h3").wait_for(timeout=WAIT_MS)
    assert f"case_key={newer.public_key.hex()}" in request.url
    [(sealed_to, envelope)] = stored_followups(site, case_id)
    assert sealed_to == newer.public_key
    message = opens_with_the_case_key_alone(site, envelope, case_id, keys, newer)
    assert message == "Written before the office changed the key"


@pytest.mark.parametrize("forgery", ["another office key", "another case"])
def test_an_announcement_that_does_not_verify_sends_nothing(
    page: Any, site: Site, forgery: str
) -> None:
    """A server that hands the page a key the office did not sign for this case (answered here
    by route interception: the real server only serves what it verified) gets nothing."""
    code, case_id, _keys = _new_case(site)
    seed = generate_signing_keypair().seed if forgery == "another office key" else None
    case = bytes(16) if forgery == "another case" else case_id
    announcement = sign_case_key(
        seed or site.office.signing_seed,
        CaseKeyAnnouncement(case, 1, generate_box_keypair().public_key),
    )

    def forged(route: Any) -> None:
        answer = route.fetch().json()
        answer["case_key"] = base64.b64encode(announcement).decode()
        route.fulfill(json=answer)

    page.route(re.compile(r".*/check-in/sealed$"), forged)
    _checked_in(page, site, code)
    posted: list[str] = []
    page.on("request", lambda r: posted.append(r.url) if r.method == "POST" else None)
    page.locator("#sealed-message").fill("Never sent to a key the office did not sign")
    page.locator("#sealed-followup button[type=submit]").click()
    box = page.locator("#sealed-error")
    box.wait_for(timeout=WAIT_MS)
    assert "not signed by the office for this case" in box.inner_text()
    assert not page.get_by_role("button", name="Use the plain form").is_visible()
    assert posted == []
    assert page.locator("#sealed-message").input_value() == (
        "Never sent to a key the office did not sign"
    )
    assert stored_followups(site, case_id) == []
