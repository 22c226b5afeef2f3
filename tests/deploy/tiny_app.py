"""A minimal WSGI app that stands in for the submission site behind gunicorn and tor.

``GET /`` answers a small page; ``POST /upload`` reads the whole body and answers its length and
SHA-256 (so a test can tell that every byte arrived); ``GET /scheme`` answers the URL scheme
gunicorn decided on (to show that forwarded headers from tor's side are not trusted).
``app_from_directory(DIR)`` is a factory with the real app's signature; its app also answers
``GET /data-dir`` with DIR.
"""

import hashlib
import json
from collections.abc import Callable, Iterable
from typing import Any

PAGE = b"<!doctype html><title>Whistle test page</title><p>It works.</p>\n"

StartResponse = Callable[[str, list[tuple[str, str]]], Any]


def app_from_directory(data_dir: str) -> Callable[..., Iterable[bytes]]:
    """The tiny app, built the way the systemd unit builds the real one."""

    def app_with_directory(
        environ: dict[str, Any], start_response: StartResponse
    ) -> Iterable[bytes]:
        if environ["REQUEST_METHOD"] == "GET" and environ["PATH_INFO"] == "/data-dir":
            body = data_dir.encode()
            start_response(
                "200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))]
            )
            return [body]
        return app(environ, start_response)

    return app_with_directory


def app(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
    method, path = environ["REQUEST_METHOD"], environ["PATH_INFO"]
    if method == "POST" and path == "/upload":
        digest, length = hashlib.sha256(), 0
        stream = environ["wsgi.input"]
        while chunk := stream.read(65536):
            digest.update(chunk)
            length += len(chunk)
        body = json.dumps({"length": length, "sha256": digest.hexdigest()}).encode()
        content_type = "application/json"
    elif method == "GET" and path == "/scheme":
        body, content_type = environ["wsgi.url_scheme"].encode(), "text/plain"
    elif method == "GET" and path == "/":
        body, content_type = PAGE, "text/html; charset=utf-8"
    else:
        start_response("404 Not Found", [("Content-Type", "text/plain")])
        return [b"not found\n"]
    start_response("200 OK", [("Content-Type", content_type), ("Content-Length", str(len(body)))])
    return [body]
