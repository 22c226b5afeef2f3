"""Hostile bodies and headers: always a page, never a 500; stored whole or not at all.

The form fuzzers act as a browser does: they load the page first (a session, a CSRF token)
and post a body built around the form's fields with hostile values, so they reach the
parser, the encryption and the database. Each example must either get a receipt with exactly
one new record that opens with the desk key (and holds the files sent), or a 4xx page with
nothing stored; each run must store reports, or it proved nothing about storing. The header
fuzzer sends no token: nothing it sends may be stored.
"""

import io
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from tests.submit.conftest import (
    BOUNDARY,
    CODE,
    Office,
    counts,
    csrf_from,
    make_office,
    multipart,
    submit_report,
)
from whistle.crypto.records import open_followup_as_office, open_submission
from whistle.submit import create_app, load_config, store
from whistle.submit.datadir import init_data_directory
from whistle.submit.models import Record

SETTINGS = settings(max_examples=150, deadline=None)
#: Of the 150 examples, at least this many must store something (measured: 53 reports and 89
#: follow-ups).
MIN_STORED = 20


@dataclass
class Fuzzed:
    app: Flask
    office: Office


@pytest.fixture(scope="module")
def fuzz_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fuzzed]:
    directory: Path = tmp_path_factory.mktemp("fuzz") / "data"
    office = make_office()
    init_data_directory(directory, office.card, fingerprint=office.fingerprint)
    app = create_app(load_config(directory))
    yield Fuzzed(app, office)
    app.extensions["whistle_submit"].engine.dispose()


TEXT = st.one_of(
    st.text(max_size=60),
    st.text(alphabet=st.characters(codec="utf-8"), min_size=1, max_size=60),
    st.sampled_from(["", " ", "\x00", "\u202e", "a\r\nb", "é" * 50, "x" * 5000]),
)
#: Values a form takes, so that examples reach storage; then one field made hostile.
STORABLE = (
    st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc")), max_size=60)
    .map(lambda t: "x" + t)
    .map(lambda t: t.encode("utf-8"))
)
HOSTILE = st.one_of(TEXT.map(lambda t: t.encode("utf-8", "surrogatepass")), st.binary(max_size=80))
HOSTILE_FIELD = st.one_of(
    st.none(),
    st.none(),
    st.tuples(
        st.sampled_from(
            ["q_subject", "q_description", "q_name", "q_email", "message", "code", "accept"]
        ),
        HOSTILE,
    ),
)
SOMETIMES = st.sampled_from([True, True, True, False])
CUT = st.one_of(st.none(), st.none(), st.integers(min_value=0, max_value=3000))
FILE = st.tuples(
    st.one_of(
        STORABLE.map(bytes.decode),
        STORABLE.map(bytes.decode),
        TEXT,
        st.sampled_from(["../../etc/passwd", "a\\b.exe", "evil\u202etxt.exe"]),
    ),
    st.binary(max_size=300),
)
EXTRA = st.tuples(
    st.sampled_from(["q_subject", "accept", "files", "csrf_token", "x", "q_name", ""]),
    st.one_of(st.none(), st.text(max_size=10)),
    st.binary(max_size=40),
)
EXTRAS = st.one_of(st.just([]), st.just([]), st.lists(EXTRA, min_size=1, max_size=1))


def _records(app: Flask) -> list[tuple[str, str, bytes]]:
    state = app.extensions["whistle_submit"]
    with state.sessions() as session:
        rows = session.scalars(select(Record).order_by(Record.id)).all()
        return [(r.id, r.kind.value, bytes.fromhex(r.case_id)) for r in rows]


def _envelope(app: Flask, record_id: str) -> bytes:
    buffer = io.BytesIO()
    with app.extensions["whistle_submit"].sessions() as session:
        store.read_record(session, record_id, buffer)
    return buffer.getvalue()


def _new(app: Flask, before: list[tuple[str, str, bytes]]) -> list[tuple[str, str, bytes]]:
    seen = {r[0] for r in before}
    return [r for r in _records(app) if r[0] not in seen]


def _expect_page(response) -> None:  # type: ignore[no-untyped-def]
    assert response.status_code < 500, response.status_code
    assert response.status_code in (200, 400, 413, 422, 503), response.status_code
    assert b"<h1>" in response.data


@pytest.mark.parametrize("url", ["/report", "/report/antifrau"])
def test_hostile_reports_are_stored_whole_or_not_at_all(fuzz_app: Fuzzed, url: str) -> None:
    app, office = fuzz_app.app, fuzz_app.office
    stored: list[int] = []

    @SETTINGS
    @given(
        values=st.lists(STORABLE, min_size=6, max_size=6),
        hostile=HOSTILE_FIELD,
        files=st.lists(FILE, max_size=3),
        accept=SOMETIMES,
        extra=EXTRAS,
        cut=CUT,
    )
    def run(values, hostile, files, accept, extra, cut) -> None:  # type: ignore[no-untyped-def]
        client = app.test_client()
        csrf = csrf_from(client.get(url).text)
        parts: list[tuple[str, str | None, bytes]] = [
            ("csrf_token", None, csrf.encode()),
            ("q_subject", None, values[0]),
            ("q_description", None, values[1]),
        ]
        try:
            parts += [("files", name, content) for name, content in files or [("", b"")]]
            keys = ("q_name", "q_id_number", "q_email", "q_phone")
            parts += [(key, None, value) for key, value in zip(keys, values[2:], strict=True)]
            given = any(v.decode("utf-8", "replace").strip() for v in values[2:])
            parts += [("identified", None, b"identified" if given else b"anonymous")]
            parts += [("accept", None, b"yes")] if accept else []
            if hostile is not None:  # one field gets a hostile value
                name, value = hostile
                parts = [(n, f, value if n == name else v) for n, f, v in parts]
            parts += extra
            body, content_type = multipart(parts)
        except UnicodeEncodeError:
            return  # a file name the test client cannot send
        if cut is not None:
            body = body[:cut]
        before = _records(app)
        response = client.post(url, data=body, content_type=content_type)
        _expect_page(response)
        new = _new(app, before)
        if response.status_code != 200 or not CODE.search(response.text):
            assert new == [], response.status_code  # refused: nothing kept
            return
        [(record_id, kind, case_id)] = new  # a receipt: exactly one report, whole
        assert kind == "submission"
        opened = open_submission(
            io.BytesIO(_envelope(app, record_id)), [office.desks["antifrau"].secret_key], case_id
        )
        # Every named file part is an attachment, whatever its field is called.
        sent = [len(content) for name, content in files if name]
        sent += [len(content) for _field, name, content in extra if name]
        assert sorted(size for _name, size in opened.files) == sorted(sent)
        stored.append(1)

    run()
    assert len(stored) >= MIN_STORED, f"only {len(stored)} examples reached storage"


def test_hostile_follow_ups_are_stored_whole_or_not_at_all(fuzz_app: Fuzzed) -> None:
    app, office = fuzz_app.app, fuzz_app.office
    setup = app.test_client()
    code = submit_report(setup)
    stored: list[int] = []

    @SETTINGS
    @given(
        message=STORABLE,
        hostile=HOSTILE_FIELD,
        files=st.lists(FILE, max_size=3),
        extra=EXTRAS,
        cut=CUT,
    )
    def run(message, hostile, files, extra, cut) -> None:  # type: ignore[no-untyped-def]
        client: FlaskClient = app.test_client()
        # The check-in page's form gives the session its token (a check-in would decrypt the
        # whole, growing conversation every time: the follow-up form carries the code).
        page = client.get("/check-in").text
        parts: list[tuple[str, str | None, bytes]] = [
            ("csrf_token", None, csrf_from(page).encode())
        ]
        try:
            parts += [("files", name, content) for name, content in files or [("", b"")]]
            parts += [("message", None, message), ("code", None, code.encode())]
            if hostile is not None:
                name, value = hostile
                parts = [(n, f, value if n == name else v) for n, f, v in parts]
            parts += extra
            body, content_type = multipart(parts)
        except UnicodeEncodeError:
            return
        if cut is not None:
            body = body[:cut]
        before = _records(app)
        response = client.post("/follow-up", data=body, content_type=content_type)
        _expect_page(response)
        new = _new(app, before)
        if response.status_code != 200 or not new:
            assert new == [], response.status_code  # refused: nothing kept
            return
        [(record_id, kind, case_id)] = new
        assert kind == "followup"
        reply_key, signing_key = _source_keys(app, office, case_id)
        conversation = open_followup_as_office(
            _envelope(app, record_id),
            [office.desks["antifrau"].secret_key],
            case_id,
            reply_key,
            signing_key,
        )
        assert conversation.message is not None
        stored.append(1)

    run()
    assert len(stored) >= MIN_STORED, f"only {len(stored)} examples reached storage"


def _source_keys(app: Flask, office: Office, case_id: bytes) -> tuple[bytes, bytes | None]:
    """The reply key and the signing key the case's submission carries."""
    [submission] = [r for r in _records(app) if r[2] == case_id and r[1] == "submission"]
    opened = open_submission(
        io.BytesIO(_envelope(app, submission[0])), [office.desks["antifrau"].secret_key], case_id
    )
    return opened.reply_public_key, opened.source_signing_key


@SETTINGS
@given(
    url=st.sampled_from(["/report", "/follow-up", "/check-in", "/receipt", "/", "/language/ca"]),
    method=st.sampled_from(["GET", "POST"]),
    content_type=st.one_of(
        st.text(max_size=80),
        st.sampled_from(
            [
                "multipart/form-data",
                f"multipart/form-data; boundary={BOUNDARY}",
                "multipart/form-data; boundary=",
                "application/x-www-form-urlencoded",
                "application/x-www-form-urlencoded; charset=latin1",
            ]
        ),
    ),
    body=st.binary(max_size=500),
    cookie=st.text(max_size=100),
    query=st.text(max_size=50),
)
def test_hostile_headers_and_bodies(
    fuzz_app: Fuzzed, url, method, content_type, body, cookie, query
) -> None:  # type: ignore[no-untyped-def]
    """Parsing only: no session, no token, so nothing may be stored."""
    app = fuzz_app.app
    client = app.test_client()
    headers = {"Content-Type": content_type}
    if cookie.isprintable() and cookie.isascii() and ";" not in cookie:
        headers["Cookie"] = f"whistle={cookie}"
    before = counts(app)
    try:
        response = client.open(
            url, method=method, data=body, headers=headers, query_string={"next": query}
        )
    except (UnicodeEncodeError, ValueError):
        return  # the test client itself cannot send it
    assert response.status_code < 500
    assert counts(app) == before
