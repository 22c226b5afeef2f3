"""Attack review (December 2026) findings on the source site, each with its fix's test."""

import re

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.redirect_cases import HOSTILE_TARGETS, browser_host
from tests.submit.conftest import browser_report, csrf_from


@pytest.mark.parametrize("target", HOSTILE_TARGETS)
def test_language_choice_never_redirects_off_site(client: FlaskClient, target: str) -> None:
    """Finding 3: ``/language/en?next=/%09/evil.com`` answered ``Location: //evil.com``."""
    response = client.get("/language/en", query_string={"next": target})
    assert response.status_code == 303
    assert browser_host(response.headers["Location"], "http://site.onion/") == "site.onion"


def test_language_choice_keeps_a_local_next(client: FlaskClient) -> None:
    response = client.get("/language/ca", query_string={"next": "/check-in"})
    assert response.headers["Location"].endswith("/check-in")


def test_the_receipt_token_shows_the_code_only_to_its_own_session(app: Flask) -> None:
    """Info finding: anyone who posted the receipt token within the hour saw the code."""
    source = app.test_client()
    body, content_type = browser_report(csrf_from(source.get("/report").text))
    receipt = source.post("/report", data=body, content_type=content_type).text
    token = re.search(r'name="receipt" value="([^"]+)"', receipt)
    code = re.search(r'id="code">([^<]+)<', receipt)
    assert token
    assert code
    stranger = app.test_client()
    stranger.get("/report")  # a session of its own
    for client in (stranger, app.test_client()):
        taken = client.post("/receipt", data={"receipt": token.group(1)})
        assert taken.status_code == 400
        assert code.group(1) not in taken.text
        assert 'id="code"' not in taken.text
    again = source.post("/receipt", data={"receipt": token.group(1)})
    assert again.status_code == 422
    assert code.group(1) in again.text
