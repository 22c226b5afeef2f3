"""Every source flow in Debian's Chromium (Python Playwright): JavaScript off, on, and on
without the JIT or WebAssembly (--jitless, like Tor Browser *Safer*). The flow is
tests/e2e/flow.json, which the Firefox test follows too."""

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import ARTIFACTS, FLOW, ROOT, Site, leaks
from tests.submit.conftest import insert_reply
from whistle.crypto import format_code, generate_code
from whistle.crypto.codes import group

pytestmark = pytest.mark.slow
CHROMIUM = "/usr/lib/chromium/chromium"
FLAGS = [
    "--no-sandbox",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
#: Load and self-test take seconds without JIT and WebAssembly; encryption ~1 MB/s.
WAIT_MS = 120_000


@pytest.fixture(scope="module")
def playwright() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        yield p


@pytest.fixture(scope="module")
def chromium(playwright: Any) -> Iterator[Any]:
    browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
    yield browser
    browser.close()


@pytest.fixture(scope="module")
def chromium_jitless(playwright: Any) -> Iterator[Any]:
    browser = playwright.chromium.launch(
        executable_path=CHROMIUM, headless=True, args=[*FLAGS, "--js-flags=--jitless"]
    )
    yield browser
    browser.close()


def _files(tmp_path: Path, files: list[dict[str, str]]) -> list[str]:
    paths = []
    for f in files:
        path = tmp_path / f["name"]
        path.write_text(f["content"])
        paths.append(str(path))
    return paths


class Shots:
    def __init__(self, mode: str) -> None:
        self.directory = ARTIFACTS / "chromium" / mode
        self.directory.mkdir(parents=True, exist_ok=True)
        self.count = 0

    def __call__(self, page: Any, name: str) -> None:
        self.count += 1
        page.screenshot(path=str(self.directory / f"{self.count:02d}-{name}.png"), full_page=True)


def run_flow(page: Any, site: Site, javascript: bool, tmp_path: Path, shots: Shots) -> str:
    """The flow of flow.json; returns the code the receipt showed."""
    flow = FLOW
    report = flow["report"]
    page.goto(f"{site.base}/language/{flow['language']}?next=/report")
    mode = page.locator("#mode")
    if javascript:
        page.wait_for_selector("html[data-encryption=page]", timeout=WAIT_MS)
        assert flow["mode_text"]["page"] in mode.inner_text()
    else:
        assert flow["mode_text"]["server"] in mode.inner_text()
    for entry in report["fields"] + report["identification"]:
        page.get_by_label(entry["label"], exact=False).first.fill(entry["value"])
    page.get_by_label(report["identified"], exact=False).check()
    page.get_by_label(report["category"]["label"]).select_option(label=report["category"]["choice"])
    page.get_by_label(report["meeting"], exact=False).check()
    page.get_by_label(report["availability"]["label"]).fill(report["availability"]["value"])
    page.get_by_label("Files (optional)").set_input_files(_files(tmp_path, report["files"]))
    page.get_by_label(report["accept"], exact=False).check()
    shots(page, "report")
    page.get_by_role("button", name=report["submit"]).click()
    page.wait_for_function(
        "() => { const c = document.getElementById('code'); return c && c.textContent.trim(); }",
        timeout=WAIT_MS,
    )
    code = page.locator("#code").inner_text().strip()
    assert len(code.replace(" ", "")) == 22
    shots(page, "receipt")
    page.get_by_label(flow["receipt"]["written"]).check()
    page.get_by_role("button", name=flow["receipt"]["done"]).click()
    assert page.get_by_role("heading", name=flow["receipt"]["thanks"]).is_visible()
    shots(page, "receipt-done")

    insert_reply(site.app, code, site.office, flow["reply"])
    main = page.get_by_role("main")
    page.goto(f"{site.base}/check-in")
    page.get_by_label("Your code").first.fill(code.lower().replace(" ", "-"))
    shots(page, "check-in")
    page.get_by_role("button", name="Check in").click()
    if javascript:
        page.wait_for_selector("#sealed-conversation:not([hidden])", timeout=WAIT_MS)
    text = main.inner_text()
    assert report["fields"][0]["value"] in text
    for f in report["files"]:
        assert f["name"] in text
    assert flow["reply"] in text
    assert "Status: acknowledged by the office on" in text
    assert "No replies from the office yet" not in text
    shots(page, "conversation")

    followup = flow["followup"]
    # Once per visit: answering does not ask for the code again, with JavaScript off or on.
    assert page.get_by_label("Your code, again").count() == 0
    page.get_by_label("Your message").fill(followup["message"])
    page.get_by_label("Files (optional)").set_input_files(_files(tmp_path, followup["files"]))
    page.get_by_role("button", name=followup["submit"]).click()
    page.get_by_role("heading", name=followup["sent"]).wait_for(timeout=WAIT_MS)
    shots(page, "follow-up-sent")

    page.goto(f"{site.base}/check-in")
    page.get_by_label("Your code").first.fill(code)
    page.get_by_role("button", name="Check in").click()
    if javascript:
        page.wait_for_selector("#sealed-conversation:not([hidden])", timeout=WAIT_MS)
    text = main.inner_text()
    assert followup["message"] in text
    assert followup["files"][0]["name"] in text
    shots(page, "conversation-again")
    return code


def _assert_no_plaintext(site: Site, code: str) -> None:
    canonical = code.replace(" ", "")
    posts = [(m, p, b) for m, p, b in site.recorder.bodies if m == "POST"]
    sent = {p for _m, p, b in posts if b}
    assert {"/report/sealed", "/check-in/sealed", "/follow-up/sealed"} <= sent
    assert leaks(site.recorder.bodies, [FLOW["canary"], canonical, code]) == []
    # Only the sealed routes and the receipt confirmation received anything.
    assert {p for _m, p, b in posts if b} <= {
        "/report/sealed",
        "/check-in/sealed",
        "/follow-up/sealed",
        "/receipt",
    }


def test_javascript_off(chromium: Any, site: Site, tmp_path: Path) -> None:
    context = chromium.new_context(java_script_enabled=False)
    page = context.new_page()
    site.recorder.clear()
    code = run_flow(page, site, False, tmp_path, Shots("javascript-off"))
    # The plain form: the server received the text (and encrypted it as it arrived).
    assert any(FLOW["canary"].encode() in b for _m, _p, b in site.recorder.bodies)
    assert code
    context.close()


@pytest.mark.parametrize("jitless", [False, True], ids=["jit", "jitless"])
def test_javascript_on(
    chromium: Any, chromium_jitless: Any, site: Site, tmp_path: Path, jitless: bool
) -> None:
    browser = chromium_jitless if jitless else chromium
    context = browser.new_context()
    page = context.new_page()
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url.rsplit("/", 1)[-1]))
    site.recorder.clear()
    code = run_flow(page, site, True, tmp_path, Shots("jitless" if jitless else "javascript-on"))
    expected = "javascript" if jitless else "webassembly"
    page.goto(f"{site.base}/report")
    page.wait_for_selector("html[data-crypto-mode]", timeout=WAIT_MS)
    assert page.locator("html").get_attribute("data-crypto-mode") == expected
    # Issue 22: only the half of libsodium.js this browser runs is downloaded.
    wasm = [name for name in requested if re.fullmatch(r"libsodium\.[0-9a-f]{16}\.wasm", name)]
    fallback = [name for name in requested if name.startswith("libsodium-fallback.")]
    assert (bool(wasm), bool(fallback)) == ((False, True) if jitless else (True, False))
    _assert_no_plaintext(site, code)
    context.close()


@pytest.mark.parametrize(
    ("jitless", "target"),
    [(False, r"libsodium\.[0-9a-f]{16}\.wasm"), (True, r"libsodium-fallback\.[0-9a-f]{16}\.js")],
    ids=["webassembly", "fallback"],
)
def test_a_libsodium_file_that_fails_its_hash_sends_nothing_until_the_plain_form_is_chosen(
    chromium: Any, chromium_jitless: Any, site: Site, tmp_path: Path, jitless: bool, target: str
) -> None:
    """The page script pins libsodium's WebAssembly and its fallback by hash; a changed file
    (the one this browser loads: the binary with WebAssembly, the fallback without) fails
    closed."""
    context = (chromium_jitless if jitless else chromium).new_context()
    page = context.new_page()

    def tamper(route: Any) -> None:
        response = route.fetch()
        route.fulfill(response=response, body=response.body() + b"\n;void 0;")

    page.route(re.compile(r".*/static/build/" + target + "$"), tamper)
    page.goto(f"{site.base}/language/en?next=/report")
    page.wait_for_function(
        "() => document.getElementById('mode').textContent.includes('could not be loaded')",
        timeout=WAIT_MS,
    )
    Shots("libsodium-refused-jitless" if jitless else "libsodium-refused")(page, "report")
    report = FLOW["report"]
    for entry in report["fields"]:
        page.get_by_label(entry["label"], exact=False).first.fill(entry["value"])
    page.get_by_label(report["accept"], exact=False).check()
    site.recorder.clear()
    page.get_by_role("button", name=report["submit"]).click()
    # Fail closed (review finding L2): nothing goes to the server on its own.
    page.locator("#sealed-error").wait_for()
    assert not [p for m, p, _b in site.recorder.bodies if m == "POST"]
    page.get_by_role("button", name="Use the plain form").click()
    assert len(page.locator("#code").inner_text().replace(" ", "")) == 22
    assert [p for m, p, _b in site.recorder.bodies if m == "POST"] == ["/report"]
    page.unroute_all(behavior="ignoreErrors")
    context.close()


def test_check_in_with_a_libsodium_file_that_fails_its_hash_never_sends_the_code(
    chromium: Any, site: Site
) -> None:
    """L2 at check-in: the code goes to the server only once the source chooses the plain
    form; the page never derives and sends a token with crypto it could not verify either."""
    context = chromium.new_context()
    page = context.new_page()

    def tamper(route: Any) -> None:
        response = route.fetch()
        route.fulfill(response=response, body=response.body() + b"\0")

    page.route(re.compile(r".*/static/build/libsodium\.[0-9a-f]{16}\.wasm$"), tamper)
    page.goto(f"{site.base}/language/en?next=/check-in")
    page.wait_for_selector("html[data-encryption=unverified]", timeout=WAIT_MS)
    code = "DX6E AA29 DX2Q Z3JW W75K R"
    page.get_by_label("Your code").first.fill(code)
    site.recorder.clear()
    page.get_by_role("button", name="Check in").click()
    page.locator("#sealed-error").wait_for()
    assert not [p for m, p, _b in site.recorder.bodies if m == "POST"]
    page.get_by_role("button", name="Use the plain form").click()
    page.wait_for_load_state()
    assert [p for m, p, _b in site.recorder.bodies if m == "POST"] == ["/check-in"]
    # The page the plain form answers with loads the script again: let a fetch still being
    # tampered with end quietly rather than in the next test.
    page.unroute_all(behavior="ignoreErrors")
    context.close()


def test_a_page_with_swapped_desk_keys_sends_nothing(
    chromium: Any, site: Site, tmp_path: Path
) -> None:
    """H3: a server that serves its own desk key with the office's card is caught by the page."""
    context = chromium.new_context()
    page = context.new_page()

    def swap(route: Any) -> None:
        response = route.fetch()
        html = re.sub(
            r'data-desk-key="[0-9a-f]{64}"', 'data-desk-key="' + "ab" * 32 + '"', response.text()
        )
        route.fulfill(response=response, body=html)

    page.route(re.compile(r".*/report$"), swap)
    page.goto(f"{site.base}/language/en?next=/report")
    page.wait_for_selector("html[data-encryption=page]", timeout=WAIT_MS)
    for entry in FLOW["report"]["fields"]:
        page.get_by_label(entry["label"], exact=False).first.fill(entry["value"])
    page.get_by_label(FLOW["report"]["accept"], exact=False).check()
    site.recorder.clear()
    page.get_by_role("button", name=FLOW["report"]["submit"]).click()
    alert = page.locator("#sealed-error")
    alert.wait_for()
    assert "not those of the office card" in alert.inner_text()
    # A server that swaps keys must not be handed the report in clear either.
    assert not page.get_by_role("button", name="Use the plain form").is_visible()
    assert not [p for m, p, _b in site.recorder.bodies if m == "POST"]
    context.close()


def test_the_page_shows_the_fingerprint_it_checked(chromium: Any, site: Site) -> None:
    context = chromium.new_context()
    page = context.new_page()
    for path in ("/report", "/check-in"):
        page.goto(f"{site.base}/language/en?next={path}")
        shown = page.locator("#office-fingerprint")
        shown.wait_for(timeout=WAIT_MS)
        assert site.office.fingerprint in shown.inner_text()
    context.close()


def test_a_file_over_the_limit_is_refused_in_the_page(
    chromium: Any, site: Site, tmp_path: Path
) -> None:
    context = chromium.new_context()
    page = context.new_page()
    page.goto(f"{site.base}/language/en?next=/report")
    page.wait_for_selector("html[data-encryption=page]", timeout=WAIT_MS)
    big = tmp_path / "big.bin"
    with big.open("wb") as handle:
        handle.truncate(FLOW["limit_bytes"] + 1)
    for entry in FLOW["report"]["fields"]:
        page.get_by_label(entry["label"], exact=False).first.fill(entry["value"])
    page.get_by_label("Files (optional)").set_input_files(str(big))
    page.get_by_label(FLOW["report"]["accept"], exact=False).check()
    site.recorder.clear()
    page.get_by_role("button", name=FLOW["report"]["submit"]).click()
    alert = page.locator("#sealed-error")
    alert.wait_for()
    assert "Too large" in alert.inner_text()
    # The plain form would be refused too: it is not offered as the fix.
    assert not page.get_by_role("button", name="Use the plain form").is_visible()
    Shots("too-large")(page, "report")
    assert not [p for m, p, _b in site.recorder.bodies if m == "POST"]
    context.close()


def test_a_mistyped_or_unknown_code_with_javascript_on_is_a_code_error(
    chromium: Any, site: Site
) -> None:
    context = chromium.new_context()
    page = context.new_page()
    page.goto(f"{site.base}/language/en?next=/check-in")
    page.wait_for_selector("html[data-encryption=page]", timeout=WAIT_MS)
    code = generate_code()
    wrong = "Z" if code[5] != "Z" else "Y"
    typed = group(code[:5] + wrong + code[6:])
    site.recorder.clear()
    page.get_by_label("Your code").fill(typed)
    page.get_by_role("button", name="Check in").click()
    box = page.locator("#code-error")
    box.wait_for()
    assert box.get_attribute("role") == "alert"
    assert "character 2 of group 2 is wrong" in box.inner_text()
    assert page.locator("#code-error mark").inner_text() == wrong
    assert page.get_by_label("Your code").input_value() == typed  # kept, not cleared
    assert page.evaluate("document.activeElement.id") == "code"
    # Not an encryption failure, and the plain form is not offered as the fix.
    assert page.locator("#sealed-error").is_hidden()
    assert not page.get_by_role("button", name="Use the plain form").is_visible()
    assert not [p for m, p, _b in site.recorder.bodies if m == "POST"]
    Shots("code-errors")(page, "mistyped")
    page.get_by_label("Your code").fill(format_code(generate_code()))
    page.get_by_role("button", name="Check in").click()
    page.wait_for_function(
        "() => document.getElementById('code-error-text').textContent.includes('unknown')",
        timeout=WAIT_MS,
    )
    assert page.locator("#sealed-error").is_hidden()
    assert page.locator("#code-error mark").count() == 0
    Shots("code-errors")(page, "unknown")
    context.close()


#: Runs before the page's scripts: at the moment the report is posted, what does the page
#: look like, and would leaving it ask first?
AT_SEND = """
const send = XMLHttpRequest.prototype.send;
XMLHttpRequest.prototype.send = function (body) {
  const form = document.getElementById('report-form');
  const leaving = new Event('beforeunload', { cancelable: true });
  window.dispatchEvent(leaving);
  const button = form.querySelector('button[type=submit]');
  window.atSend = {
    enabled: Array.from(form.elements).filter((e) => !e.disabled).length,
    busy: form.getAttribute('aria-busy'),
    asks: leaving.defaultPrevented,
    statusBesideButton: button.nextElementSibling && button.nextElementSibling.id,
  };
  return send.call(this, body);
};
"""


def test_while_sending_the_form_is_locked_and_leaving_asks_first(
    chromium: Any, site: Site, tmp_path: Path
) -> None:
    context = chromium.new_context()
    page = context.new_page()
    page.add_init_script(AT_SEND)
    page.goto(f"{site.base}/language/en?next=/report")
    page.wait_for_selector("html[data-encryption=page]", timeout=WAIT_MS)
    for entry in FLOW["report"]["fields"]:
        page.get_by_label(entry["label"], exact=False).first.fill(entry["value"])
    page.get_by_label("Files (optional)").set_input_files(_files(tmp_path, FLOW["report"]["files"]))
    page.get_by_label(FLOW["report"]["accept"], exact=False).check()
    page.get_by_role("button", name=FLOW["report"]["submit"]).click()
    page.wait_for_function(
        "() => { const c = document.getElementById('code'); return c && c.textContent.trim(); }",
        timeout=WAIT_MS,
    )
    assert page.evaluate("window.atSend") == {
        "enabled": 0,
        "busy": "true",
        "asks": True,
        "statusBesideButton": "sealed-status",
    }
    # Sent, and the code is on screen: leaving still asks until it is confirmed written down.
    leaving = (
        "() => { const e = new Event('beforeunload', {cancelable: true});"
        " window.dispatchEvent(e); return e.defaultPrevented; }"
    )
    assert page.evaluate(leaving) is True
    page.get_by_label(FLOW["receipt"]["written"]).check()
    page.evaluate(
        "() => { const f = document.querySelector('#main form');"
        " f.addEventListener('submit', (e) => e.preventDefault()); f.requestSubmit(); }"
    )
    assert page.evaluate(leaving) is False
    context.close()


def test_with_javascript_off_the_language_switch_keeps_what_was_typed(
    chromium: Any, site: Site
) -> None:
    context = chromium.new_context(java_script_enabled=False)
    page = context.new_page()
    page.goto(f"{site.base}/language/en?next=/report")
    field = FLOW["report"]["fields"][0]
    page.get_by_label(field["label"], exact=False).first.fill(field["value"])
    site.recorder.clear()
    page.get_by_role("button", name="Español").click()
    page.wait_for_selector('html[lang="es"]')
    assert (
        page.locator("#report-form input:not([type=hidden])").first.input_value() == field["value"]
    )
    assert site.recorder.bodies[0][1] == "/report"  # posted to the form, not stored
    Shots("language-switch")(page, "report-es")
    context.close()


def test_an_anonymous_report_with_an_identity_is_refused_in_the_page(
    chromium: Any, site: Site
) -> None:
    """The page makes the plain form's check (views/plain.py _choices) before sending."""
    context = chromium.new_context()
    page = context.new_page()
    page.goto(f"{site.base}/language/en?next=/report")
    page.wait_for_selector("html[data-encryption=page]", timeout=WAIT_MS)
    report = FLOW["report"]
    for entry in report["fields"] + report["identification"]:
        page.get_by_label(entry["label"], exact=False).first.fill(entry["value"])
    page.get_by_label(report["accept"], exact=False).check()
    site.recorder.clear()
    page.get_by_role("button", name=report["submit"]).click()
    alert = page.locator("#sealed-error")
    alert.wait_for()
    assert "You chose to report anonymously but filled in your identity" in alert.inner_text()
    assert not [p for m, p, _b in site.recorder.bodies if m == "POST"]
    context.close()


def test_the_artifacts_directory_is_ignored_by_git() -> None:
    assert "test-artifacts/" in (ROOT / ".gitignore").read_text().splitlines()


def _collect(site: Site, code: str) -> None:
    """What the office's acknowledgement does: the report and follow-ups are deleted."""
    from whistle.crypto import derive_source_keys, login_lookup
    from whistle.submit import store

    state = site.app.extensions["whistle_submit"]
    keys = derive_source_keys(code, state.config.install_salt)
    with state.sessions.begin() as session:
        case_id = store.find_case(session, login_lookup(keys.login_token, state.config.pepper))
        assert case_id is not None
        store.acknowledge(
            session, [(r.id, r.record_hash) for r in store.case_records(session, case_id)]
        )


def _copies(site: Site) -> int:
    from sqlalchemy import func, select

    from whistle.submit.models import SourceCopy

    with site.app.extensions["whistle_submit"].sessions() as session:
        return int(session.scalar(select(func.count()).select_from(SourceCopy)) or 0)


def test_with_javascript_on_the_page_seals_the_source_copy_and_shows_it_after_collection(
    chromium: Any, site: Site, tmp_path: Path
) -> None:
    """The page seals the source's copy itself (the server never sees the text); after the
    office collected the report and the follow-up, check-in shows both from the copies, with
    JavaScript on and off alike (the server opens what the page sealed); deleting the copy from
    the page leaves nothing."""
    canary = "CANARY-copy-7c2e"
    shots = Shots("source-copy")
    context = chromium.new_context()
    page = context.new_page()
    main = page.get_by_role("main")
    site.recorder.clear()
    page.goto(f"{site.base}/language/en?next=/report")
    page.wait_for_selector("html[data-encryption=page]", timeout=WAIT_MS)
    page.get_by_label("Subject").first.fill(f"Copied report {canary}")
    page.get_by_label("Description of the facts").first.fill("Facts.")
    page.get_by_label("Files (optional)").set_input_files(_files(tmp_path, FLOW["report"]["files"]))
    page.get_by_label(FLOW["report"]["accept"], exact=False).check()
    copies_before = _copies(site)
    page.get_by_role("button", name=FLOW["report"]["submit"]).click()
    page.wait_for_function(
        "() => { const c = document.getElementById('code'); return c && c.textContent.trim(); }",
        timeout=WAIT_MS,
    )
    code = page.locator("#code").inner_text().strip()
    assert _copies(site) == copies_before + 1

    page.goto(f"{site.base}/check-in")
    page.wait_for_selector("html[data-encryption=page]", timeout=WAIT_MS)
    page.get_by_label("Your code").first.fill(code)
    page.get_by_role("button", name="Check in").click()
    page.wait_for_selector("#sealed-conversation:not([hidden])", timeout=WAIT_MS)
    page.get_by_label("Your message").fill(f"Later message {canary}")
    page.get_by_role("button", name=FLOW["followup"]["submit"]).click()
    page.get_by_role("heading", name=FLOW["followup"]["sent"]).wait_for(timeout=WAIT_MS)
    assert _copies(site) == copies_before + 2
    _collect(site, code)

    page.goto(f"{site.base}/check-in")
    page.wait_for_selector("html[data-encryption=page]", timeout=WAIT_MS)
    page.get_by_label("Your code").first.fill(code)
    page.get_by_role("button", name="Check in").click()
    page.wait_for_selector("#sealed-conversation:not([hidden])", timeout=WAIT_MS)
    text = main.inner_text()
    assert f"Copied report {canary}" in text
    assert f"Later message {canary}" in text
    assert text.index("Copied report") < text.index("Later message")
    assert FLOW["report"]["files"][0]["name"] in text
    assert "shown from your own copy" in text
    assert "Status: the office has collected your report." in text
    assert "No replies from the office yet" in text
    assert leaks(site.recorder.bodies, [canary]) == []  # the page sealed the copies itself
    shots(page, "conversation-from-the-copy-javascript-on")

    # The server opens what the page sealed: the same conversation with JavaScript off.
    plain = chromium.new_context(java_script_enabled=False)
    off = plain.new_page()
    off.goto(f"{site.base}/language/en?next=/check-in")
    off.get_by_label("Your code").first.fill(code)
    off.get_by_role("button", name="Check in").click()
    shown = off.get_by_role("main").inner_text()
    shots(off, "conversation-from-the-copy-javascript-off")
    assert f"Copied report {canary}" in shown
    assert f"Later message {canary}" in shown
    plain.close()

    page.get_by_label("Delete my copy: I will no longer see here what I sent.").check()
    page.get_by_role("button", name="Delete my copy").click()
    page.get_by_text("Your copy was deleted.").wait_for(timeout=WAIT_MS)
    assert canary not in main.inner_text()
    assert "no longer holds a copy" in main.inner_text()
    shots(page, "copy-deleted")
    assert _copies(site) == copies_before
    context.close()
