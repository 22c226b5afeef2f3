"""JavaScript on: the page encrypts, the server checks the shape and stores ciphertext.

Python's whistle.crypto stands in for the browser here (the bytes are the same; the browser
itself is in tests/e2e). The server takes the login token, the case id and the envelope.
"""

import io

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from tests.submit.conftest import Office, csrf_from, submit_report
from whistle.crypto import derive_source_keys, generate_code, login_lookup
from whistle.crypto.conversation import Position
from whistle.crypto.records import (
    SubmissionWriter,
    form_document,
    open_submission,
    seal_followup,
)
from whistle.submit import store
from whistle.submit.models import Chunk, Login, Record


def _state(app: Flask):  # type: ignore[no-untyped-def]
    return app.extensions["whistle_submit"]


def browser_envelope(app: Flask, office: Office, files: list[tuple[str, bytes]]):  # type: ignore[no-untyped-def]
    """What the page makes: (code, keys, case id, envelope)."""
    state = _state(app)
    code = generate_code()
    keys = derive_source_keys(code, state.config.install_salt)
    case_id = store.new_case_id()
    out = io.BytesIO()
    writer = SubmissionWriter(
        out,
        desk_key=office.desks["antifrau"].public_key,
        custodian_key=office.custodian.public_key,
        reply_public_key=keys.reply_public_key,
        source_signing_key=keys.signing_public_key,
        case_id=case_id,
    )
    for name, content in files:
        writer.begin_file(name)
        writer.write(content)
        writer.end_file()
    writer.add_form(  # what js/page.js builds (records.js formDocument)
        form_document(
            "ca",
            "antifrau",
            [{"key": "subject", "label": "Assumpte", "value": "Contractes"}],
            identified=False,
            category=None,
            meeting=False,
            availability="",
        )
    )
    writer.add_identification([])
    writer.finish()
    return code, keys, case_id, out.getvalue()


def _csrf(client: FlaskClient) -> str:
    return csrf_from(client.get("/report").text)


def post_sealed(client: FlaskClient, url: str, body: bytes, csrf: str | None = None):  # type: ignore[no-untyped-def]
    return client.post(
        url,
        data=body,
        content_type="application/octet-stream",
        headers={"X-CSRFToken": csrf if csrf is not None else _csrf(client)},
    )


def _count(app: Flask) -> tuple[int, int, int]:
    with _state(app).sessions() as session:
        return tuple(  # type: ignore[return-value]
            len(session.scalars(select(model)).all()) for model in (Login, Record, Chunk)
        )


def test_a_sealed_report_is_stored_and_checks_in_without_javascript(
    app: Flask, client: FlaskClient, office: Office
) -> None:
    code, keys, case_id, envelope = browser_envelope(app, office, [("a.txt", b"minutes")])
    response = post_sealed(client, "/report/sealed", keys.login_token + case_id + envelope)
    assert response.status_code == 200, response.text
    receipts = response.json["receipts"]
    assert sorted(receipts) == ["ca", "en", "es"]
    assert all('id="code"' in page for page in receipts.values())
    assert "Comunicación recibida" in receipts["es"]
    page = client.get("/check-in")
    answer = client.post("/check-in", data={"csrf_token": csrf_from(page.text), "code": code})
    assert answer.status_code == 200
    assert "Contractes" in answer.text
    assert "a.txt" in answer.text


def test_the_sealed_check_in_returns_ciphertext_only(
    app: Flask, client: FlaskClient, office: Office
) -> None:
    _code, keys, case_id, envelope = browser_envelope(app, office, [])
    post_sealed(client, "/report/sealed", keys.login_token + case_id + envelope)
    response = post_sealed(client, "/check-in/sealed", keys.login_token)
    assert response.status_code == 200
    assert response.json["case_id"] == case_id.hex()
    (record,) = response.json["records"]
    assert record["kind"] == "submission"
    import base64

    assert base64.b64decode(record["data"]) == envelope
    unknown = post_sealed(client, "/check-in/sealed", bytes(32))
    assert unknown.status_code == 404
    assert unknown.json["error"]
    assert unknown.json["reason"] == "unknown-code"


def test_a_sealed_follow_up_is_stored(app: Flask, client: FlaskClient, office: Office) -> None:
    _code, keys, case_id, envelope = browser_envelope(app, office, [])
    post_sealed(client, "/report/sealed", keys.login_token + case_id + envelope)
    followup = seal_followup(
        "more",
        [("b.txt", b"b")],
        reply_secret_key=keys.reply_secret_key,
        office_keys=[office.desks["antifrau"].public_key],
        case_id=case_id,
        signing_seed=keys.signing_seed,
        position=Position(1, 0),
    )
    response = post_sealed(client, "/follow-up/sealed", keys.login_token + case_id + followup)
    assert response.status_code == 200, response.text
    assert response.json == {"sent": True}
    with _state(app).sessions() as session:
        kinds = [r.kind.value for r in store.case_records(session, case_id)]
    assert kinds == ["submission", "followup"]
    # another case's token cannot add to this case
    other = post_sealed(client, "/follow-up/sealed", bytes(32) + case_id + followup)
    assert other.status_code == 404
    assert _count(app) == (1, 2, 2)


@pytest.mark.parametrize(
    "mangle",
    [
        lambda e: b"XXXXX" + e[5:],  # not an envelope
        lambda e: e[:-1],  # one byte short: not a chunk boundary
        lambda e: e[:300],  # the header only
        lambda e: e + bytes(65553),  # an extra chunk: not a padded size
        lambda e: b"",
    ],
)
def test_forged_or_malformed_ciphertext_is_a_400_and_nothing_is_kept(
    app: Flask,
    client: FlaskClient,
    office: Office,
    mangle,  # type: ignore[no-untyped-def]
) -> None:
    _code, keys, case_id, envelope = browser_envelope(app, office, [])
    response = post_sealed(client, "/report/sealed", keys.login_token + case_id + mangle(envelope))
    assert response.status_code == 400
    assert "registre xifrat" in response.json["error"]
    assert response.json["reason"] == "malformed"
    assert _count(app) == (0, 0, 0)


def test_a_follow_up_of_the_wrong_shape_is_refused(
    app: Flask, client: FlaskClient, office: Office
) -> None:
    """Protocol 2 follow-ups are sealed to every desk and the reply key, protocol 1 ones boxed.

    With one desk a protocol 2 follow-up has the shape of a report or a reply (two sealed
    slots): the server cannot tell them apart, the inbox does, by the associated data
    (tests/inbox/test_import.py::test_record_moved_to_another_case_refused).
    """
    _code, keys, case_id, envelope = browser_envelope(app, office, [])
    post_sealed(client, "/report/sealed", keys.login_token + case_id + envelope)
    three_sealed = seal_followup(
        "more",
        [],
        reply_secret_key=keys.reply_secret_key,
        office_keys=[office.desks["antifrau"].public_key] * 2,
        case_id=case_id,
        signing_seed=keys.signing_seed,
        position=Position(1, 0),
    )
    response = post_sealed(client, "/follow-up/sealed", keys.login_token + case_id + three_sealed)
    assert response.status_code == 400
    assert _count(app) == (1, 1, 1)


def test_without_the_csrf_header_nothing_is_kept(
    app: Flask, client: FlaskClient, office: Office
) -> None:
    _code, keys, case_id, envelope = browser_envelope(app, office, [])
    response = post_sealed(client, "/report/sealed", keys.login_token + case_id + envelope, "x")
    assert response.status_code == 400
    assert _count(app) == (0, 0, 0)


def test_a_case_id_in_use_is_refused(app: Flask, client: FlaskClient, office: Office) -> None:
    _code, keys, case_id, envelope = browser_envelope(app, office, [])
    assert (
        post_sealed(client, "/report/sealed", keys.login_token + case_id + envelope).status_code
        == 200
    )
    _c, keys2, _id, envelope2 = browser_envelope(app, office, [])
    again = post_sealed(client, "/report/sealed", keys2.login_token + case_id + envelope2)
    assert again.status_code == 400
    assert _count(app) == (1, 1, 1)


def test_an_envelope_over_the_limit_is_refused_by_the_server(
    app: Flask, client: FlaskClient, office: Office
) -> None:
    from whistle.crypto import max_envelope_size
    from whistle.submit.views.common import FORM_ALLOWANCE

    limit = _state(app).config.limits.max_upload_bytes
    body = bytes(32 + 16) + bytes(max_envelope_size(limit + FORM_ALLOWANCE, 2) + 1)
    response = post_sealed(client, "/report/sealed", body)
    assert response.status_code == 413
    assert "més gran del que accepta" in response.json["error"]
    assert response.json["reason"] == "too-large"
    assert _count(app) == (0, 0, 0)


def test_an_upload_cut_short_keeps_nothing(app: Flask, office: Office) -> None:
    _code, keys, case_id, envelope = browser_envelope(app, office, [])
    body = keys.login_token + case_id + envelope
    client = app.test_client()
    csrf = _csrf(client)
    environ = {"CONTENT_LENGTH": str(len(body) + 1000)}
    response = client.post(
        "/report/sealed",
        input_stream=io.BytesIO(body),
        content_type="application/octet-stream",
        headers={"X-CSRFToken": csrf},
        environ_overrides=environ,
    )
    assert response.status_code == 400
    assert _count(app) == (0, 0, 0)


def _rows(app: Flask, case_id: bytes) -> dict[str, object]:
    with _state(app).sessions() as session:
        record = session.scalars(select(Record).where(Record.case_id == case_id.hex())).one()
        login = session.scalars(select(Login).where(Login.case_id == case_id.hex())).one()
        chunks = session.scalars(select(Chunk).where(Chunk.record_id == record.id)).all()
        return {
            "record": sorted(
                k for k, v in vars(record).items() if not k.startswith("_") and v is not None
            ),
            "login": sorted(
                k for k, v in vars(login).items() if not k.startswith("_") and v is not None
            ),
            "kind": record.kind,
            "position": record.position,
            "created": record.created,
            "lookup length": len(login.lookup),
            "id length": len(record.id),
            "chunks": len(chunks),
            "size is the stored bytes": record.size == sum(len(c.data) for c in chunks),
        }


def test_nothing_stored_tells_which_path_a_report_came_by(
    app: Flask, client: FlaskClient, office: Office
) -> None:
    plain_code = submit_report(client, files=[(b"minutes", "a.txt")])
    state = _state(app)
    keys = derive_source_keys(plain_code.replace(" ", ""), state.config.install_salt)
    with state.sessions() as session:
        plain_case = store.find_case(session, login_lookup(keys.login_token, state.config.pepper))
    assert plain_case is not None
    _code, sealed_keys, sealed_case, envelope = browser_envelope(
        app, office, [("a.txt", b"minutes")]
    )
    post_sealed(client, "/report/sealed", sealed_keys.login_token + sealed_case + envelope)
    plain, sealed = _rows(app, plain_case), _rows(app, sealed_case)
    assert plain == sealed
    # The same envelope structure: the same parts, in the same order, opened with the desk key.
    desk = office.desks["antifrau"].secret_key
    with state.sessions() as session:
        opened = []
        for case in (plain_case, sealed_case):
            (record,) = store.case_records(session, case)
            buffer = io.BytesIO()
            store.read_record(session, record.id, buffer)
            buffer.seek(0)
            opened.append(open_submission(buffer, [desk], case))
    assert opened[0].files == opened[1].files
    assert list(opened[0].form) == list(opened[1].form)  # the same keys in the same order
    assert [type(v) for v in opened[0].form.values()] == [type(v) for v in opened[1].form.values()]


def test_nothing_stored_tells_which_path_a_follow_up_came_by(
    app: Flask, client: FlaskClient, office: Office
) -> None:
    from tests.submit.conftest import check_in, multipart

    code, keys, case_id, envelope = browser_envelope(app, office, [])
    post_sealed(client, "/report/sealed", keys.login_token + case_id + envelope)
    _status, page = check_in(client, code)
    body, content_type = multipart(
        [
            ("csrf_token", None, csrf_from(page).encode()),
            ("code", None, code.encode()),
            ("message", None, b"plain"),
        ]
    )
    assert client.post("/follow-up", data=body, content_type=content_type).status_code == 200
    sealed = seal_followup(
        "sealed",
        [],
        reply_secret_key=keys.reply_secret_key,
        office_keys=[office.desks["antifrau"].public_key],
        case_id=case_id,
        signing_seed=keys.signing_seed,
        position=Position(2, 0),
    )
    response = post_sealed(client, "/follow-up/sealed", keys.login_token + case_id + sealed)
    assert response.status_code == 200
    with _state(app).sessions() as session:
        rows = session.scalars(
            select(Record).where(Record.case_id == case_id.hex()).order_by(Record.position)
        ).all()
        plain, browser = rows[1], rows[2]
        assert (plain.kind, plain.created, plain.size) == (
            browser.kind,
            browser.created,
            browser.size,
        )
        heads = []
        for row in (plain, browser):
            buffer = io.BytesIO()
            store.read_record(session, row.id, buffer)
            heads.append(buffer.getvalue()[:8])
    assert heads[0] == heads[1]  # magic, version, slot count, flags


def test_a_full_mailbox_refuses_before_reading(app: Flask, office: Office, config) -> None:  # type: ignore[no-untyped-def]
    import dataclasses

    from whistle.submit import create_app

    full = create_app(
        dataclasses.replace(
            config, limits=dataclasses.replace(config.limits, storage_quota_bytes=1)
        )
    )
    client = full.test_client()
    _code, keys, case_id, envelope = browser_envelope(full, office, [])
    csrf = csrf_from(client.get("/check-in").text)  # the report page says it is full
    response = post_sealed(client, "/report/sealed", keys.login_token + case_id + envelope, csrf)
    assert response.status_code == 503
    assert _count(full) == (0, 0, 0)
    full.extensions["whistle_submit"].engine.dispose()
