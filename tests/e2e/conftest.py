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

from tests.submit.conftest import Office, Replies, announcement, make_office
from whistle.crypto import BoxKeyPair, WrongKeyError, derive_source_keys, login_lookup
from whistle.crypto.records import open_followup_as_office
from whistle.submit import create_app, load_config, store
from whistle.submit.datadir import init_data_directory
from whistle.submit.models import Record, RecordKind

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


# Case keys (docs/protocol.md §17), for the browsers' tests -----------------------------


def case_of(site: Site, code: str) -> tuple[bytes, Any]:
    """(case id, source keys) of the case a code opens."""
    state = site.app.extensions["whistle_submit"]
    keys = derive_source_keys(code, state.config.install_salt)
    with state.sessions.begin() as session:
        case_id = store.find_case(session, login_lookup(keys.login_token, state.config.pepper))
    assert case_id is not None
    return case_id, keys


def announce_case_key(site: Site, case_id: bytes, generation: int, key: BoxKeyPair) -> None:
    """What the inbox does: a replies bundle, signed by the office key, that announces the
    case's key (extra.case_keys), applied on the server as `whistle-submit apply` does. One
    chain of bundles per server (the module's site)."""
    replies = site.extra.setdefault("replies", Replies(site.app, site.office, site.data_dir))
    blob, _key = announcement(site.office, case_id, generation, key)
    replies.apply({"case_keys": [blob]})


def stored_followups(site: Site, case_id: bytes) -> list[tuple[bytes | None, bytes]]:
    """(public case key it was sealed to, ciphertext) of every follow-up the server holds for
    the case."""
    state = site.app.extensions["whistle_submit"]
    found = []
    with state.sessions.begin() as session:
        for record in store.case_records(session, case_id):
            if record.kind != RecordKind.FOLLOWUP:
                continue
            buffer = io.BytesIO()
            store.read_record(session, record.id, buffer)
            row = session.get(Record, record.id)
            assert row is not None
            found.append((row.case_key, buffer.getvalue()))
    return found


def opens_with_the_case_key_alone(
    site: Site, envelope: bytes, case_id: bytes, keys: Any, case_key: BoxKeyPair
) -> str:
    opened = open_followup_as_office(
        envelope, [case_key.secret_key], case_id, keys.reply_public_key, keys.signing_public_key
    )
    desks = [desk.secret_key for desk in site.office.desks.values()]
    with pytest.raises(WrongKeyError):
        open_followup_as_office(
            envelope, desks, case_id, keys.reply_public_key, keys.signing_public_key
        )
    return opened.message
