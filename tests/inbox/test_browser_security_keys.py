"""A real browser (Chromium, with the DevTools virtual authenticator: CTAP2.1, PRF, user
verification) adds a security key, signs in with it, fails without it, and an officer who
lost it gets back in through the recovery key. Replayed and forged answers are refused."""

import json
import secrets
import threading
from base64 import urlsafe_b64encode
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, sync_playwright
from werkzeug.serving import make_server

from whistle.crypto import unwrap_with_passphrase
from whistle.inbox import create_app
from whistle.inbox.errors import SecondFactorRequiredError
from whistle.inbox.models import LoginAttempt, Officer, SecurityKey
from whistle.inbox.officers import reset_password

from .conftest import PASSWORD

pytestmark = pytest.mark.slow
CHROMIUM = "/usr/lib/chromium/chromium"
NEW_PASSWORD = "another long passphrase here"
AUTHENTICATOR = {
    "protocol": "ctap2",
    "ctap2Version": "ctap2_1",
    "transport": "usb",
    "hasResidentKey": True,
    "hasUserVerification": True,
    "hasPrf": True,
    "isUserVerified": True,
    "automaticPresenceSimulation": True,
}


@pytest.fixture
def served(office):
    """The inbox binds 127.0.0.1 only and is browsed as http://localhost (WebAuthn refuses IP
    addresses)."""
    server = make_server("127.0.0.1", 0, create_app(office.config), threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://localhost:{server.server_port}"
    server.shutdown()
    thread.join()


def _password_step(page: Page, base: str, password: str = PASSWORD) -> None:
    page.goto(f"{base}/login")
    page.fill("#name", "admin")
    page.fill("#password", password)
    page.click("main button[type=submit]")


def _b64(raw: bytes) -> str:
    return urlsafe_b64encode(raw).rstrip(b"=").decode()


def _keys(office) -> list[SecurityKey]:
    with office.session() as session:
        keys = session.query(SecurityKey).all()
        session.expunge_all()
        return keys


def _failures(office) -> int:
    with office.session() as session:
        return session.query(LoginAttempt).filter_by(succeeded=False).count()


def test_enrol_sign_in_replay_lose_and_recover(served, office) -> None:
    base = served
    requests: list[str] = []
    posted: list[dict[str, str]] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-background-networking", "--no-first-run"],
        )
        context = browser.new_context(locale="en-GB")
        page = context.new_page()
        page.on("request", lambda r: requests.append(r.url))
        page.on(
            "request",
            lambda r: (
                posted.append(dict(r.post_data_json or {}))
                if r.url.endswith("/login/security-key")
                else None
            ),
        )
        cdp = context.new_cdp_session(page)
        cdp.send("WebAuthn.enable", {"enableUI": False})
        authenticator = cdp.send("WebAuthn.addVirtualAuthenticator", {"options": AUTHENTICATOR})

        # Enrol: signed in with the password, add a key (two touches, one PRF answer).
        _password_step(page, base)
        page.goto(f"{base}/account/security-keys")
        page.fill("#label", "blue key")
        page.fill("#password", PASSWORD)
        page.click("#key-enrol button[type=submit]")
        page.wait_for_selector("p.notice[role=status]")
        assert "blue key" in page.inner_text("table")
        [key] = _keys(office)
        assert key.label == "blue key"
        with pytest.raises(SecondFactorRequiredError):
            office.sign_in()  # the password alone no longer opens anything

        # Sign in: password, then the key.
        page.click("header button:has-text('Lock')")
        _password_step(page, base)
        page.wait_for_selector("#key-sign-in")
        page.click("#key-sign-in button[type=submit]")
        page.wait_for_url(f"{base}/dashboard*")
        assert "Signed in as admin" in page.inner_text("header")
        assert posted[-1]["prf"]
        captured = posted[-1]
        [after] = _keys(office)
        assert after.sign_count > key.sign_count
        assert after.last_used_at is not None

        # A replayed answer (for an earlier challenge) and a forged credential id are refused,
        # each counted as a failed sign-in, nothing else changed.
        other = browser.new_context(locale="en-GB")
        second = other.new_page()
        for forged in (
            captured,
            {**captured, "assertion": json.loads(captured["assertion"])},
        ):
            if isinstance(forged["assertion"], dict):
                fake = _b64(secrets.token_bytes(32))
                forged["assertion"]["id"] = forged["assertion"]["rawId"] = fake
                forged["assertion"] = json.dumps(forged["assertion"])
            _password_step(second, base)
            second.wait_for_selector("#key-sign-in")
            before = _failures(office)
            answer = second.request.post(
                f"{base}/login/security-key",
                form=forged,
                headers={"Origin": base},
            )
            assert answer.status == 401
            assert "answer was refused" in answer.text()
            assert _failures(office) == before + 1
            assert [(k.sign_count, k.last_used_at) for k in _keys(office)] == [
                (after.sign_count, after.last_used_at)
            ]
        other.close()

        # A wrong assertion (the key's signature does not verify): refused, nothing opens.
        bits = {"authenticatorId": authenticator["authenticatorId"]}
        cdp.send("WebAuthn.setResponseOverrideBits", {**bits, "isBogusSignature": True})
        page.click("header button:has-text('Lock')")
        _password_step(page, base)
        page.click("#key-sign-in button[type=submit]")
        page.wait_for_url(f"{base}/login/security-key")
        assert "answer was refused" in page.inner_text("main")
        assert [k.sign_count for k in _keys(office)] == [after.sign_count]
        cdp.send("WebAuthn.setResponseOverrideBits", {**bits, "isBogusSignature": False})

        # Without the key: the page says so and nothing opens.
        cdp.send(
            "WebAuthn.removeVirtualAuthenticator",
            {"authenticatorId": authenticator["authenticatorId"]},
        )
        _password_step(page, base)
        page.click("#key-sign-in button[type=submit]")
        page.wait_for_selector("#key-problem:not([hidden])", timeout=90_000)
        assert "did not answer" in page.inner_text("#key-problem")
        page.goto(f"{base}/dashboard")
        assert "/login" in page.url

        # Lost key: the recovery key resets the password and removes the keys.
        with office.session() as session:
            reset_password(
                session,
                office.config,
                name="admin",
                recovery_key=office.created.recovery_key,
                new_password=NEW_PASSWORD,
            )
        assert _keys(office) == []
        _password_step(page, base, NEW_PASSWORD)
        page.wait_for_url(f"{base}/dashboard*")
        browser.close()
    assert all(url.startswith(base) for url in requests), requests
    with office.session() as session:
        officer = session.query(Officer).filter_by(name="admin").one()
        assert unwrap_with_passphrase(officer.wrapped_keyring, NEW_PASSWORD)


def test_key_pages_are_accessible_in_every_language(served, office) -> None:
    """axe-core (WCAG 2.1 AA) on the key list with a key, the manager's setting, and the
    sign-in step that asks for the key, in Catalan, Spanish and English."""
    axe = AXE.read_text(encoding="utf-8")
    base = served
    found: dict[str, object] = {}
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-background-networking", "--no-first-run"],
        )
        context = browser.new_context(bypass_csp=True)
        page = context.new_page()
        cdp = context.new_cdp_session(page)
        cdp.send("WebAuthn.enable", {"enableUI": False})
        cdp.send("WebAuthn.addVirtualAuthenticator", {"options": AUTHENTICATOR})
        _password_step(page, base)
        page.goto(f"{base}/account/security-keys")
        page.fill("#label", "blue key")
        page.fill("#password", PASSWORD)
        page.click("#key-enrol button[type=submit]")
        page.wait_for_selector("p.notice[role=status]")
        for lang in ("ca", "es", "en"):
            context.add_cookies([{"name": "whistle_lang", "value": lang, "url": base}])
            page.goto(f"{base}/account/security-keys")
            found[f"{lang}-keys"] = _axe(page, axe)
        page.click("header button[type=submit] >> nth=0")  # Lock (the first button, any language)
        for lang in ("ca", "es", "en"):
            context.add_cookies([{"name": "whistle_lang", "value": lang, "url": base}])
            _password_step(page, base)
            page.wait_for_selector("#key-sign-in")
            found[f"{lang}-sign-in"] = _axe(page, axe)
        browser.close()
    assert {name: v for name, v in found.items() if v} == {}


AXE = Path(__file__).parents[2] / "node_modules" / "axe-core" / "axe.min.js"
TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]


def _axe(page: Page, axe: str) -> list[Any]:
    page.add_script_tag(content=axe)
    return page.evaluate(  # type: ignore[no-any-return]
        "async (tags) => (await axe.run(document, {runOnly: {type: 'tag', values: tags}}))"
        ".violations.map(v => [v.id, v.impact, v.nodes.map(n => n.html).slice(0, 2)])",
        TAGS,
    )
