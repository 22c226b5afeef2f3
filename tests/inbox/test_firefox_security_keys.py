"""The security-key pages in Firefox ESR (Tor Browser's base), not only Chromium, with
Firefox's own virtual authenticator driven over Marionette (tests/marionette.py).

Firefox ESR 153 answers PRF from its virtual authenticator, but the assertion it then signs
carries the hmac-secret output without the "extension data" flag in the authenticator data,
which py_webauthn rightly refuses ("leftover bytes"): a full enrolment cannot be tested with
it (docs/decisions.md, "Security keys in Firefox ESR"). What is tested: an officer without a
key signs in with the password; a key without PRF gets the page's clear message; Firefox's
malformed answer gets the clear refusal; nothing is stored by either."""

import pytest

from tests.marionette import Firefox, firefox

from .conftest import PASSWORD
from .test_browser_security_keys import _keys, served  # noqa: F401 - fixture

pytestmark = pytest.mark.slow
AUTHENTICATOR = {
    "protocol": "ctap2_1",
    "transport": "usb",
    "hasResidentKey": True,
    "hasUserVerification": True,
    "isUserConsenting": True,
    "isUserVerified": True,
    "extensions": ["prf"],
}
NO_PRF = "PublicKeyCredential.prototype.getClientExtensionResults = () => ({});"
SHOWN = "return !document.getElementById('key-problem').hidden"


def _enrol(browser: Firefox, base: str, label: str) -> None:
    browser.go(f"{base}/account/security-keys")
    _fill_enrol(browser, label)


def _fill_enrol(browser: Firefox, label: str) -> None:
    browser.fill("#label", label)
    browser.fill("#password", PASSWORD)
    browser.click("#key-enrol button[type=submit]")


def test_security_key_pages_in_firefox(served, office) -> None:  # noqa: F811
    base = served
    with firefox() as browser:
        # No key yet: the password alone signs in.
        browser.go(f"{base}/login")
        browser.fill("#name", "admin")
        browser.fill("#password", PASSWORD)
        browser.click("main button[type=submit]")
        browser.wait(lambda: "/dashboard" in browser.url(), "the dashboard")
        assert "Signed in as admin" in browser.text("header")

        # A browser whose WebAuthn has no PRF (Firefox's virtual authenticator always answers
        # it, so the page's view of the answer is stripped): the page says so, nothing stored.
        browser.send("WebAuthn:AddVirtualAuthenticator", AUTHENTICATOR)
        browser.go(f"{base}/account/security-keys")
        browser.send("WebDriver:ExecuteScript", {"script": NO_PRF})
        _fill_enrol(browser, "plain key")
        browser.wait(
            lambda: browser.value("WebDriver:ExecuteScript", {"script": SHOWN}), "the problem"
        )
        assert "lacks the PRF extension" in browser.text("#key-problem")
        assert _keys(office) == []

        # Firefox's own PRF answer (no extension-data flag): refused clearly, nothing stored.
        _enrol(browser, base, "green key")
        assert "answer was refused. Nothing was changed." in browser.text(".error-summary")
        assert _keys(office) == []
