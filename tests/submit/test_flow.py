"""The main flow with JavaScript off: report, receipt, check in, reply, follow-up."""

import io

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.submit.conftest import (
    Office,
    check_in,
    csrf_from,
    insert_reply,
    submit_report,
)
from whistle.crypto import derive_source_keys, login_lookup
from whistle.crypto.conversation import Position
from whistle.crypto.records import open_followup_as_office, open_identification, open_submission
from whistle.submit import store

WORDS = {
    "ca": ("Fes una comunicació", "Escriviu el vostre codi", "Resposta de l'oficina"),
    "es": ("Presentar una comunicación", "Escriba su código", "Respuesta de la oficina"),
    "en": ("Make a report", "write down your code", "Reply from the office"),
}


def _case(app: Flask, code: str) -> bytes:
    state = app.extensions["whistle_submit"]
    keys = derive_source_keys(code, state.config.install_salt)
    with state.sessions() as session:
        case_id = store.find_case(session, login_lookup(keys.login_token, state.config.pepper))
    assert case_id is not None
    return case_id


def _records(app: Flask, case_id: bytes) -> list[tuple[store.StoredRecord, bytes]]:
    state = app.extensions["whistle_submit"]
    out = []
    with state.sessions() as session:
        for record in store.case_records(session, case_id):
            buffer = io.BytesIO()
            store.read_record(session, record.id, buffer)
            out.append((record, buffer.getvalue()))
    return out


@pytest.mark.parametrize("lang", ["ca", "es", "en"])
def test_report_check_in_reply_and_follow_up(
    app: Flask, client: FlaskClient, office: Office, lang: str
) -> None:
    client.get(f"/language/{lang}")
    landing = client.get("/")
    assert f'<html lang="{lang}">' in landing.text
    assert WORDS[lang][0] in landing.text

    code = submit_report(
        client,
        files=[(b"evidence one", "factura.pdf"), (b"evidence two", "acta.txt")],
        identification={"name": "Anna Puig", "email": "anna@example.org"},
    )
    assert len(code.replace(" ", "")) == 22

    # The office can open it: form, identification (custodian only), files.
    case_id = _case(app, code)
    [(record, envelope)] = _records(app, case_id)
    assert record.kind.value == "submission"
    assert record.created.isoformat() == record.created.isoformat()[:10]
    opened = open_submission(io.BytesIO(envelope), [office.desks["antifrau"].secret_key], case_id)
    values = {f["key"]: f["value"] for f in opened.form["fields"]}
    assert values["subject"] == "Contractes partits"
    assert opened.form["language"] == lang
    assert sorted(opened.files) == [("acta.txt", 12), ("factura.pdf", 12)]
    identity = open_identification(
        opened.identification_block,
        office.custodian.secret_key,
        case_id=case_id,
        reply_public_key=opened.reply_public_key,
    )
    assert {f["key"]: f["value"] for f in identity.fields} == {
        "name": "Anna Puig",
        "email": "anna@example.org",
    }

    # Check in: the conversation shows the source's own report.
    status, page = check_in(client, code)
    assert status == 200
    assert "Contractes partits" in page
    assert "factura.pdf" in page

    insert_reply(app, code, office, "Hem rebut la vostra comunicació.")
    status, page = check_in(client, code)
    assert status == 200
    assert "Hem rebut la vostra comunicació." in page
    assert WORDS[lang][2] in page

    # Follow up: the code is asked for again; files go in too.
    response = client.post(
        "/follow-up",
        data={
            "csrf_token": csrf_from(page),
            "code": code.lower(),
            "message": "Tinc un altre document.",
            "files": [(io.BytesIO(b"third piece"), "annex.odt")],
        },
        content_type="multipart/form-data",
    )
    assert response.status_code == 200, response.text
    records = _records(app, case_id)
    assert [r.kind.value for r, _ in records] == ["submission", "reply", "followup"]
    keys = derive_source_keys(code, app.extensions["whistle_submit"].config.install_salt)
    followup = open_followup_as_office(
        records[2][1],
        [office.desks["antifrau"].secret_key],
        case_id,
        keys.reply_public_key,
        keys.signing_public_key,
    )
    assert followup.message == "Tinc un altre document."
    assert followup.position == Position(1, 1)  # the first follow-up, after reply 1
    assert [(f.name, f.content) for f in followup.files] == [("annex.odt", b"third piece")]

    status, page = check_in(client, code)
    assert "Tinc un altre document." in page
    assert "annex.odt" in page


def test_several_desks_the_source_chooses_one(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from tests.submit.conftest import make_office, report_fields
    from whistle.submit import create_app, load_config
    from whistle.submit.datadir import init_data_directory

    office = make_office(("antifrau", "urbanisme"))
    init_data_directory(tmp_path / "d", office.card, fingerprint=office.fingerprint)
    app = create_app(load_config(tmp_path / "d"))
    client = app.test_client()
    landing = client.get("/").text
    assert 'href="/report/antifrau"' in landing
    assert 'href="/report/urbanisme"' in landing
    assert client.get("/report").status_code == 404
    page = client.get("/report/urbanisme").text
    response = client.post(
        "/report/urbanisme",
        data=report_fields(csrf_from(page)),
        content_type="multipart/form-data",
    )
    assert response.status_code == 200
    from tests.submit.conftest import CODE

    match = CODE.search(response.text)
    assert match
    case_id = _case(app, match.group(1))
    [(_, envelope)] = _records(app, case_id)
    opened = open_submission(io.BytesIO(envelope), [office.desks["urbanisme"].secret_key], case_id)
    assert opened.form["desk"] == "urbanisme"
    from whistle.crypto import WrongKeyError

    with pytest.raises(WrongKeyError):
        open_submission(io.BytesIO(envelope), [office.desks["antifrau"].secret_key], case_id)
    app.extensions["whistle_submit"].engine.dispose()


def test_accept_language_is_not_followed(client: FlaskClient) -> None:
    """Tor Browser always asks for en-US: the office's default language wins until switched."""
    page = client.get("/", headers={"Accept-Language": "en-US,en;q=0.5"})
    assert '<html lang="ca">' in page.text
    switched = client.get("/language/es?next=/about")
    assert switched.status_code == 303
    assert switched.headers["Location"].endswith("/about")
    assert '<html lang="es">' in client.get("/", headers={"Accept-Language": "en-US"}).text
    for target in ("//evil.example/", "https://evil.example/", "/\\evil"):
        response = client.get("/language/en", query_string={"next": target})
        assert response.headers["Location"] in ("/", "http://localhost/")
    assert client.get("/language/fr").status_code == 404
