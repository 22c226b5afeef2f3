"""Each page with JavaScript off: at most 20 KB (HTML + CSS, uncompressed), at most 3 requests."""

import re

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.submit.conftest import CODE, Office, check_in, insert_reply, submit_report

LIMIT = 20_000  # the target: 20 KB, and KB = 1,000 bytes (docs/benchmarks.md)
RESOURCE = re.compile(r'<(?:link[^>]+href|img[^>]+src)="([^"]+)"')
SCRIPT = re.compile(r'<script src="/static/build/[^"]+" integrity="sha384-[^"]+" defer></script>')
#: The only pages that load the browser crypto bundle (with JavaScript off it is never fetched).
BUNDLE_PAGES = {"/report", "/check-in"}


def _weigh(client: FlaskClient, html: str) -> tuple[int, int]:
    """(bytes, requests) a browser spends on a page: itself, its resources, the favicon."""
    total = len(html.encode("utf-8"))
    # The page, and the favicon every browser asks for: /favicon.ico, or the icon the page
    # names (the office's logo, fetched once for both the icon and the <img>).
    requests = 1 if 'rel="icon"' in html else 2
    for url in dict.fromkeys(RESOURCE.findall(html)):
        assert url.startswith("/"), f"{url} is not same-origin"
        response = client.get(url)
        assert response.status_code == 200
        total += len(response.data)
        requests += 1
    assert client.get("/favicon.ico").status_code == 204
    assert "@font-face" not in html
    # With JavaScript off a browser fetches no script: the budget counts the HTML only.
    assert "<script" not in SCRIPT.sub("", html)
    return total, requests


@pytest.mark.parametrize("lang", ["ca", "es", "en"])
def test_every_page_is_light(app: Flask, client: FlaskClient, office: Office, lang: str) -> None:
    client.get(f"/language/{lang}")
    urls = ("/", "/report", "/check-in", "/channels", "/about", "/nowhere")
    pages = {url: client.get(url).text for url in urls}
    code = submit_report(client, files=[(b"x", "a.txt")])
    insert_reply(app, code, office, "Rebut.")
    _, pages["conversation"] = check_in(client, code)
    page = client.post("/receipt", data={"receipt": "x", "written": "yes"}).text
    pages["receipt done"] = page
    for name, html in pages.items():
        assert ("<script" in html) == (name in BUNDLE_PAGES and _bundle(app)), name
        size, requests = _weigh(client, html)
        assert size <= LIMIT, f"{name}: {size} bytes"
        assert requests <= 3, f"{name}: {requests} requests"


def test_the_receipt_is_light(client: FlaskClient) -> None:
    from tests.submit.conftest import csrf_from, report_fields

    page = client.get("/report").text
    response = client.post(
        "/report", data=report_fields(csrf_from(page)), content_type="multipart/form-data"
    )
    assert CODE.search(response.text)
    size, requests = _weigh(client, response.text)
    assert size <= LIMIT
    assert requests <= 3


def _bundle(app: Flask) -> bool:
    return app.extensions["whistle_submit"].bundle is not None


def test_without_the_bundle_the_pages_have_no_script(config, office: Office) -> None:  # type: ignore[no-untyped-def]
    import dataclasses

    from whistle.submit import create_app

    app = create_app(dataclasses.replace(config, browser_crypto=False))
    client = app.test_client()
    for url in ("/", "/report", "/check-in", "/channels", "/about"):
        html = client.get(url).text
        assert "<script" not in html
        assert "data-salt" not in html
        size, requests = _weigh(client, html)
        assert size <= LIMIT
        assert requests <= 3
    app.extensions["whistle_submit"].engine.dispose()
