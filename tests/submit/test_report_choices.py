"""Anonymous or identified, the category, the meeting request (Ley 2/2023 art. 7.2): chosen on
the form, carried inside the encrypted report in the same JSON on both paths, and every
inconsistent choice refused with a clear message and nothing stored."""

import io
import json

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from tests.submit.conftest import Office, browser_report, counts, csrf_from
from whistle.crypto.records import compact_json, form_document, open_submission
from whistle.submit import store
from whistle.submit.models import Record


def _opened_form(app: Flask, office: Office) -> tuple[dict, bytes]:  # type: ignore[type-arg]
    state = app.extensions["whistle_submit"]
    with state.sessions() as session:
        (record,) = session.scalars(select(Record)).all()
        buffer = io.BytesIO()
        store.read_record(session, record.id, buffer)
    buffer.seek(0)
    submission = open_submission(
        buffer, [office.desks["antifrau"].secret_key], bytes.fromhex(record.case_id)
    )
    raw = next(p for p in submission.envelope.read_all() if p.name == "form").content
    return submission.form, raw


def test_the_choices_travel_inside_the_report(
    app: Flask, client: FlaskClient, office: Office
) -> None:
    client.get("/language/ca")
    page = client.get("/report").text
    assert 'name="identified" value="anonymous" checked' in page
    assert '<option value="contractacio" data-label="Contractació pública"' in page
    body, content_type = browser_report(
        csrf_from(page),
        identification={"name": "Anna Puig"},
        category="urbanisme",
        meeting=True,
        availability="  Dimarts   a la tarda ",
    )
    response = client.post("/report", data=body, content_type=content_type)
    assert response.status_code == 200, response.text
    form, raw = _opened_form(app, office)
    assert form["identified"] is True
    assert form["category"] == {"key": "urbanisme", "label": "Urbanisme"}
    assert form["meeting"] is True
    assert form["availability"] == "Dimarts a la tarda"
    # Byte for byte what form_document writes, which tests/js/test_interop.py checks JS against.
    expected = form_document(
        "ca",
        "antifrau",
        form["fields"],
        identified=True,
        category={"key": "urbanisme", "label": "Urbanisme"},
        meeting=True,
        availability="Dimarts a la tarda",
    )
    assert raw == compact_json({"version": 1, **expected})


def test_an_anonymous_report_says_so(app: Flask, client: FlaskClient, office: Office) -> None:
    body, content_type = browser_report(csrf_from(client.get("/report").text))
    assert client.post("/report", data=body, content_type=content_type).status_code == 200
    form, _raw = _opened_form(app, office)
    assert (form["identified"], form["category"], form["meeting"], form["availability"]) == (
        False,
        None,
        False,
        "",
    )


@pytest.mark.parametrize(
    ("kwargs", "message", "field"),
    [
        (
            {"identification": {"name": "Anna"}, "identified": "anonymous"},
            "You chose to report anonymously but filled in your identity",
            "identified-anonymous",
        ),
        (
            {"identified": "identified"},
            "You chose to give your identity: fill in at least one",
            "identified-identified",
        ),
        (
            {"identified": "maybe"},
            "Choose to report anonymously or to give",
            "identified-anonymous",
        ),
        ({"category": "hacking"}, "Choose one of the categories offered", "category"),
        ({"availability": "Mondays"}, "tick the box to ask for a meeting", "availability"),
        ({"meeting": True, "availability": "x" * 501}, "at most 500 characters", "availability"),
    ],
)
def test_inconsistent_choices_are_refused_and_nothing_is_stored(
    app: Flask,
    client: FlaskClient,
    kwargs: dict,  # type: ignore[type-arg]
    message: str,
    field: str,
) -> None:
    client.get("/language/en")
    body, content_type = browser_report(csrf_from(client.get("/report").text), **kwargs)
    response = client.post("/report", data=body, content_type=content_type)
    assert response.status_code == 422
    assert message in response.text
    assert f'href="#{field}"' in response.text
    assert counts(app) == (0, 0, 0)


def test_the_choices_are_kept_when_the_form_comes_back(client: FlaskClient) -> None:
    body, content_type = browser_report(
        csrf_from(client.get("/report").text),
        accept=False,
        category="foment",
        meeting=True,
        availability="Dilluns",
        identification={"email": "a@example.org"},
    )
    page = client.post("/report", data=body, content_type=content_type).text
    assert '<option value="foment" data-label="Subvencions i ajuts (foment)" selected>' in page
    assert 'id="meeting" name="meeting" value="yes" checked' in page
    assert 'value="Dilluns"' in page
    assert 'value="identified" checked' in page


def test_a_questionnaire_without_categories_offers_none(app: Flask, client: FlaskClient) -> None:
    import dataclasses

    state = app.extensions["whistle_submit"]
    state.questionnaire = dataclasses.replace(state.questionnaire, categories=())
    page = client.get("/report").text
    assert 'id="category"' not in page
    body, content_type = browser_report(csrf_from(page), category="foment")
    refused = client.post("/report", data=body, content_type=content_type)
    assert refused.status_code == 422
    assert counts(app) == (0, 0, 0)


def test_category_keys_are_checked_when_the_questionnaire_loads(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from whistle.submit.config import ConfigError
    from whistle.submit.questionnaire import DEFAULT_FILE, load_questionnaire

    bad = DEFAULT_FILE.read_text(encoding="utf-8").replace('key = "foment"', 'key = "Foment!"')
    path = tmp_path / "q.toml"
    path.write_text(bad, encoding="utf-8")
    with pytest.raises(ConfigError, match="bad category key"):
        load_questionnaire(path)
    assert json.dumps([c.key for c in load_questionnaire().categories]) == json.dumps(
        ["contractacio", "funcio-publica", "foment", "urbanisme"]
    )


def test_the_office_s_own_questionnaire_in_the_data_directory(data_dir) -> None:  # type: ignore[no-untyped-def]
    import dataclasses

    from whistle.submit import create_app, load_config
    from whistle.submit.questionnaire import DEFAULT_FILE

    own = DEFAULT_FILE.read_text(encoding="utf-8").split("\n# Categories")[0] + (
        '\n[[categories]]\nkey = "personal"\n'
        'label = { ca = "Personal", es = "Personal", en = "Staff matters" }\n'
    )
    (data_dir / "questionnaire.toml").write_text(own, encoding="utf-8")
    app = create_app(dataclasses.replace(load_config(data_dir), testing=True))
    client = app.test_client()
    client.get("/language/en")
    page = client.get("/report").text
    assert '<option value="personal" data-label="Staff matters">' in page
    assert 'value="urbanisme"' not in page
    app.extensions["whistle_submit"].engine.dispose()
