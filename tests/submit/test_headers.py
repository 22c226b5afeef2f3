"""The security headers on every response, pages and errors alike; no Server banner."""

import re

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from tests.submit.conftest import browser_report, check_in, csrf_from, multipart, submit_report
from whistle.submit.app import CSP, CSP_WITH_BUNDLE

EXPECTED = {
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    ),
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
}


def _check(response: TestResponse, page: bool = True) -> None:
    loads_bundle = page and b"<script" in response.get_data()
    for name, value in EXPECTED.items():
        if name == "Content-Security-Policy" and loads_bundle:
            # Only the pages that load the browser crypto bundle may run it.
            value = CSP_WITH_BUNDLE
        assert response.headers.get(name) == value, name
    assert "Server" not in response.headers
    if page:
        assert response.headers.get("Cache-Control") == "no-store"
    assert "X-Powered-By" not in response.headers


def test_csp_is_the_issue_s(app: Flask) -> None:
    assert EXPECTED["Content-Security-Policy"] == CSP


def test_only_pages_with_the_bundle_may_run_scripts(app: Flask, client: FlaskClient) -> None:
    assert CSP_WITH_BUNDLE == CSP + "; script-src 'self' 'wasm-unsafe-eval'; connect-src 'self'"
    for url in ("/", "/channels", "/about", "/nowhere"):
        response = client.get(url)
        assert b"<script" not in response.data
        assert response.headers["Content-Security-Policy"] == CSP
    if app.extensions["whistle_submit"].bundle is not None:
        for url in ("/report", "/check-in"):
            response = client.get(url)
            assert b'integrity="sha384-' in response.data
            assert response.headers["Content-Security-Policy"] == CSP_WITH_BUNDLE


def test_every_get_route(app: Flask, client: FlaskClient) -> None:
    desk = app.extensions["whistle_submit"].config.office_card.desks[0].id
    values = {"desk_id": desk, "lang": "en", "filename": "site.css"}
    seen = 0
    for rule in app.url_map.iter_rules():
        if "GET" not in (rule.methods or set()):
            continue
        url = rule.build({k: values[k] for k in rule.arguments})[1]  # type: ignore[index]
        response = client.get(url)
        # No logo configured here: tests/submit/test_office_logo.py serves one.
        answers = (404,) if rule.endpoint == "submit.office_logo" else (200, 204, 303)
        assert response.status_code in answers, url
        _check(response, page=rule.endpoint != "static")
        seen += 1
    assert seen >= 9


@pytest.mark.parametrize(
    ("method", "url"),
    [("GET", "/nowhere"), ("DELETE", "/"), ("POST", "/"), ("PUT", "/report")],
)
def test_error_pages(client: FlaskClient, method: str, url: str) -> None:
    response = client.open(url, method=method)
    assert response.status_code in (404, 405)
    _check(response)
    assert "<h1>" in response.text


def test_every_post_route_and_outcome(app: Flask, client: FlaskClient) -> None:
    csrf = csrf_from(client.get("/report").text)
    body, content_type = browser_report(csrf)
    receipt = client.post("/report", data=body, content_type=content_type)
    _check(receipt)
    bad = client.post("/report", data=b"garbage", content_type="multipart/form-data; boundary=x")
    assert bad.status_code == 400
    _check(bad)
    token = re.search(r'name="receipt" value="([^"]+)"', receipt.text)
    assert token
    _check(client.post("/receipt", data={"receipt": token.group(1), "written": "yes"}))
    code = submit_report(client)
    status, page = check_in(client, code)
    assert status == 200
    response = client.post("/check-in", data={"csrf_token": csrf, "code": code})
    _check(response)
    body, content_type = multipart(
        [
            ("csrf_token", None, csrf_from(page).encode()),
            ("code", None, code.encode()),
            ("message", None, b"hello"),
        ]
    )
    followup = client.post("/follow-up", data=body, content_type=content_type)
    assert followup.status_code == 200
    _check(followup)
    _check(client.post("/check-in", data={"code": code}))  # CSRF refused
    _check(
        client.post(
            "/check-in", data=b"x" * 100_000, content_type="application/x-www-form-urlencoded"
        )
    )
