"""A real server for the browser tests: the app on 127.0.0.1 (Werkzeug, threads), with a
test-only WSGI hook that records every request body the app receives."""

import base64
import io
import json
import threading
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from tests.submit.conftest import Office, make_office
from whistle.submit import create_app, load_config
from whistle.submit.datadir import init_data_directory

HERE = Path(__file__).parent
ROOT = HERE.parent.parent
FLOW = json.loads((HERE / "flow.json").read_text(encoding="utf-8"))
ARTIFACTS = ROOT / "test-artifacts"


class BodyRecorder:
    """WSGI middleware, enabled only here: keeps (method, path, body) of every request."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.bodies: list[tuple[str, str, bytes]] = []
        self.lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        with self.lock:
            self.bodies.append((environ["REQUEST_METHOD"], environ["PATH_INFO"], body))
        environ["wsgi.input"] = io.BytesIO(body)
        return self.app(environ, start_response)

    def clear(self) -> None:
        with self.lock:
            self.bodies.clear()


def encodings(text: str) -> list[bytes]:
    """The forms plaintext could take in a request body: UTF-8 (and lower case), UTF-16 both
    ways, hex both cases, URL-encoding, and base64 (standard and URL-safe) at each of the
    three alignments a value can start at inside a longer encoded string."""
    raw = text.encode("utf-8")
    found = {
        raw,
        text.lower().encode("utf-8"),
        text.encode("utf-16-le"),
        text.encode("utf-16-be"),
        raw.hex().encode(),
        raw.hex().upper().encode(),
        urllib.parse.quote_plus(text).encode(),
        urllib.parse.quote(text, safe="").encode(),
    }
    for offset in range(3):
        for encode in (base64.b64encode, base64.urlsafe_b64encode):
            encoded = encode(bytes(offset) + raw)
            # Skip the characters that mix in the padding bytes and the unknown tail.
            start = (offset * 8 + 5) // 6
            found.add(encoded[start : len(encoded) - 4])
    return sorted(found)


def leaks(bodies: list[tuple[str, str, bytes]], needles: list[str]) -> list[str]:
    """Where any encoding of any needle appears in recorded bodies: ["path: needle", …]."""
    patterns = [(needle, p) for needle in needles for p in encodings(needle)]
    return [
        f"{path}: {needle!r} ({pattern[:16]!r})"
        for _method, path, body in bodies
        for needle, pattern in patterns
        if pattern in body
    ]


class Quiet(WSGIRequestHandler):
    def log_request(self, *args: object, **kwargs: object) -> None:
        pass


@dataclass
class Site:
    base: str
    app: Flask
    office: Office
    recorder: BodyRecorder
    data_dir: Path
    extra: dict[str, Any] = field(default_factory=dict)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    directory = tmp_path_factory.mktemp("e2e") / "data"
    office = make_office()
    init_data_directory(directory, office.card, fingerprint=office.fingerprint, language="en")
    config = directory / "config.toml"
    config.write_text(
        config.read_text().replace(
            "max_upload_bytes = 104857600", f"max_upload_bytes = {FLOW['limit_bytes']}"
        )
    )
    app = create_app(load_config(directory))
    if app.extensions["whistle_submit"].bundle is None:
        raise RuntimeError("the browser bundle is not built: run `make build`")
    recorder = BodyRecorder(app.wsgi_app)
    app.wsgi_app = recorder  # type: ignore[method-assign]
    server: BaseWSGIServer = make_server("127.0.0.1", 0, app, threaded=True, request_handler=Quiet)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield Site(f"http://127.0.0.1:{server.server_port}", app, office, recorder, directory)
    server.shutdown()
    app.extensions["whistle_submit"].engine.dispose()
