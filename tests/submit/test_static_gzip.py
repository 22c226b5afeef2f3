"""Static files go gzip-compressed to browsers that accept it; pages and JSON never do
(BREACH: they carry secrets). The content-hashed bundle is cached for good."""

import gzip
import json

from flask import Flask
from flask.testing import FlaskClient

from tests.submit.conftest import csrf_from, submit_report
from whistle.submit.app import BUILD_DIR
from whistle.submit.static_files import IMMUTABLE

GZIP = {"Accept-Encoding": "gzip, deflate"}


def _static_urls(app: Flask) -> list[str]:
    urls = ["/static/site.css"]
    bundle = app.extensions["whistle_submit"].bundle
    if bundle is not None:
        urls.append(f"/static/build/{bundle.file}")
        manifest = json.loads((BUILD_DIR / "manifest.json").read_text(encoding="utf-8"))
        urls += [f"/static/build/{manifest[role]['file']}" for role in ("wasm", "fallback")]
    return urls


def test_static_files_are_compressed_when_accepted(app: Flask, client: FlaskClient) -> None:
    for url in _static_urls(app):
        plain = client.get(url)
        assert plain.status_code == 200
        assert "Content-Encoding" not in plain.headers
        packed = client.get(url, headers=GZIP)
        assert packed.status_code == 200
        assert packed.headers["Content-Encoding"] == "gzip"
        assert "Accept-Encoding" in packed.headers["Vary"]
        assert "Accept-Encoding" in plain.headers["Vary"]
        assert gzip.decompress(packed.data) == plain.data
        assert len(packed.data) < len(plain.data)
        assert int(packed.headers["Content-Length"]) == len(packed.data)
        assert packed.headers["ETag"] != plain.headers["ETag"]
        # The security headers stay on static files too.
        assert packed.headers["X-Content-Type-Options"] == "nosniff"


def test_a_compressed_copy_revalidates_to_304(app: Flask, client: FlaskClient) -> None:
    first = client.get("/static/site.css", headers=GZIP)
    etag = first.headers["ETag"]
    again = client.get("/static/site.css", headers={**GZIP, "If-None-Match": etag})
    assert again.status_code == 304
    assert again.data == b""


def test_the_hashed_bundle_is_immutable_and_the_stylesheet_is_not(
    app: Flask, client: FlaskClient
) -> None:
    for url in _static_urls(app)[1:]:
        assert client.get(url, headers=GZIP).headers["Cache-Control"] == IMMUTABLE
    assert client.get("/static/site.css").headers.get("Cache-Control") != IMMUTABLE


def test_pages_and_json_are_never_compressed(app: Flask, client: FlaskClient) -> None:
    from whistle.crypto import derive_source_keys

    client.environ_base["HTTP_ACCEPT_ENCODING"] = "gzip, deflate, br"
    responses = [client.get(url) for url in ("/", "/report", "/check-in", "/nowhere")]
    code = submit_report(client)
    page = client.get("/check-in").text
    responses.append(client.post("/check-in", data={"csrf_token": csrf_from(page), "code": code}))
    salt = app.extensions["whistle_submit"].config.install_salt
    responses.append(
        client.post(
            "/check-in/sealed",
            data=derive_source_keys(code, salt).login_token,
            content_type="application/octet-stream",
            headers={"X-CSRFToken": csrf_from(page)},
        )
    )
    assert [r.status_code for r in responses] == [200, 200, 200, 404, 200, 200]
    for response in responses:
        assert "Content-Encoding" not in response.headers, response.request.path
