"""Enter the code once per visit with JS off: the conversation page's visit token stands for it.

And a refused code stays in the field, with the character the check names marked.
"""

import re

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.submit.conftest import (
    check_in,
    counts,
    csrf_from,
    multipart,
    submit_report,
)
from whistle.crypto import normalize_code, open_token
from whistle.crypto.codes import group
from whistle.submit import visit
from whistle.submit.session import COOKIE_NAME

VISIT = re.compile(r'name="visit" value="([^"]+)"')


@pytest.fixture
def english(client: FlaskClient) -> FlaskClient:
    client.get("/language/en")
    return client


def _post_followup(client: FlaskClient, page: str, **fields: str) -> tuple[int, str]:
    parts: list[tuple[str, str | None, bytes]] = [("csrf_token", None, csrf_from(page).encode())]
    parts += [(k, None, v.encode()) for k, v in fields.items()]
    body, content_type = multipart(parts)
    response = client.post("/follow-up", data=body, content_type=content_type)
    return response.status_code, response.text


def _visit_of(page: str) -> str:
    match = VISIT.search(page)
    assert match, "no visit token on the page"
    return match.group(1)


def test_answering_after_check_in_does_not_ask_for_the_code(
    app: Flask, english: FlaskClient
) -> None:
    code = submit_report(english)
    _, page = check_in(english, code)
    assert 'name="code"' not in page  # neither the answer form nor the file form asks
    before = counts(app)
    status, text = _post_followup(english, page, visit=_visit_of(page), message="More facts")
    assert status == 200, text
    assert counts(app)[0] == before[0] + 1


def test_the_visit_token_holds_neither_the_code_nor_the_case(
    app: Flask, english: FlaskClient
) -> None:
    code = submit_report(english)
    _, page = check_in(english, code)
    keys = list(app.extensions["whistle_submit"].config.session_keys)
    inside = open_token(keys, _visit_of(page), visit.PURPOSE).decode()
    assert normalize_code(code) not in inside.upper()
    assert code not in page
    assert group(code) not in page
    master = inside.rsplit(":", 1)[1]
    cookie = english.get_cookie(COOKIE_NAME)
    assert cookie is not None
    assert master not in open_token(keys, cookie.value, "session").decode()


def test_a_visit_token_from_another_browser_stands_for_nothing(
    app: Flask, english: FlaskClient
) -> None:
    code = submit_report(english)
    _, page = check_in(english, code)
    token = _visit_of(page)
    stranger = app.test_client()
    stranger.get("/language/en")
    _, own_page = check_in(stranger, submit_report(stranger))
    before = counts(app)
    status, text = _post_followup(stranger, own_page, visit=token, message="Keep me")
    assert status == 422
    assert "open too long" in text
    assert "Keep me</textarea>" in text
    assert 'name="code"' in text  # the code field is back
    assert counts(app) == before


def test_an_expired_visit_asks_for_the_code_and_keeps_the_message(
    app: Flask, english: FlaskClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    code = submit_report(english)
    _, page = check_in(english, code)
    token = _visit_of(page)
    real_time = visit.time.time
    monkeypatch.setattr(visit.time, "time", lambda: real_time() + visit.VISIT_SECONDS + 1)
    before = counts(app)
    status, text = _post_followup(english, page, visit=token, message="Still here")
    assert status == 422
    assert "open too long" in text
    assert "Still here</textarea>" in text
    assert counts(app) == before
    status, text = _post_followup(english, page, visit=token, code=code, message="Still here")
    assert status == 200, text


def test_a_right_code_with_another_problem_is_not_asked_for_again(english: FlaskClient) -> None:
    code = submit_report(english)
    _, page = check_in(english, code)
    status, text = _post_followup(english, page, code=code, message="  ")
    assert status == 422
    assert 'name="code"' not in text
    status, text = _post_followup(english, text, visit=_visit_of(text), message="Now written")
    assert status == 200, text


@pytest.mark.parametrize(
    ("change", "expected", "marked"),
    [
        ("substitute", "character 2 of group 2 is wrong", 5),
        ("outside", "character 2 of group 2 is not one of the letters", 5),
    ],
)
def test_a_mistyped_code_stays_typed_and_the_character_is_marked(
    app: Flask, english: FlaskClient, change: str, expected: str, marked: int
) -> None:
    code = submit_report(english)
    compact = normalize_code(code)
    wrong = {"substitute": "Z" if compact[5] != "Z" else "Y", "outside": "U"}[change]
    typed = group(compact[:5] + wrong + compact[6:]).lower()
    before = counts(app)
    status, page = check_in(english, typed)
    assert status == 422
    assert expected in page
    assert f'value="{typed}"' in page
    assert f"<mark>{wrong}</mark>" in page
    assert 'role="alert"' in page
    assert counts(app) == before


def test_a_swap_is_reported_as_a_swap(english: FlaskClient) -> None:
    code = normalize_code(submit_report(english))
    index = next(i for i in range(21) if code[i] != code[i + 1])
    swapped = code[:index] + code[index + 1] + code[index] + code[index + 2 :]
    status, page = check_in(english, swapped)
    assert status == 422
    assert "swapped" in page
    assert f'value="{swapped}"' in page


def test_the_conversation_switches_language_keeping_the_message(
    app: Flask, english: FlaskClient
) -> None:
    code = submit_report(english)
    _, page = check_in(english, code)
    # The switch is a submit button of the message form: the text travels with the token.
    assert (
        'form="followup-form" formnovalidate class="link" name="switch_language" value="es"' in page
    )
    before = counts(app)
    parts: list[tuple[str, str | None, bytes]] = [
        ("csrf_token", None, csrf_from(page).encode()),
        ("visit", None, _visit_of(page).encode()),
        ("message", None, b"Half written <b>reply</b>"),
        ("files", "notes.txt", b"chosen before the switch"),
        ("switch_language", None, b"es"),
    ]
    body, content_type = multipart(parts)
    response = english.post("/follow-up", data=body, content_type=content_type)
    assert response.status_code == 200, response.text
    text = response.text
    assert '<html lang="es">' in text
    assert "Half written &lt;b&gt;reply&lt;/b&gt;</textarea>" in text
    assert "vuelva a adjuntarlos" in text  # the files must be chosen again, and the page says so
    assert 'name="visit"' in text  # still the conversation, still no code asked
    assert 'name="code"' not in text
    assert counts(app) == before  # nothing sent, nothing kept


def test_a_language_switch_after_the_visit_expired_keeps_the_message(
    app: Flask, english: FlaskClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    code = submit_report(english)
    _, page = check_in(english, code)
    real_time = visit.time.time
    monkeypatch.setattr(visit.time, "time", lambda: real_time() + visit.VISIT_SECONDS + 1)
    before = counts(app)
    status, text = _post_followup(
        english, page, visit=_visit_of(page), message="Still here", switch_language="ca"
    )
    assert status == 422
    assert '<html lang="ca">' in text
    assert "Still here</textarea>" in text
    assert 'name="code"' in text  # the code is asked for, in the new language
    assert counts(app) == before


def test_the_message_form_asking_for_the_code_switches_language_keeping_the_message(
    app: Flask, english: FlaskClient
) -> None:
    """The follow-up form shown again after an error (followup.html) switches like the
    conversation: the message comes back in the other language, with or without the code."""
    code = submit_report(english)
    _, page = check_in(english, code)
    status, form = _post_followup(english, page, code="", message="Kept text")
    assert status == 422
    assert 'name="code"' in form
    assert 'form="followup-form"' in form
    assert 'name="switch_language"' in form
    before = counts(app)
    status, text = _post_followup(english, form, message="Kept text", switch_language="es")
    assert status == 200, text
    assert '<html lang="es">' in text
    assert "Kept text</textarea>" in text
    assert 'id="error-title"' not in text  # switching is not a mistake
    status, text = _post_followup(
        english, form, code=code, message="Kept text", switch_language="ca"
    )
    assert status == 200, text
    assert '<html lang="ca">' in text
    assert "Kept text</textarea>" in text
    assert 'name="code"' not in text  # the conversation itself, with a visit token
    assert counts(app) == before
