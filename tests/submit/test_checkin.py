"""Check-in and follow-ups: mistyped, unknown, the same work for both, the code kept nowhere."""

import json

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.submit.conftest import (
    Office,
    check_in,
    counts,
    csrf_from,
    insert_reply,
    multipart,
    submit_report,
)
from whistle.crypto import generate_code, normalize_code, open_token
from whistle.submit.session import COOKIE_NAME
from whistle.submit.views import plain as views


@pytest.fixture
def english(client: FlaskClient) -> FlaskClient:
    client.get("/language/en")
    return client


def _swap_check_symbol(code: str) -> str:
    compact = normalize_code(code)
    wrong = next(c for c in "0123456789ABCDEFGHJKMNPQRSTVWXYZ" if c != compact[-1])
    return compact[:-1] + wrong


def test_mistyped_code_is_decided_before_any_lookup(
    english: FlaskClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[str] = []
    monkeypatch.setattr(views, "code_master", lambda *a: calls.append("derive"))
    code = generate_code()
    status, page = check_in(english, _swap_check_symbol(code))
    assert status == 422
    assert "mistyped" in page
    assert calls == []


def test_not_a_code(english: FlaskClient) -> None:
    for text in ("", "ABC", "x" * 500, "\x00" * 21, "ÀÀÀÀÀÀÀÀÀÀÀÀÀÀÀÀÀÀÀÀÀ"):
        status, page = check_in(english, text)
        assert status == 422
        assert "not a code" in page


def test_unknown_and_valid_codes_run_the_same_derivation_and_lookup(
    english: FlaskClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    code = submit_report(english)
    calls: list[tuple[str, int]] = []
    real_derive, real_find = views.code_master, views.store.find_logins

    def derive(code_text: str, salt: bytes):  # type: ignore[no-untyped-def]
        calls.append(("derive", len(salt)))
        return real_derive(code_text, salt)

    def find(session, lookups: list[bytes]):  # type: ignore[no-untyped-def]
        calls.append(("find_logins", len(lookups)))
        return real_find(session, lookups)

    monkeypatch.setattr(views, "code_master", derive)
    monkeypatch.setattr(views.store, "find_logins", find)
    status, _ = check_in(english, code)
    assert status == 200
    valid_calls = list(calls)
    calls.clear()
    status, page = check_in(english, generate_code())
    assert status == 422
    assert "unknown" in page
    assert calls == valid_calls == [("derive", 32), ("find_logins", 1)]


def test_conversation_only_on_the_response_to_the_post(english: FlaskClient) -> None:
    code = submit_report(english, subject="Only once")
    status, page = check_in(english, code)
    assert status == 200
    assert "Only once" in page
    assert "Only once" not in english.get("/check-in").text
    assert "Only once" not in english.get("/").text


def test_the_session_cookie_never_holds_the_code(app: Flask, english: FlaskClient) -> None:
    code = submit_report(english)
    check_in(english, code)
    cookie = english.get_cookie(COOKIE_NAME)
    assert cookie is not None
    assert cookie.http_only
    assert cookie.same_site == "Strict"
    keys = list(app.extensions["whistle_submit"].config.session_keys)
    document = json.loads(open_token(keys, cookie.value, "session"))
    data = document["data"]
    # No case id either (review finding L4): the cookie does not link a browser to a case.
    assert set(data) <= {"sid", "lang", "csrf_token"}
    compact = normalize_code(code)
    assert compact not in cookie.value
    assert compact not in json.dumps(document)


def test_expired_cookie_at_check_in_says_so_and_asks_again(
    app: Flask, english: FlaskClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    code = submit_report(english)
    page = english.get("/check-in").text
    import time as real_time

    later = real_time.time() + 7 * 3600
    monkeypatch.setattr("whistle.submit.session.time.time", lambda: later)
    monkeypatch.setattr("itsdangerous.timed.time.time", lambda: later)
    response = english.post("/check-in", data={"csrf_token": csrf_from(page), "code": code})
    assert response.status_code == 400
    assert 'name="code"' in response.text
    assert "expired" in response.text


def test_tampered_cookie_is_a_new_session(english: FlaskClient) -> None:
    english.set_cookie(COOKIE_NAME, "AQ" + "A" * 60)
    assert english.get("/").status_code == 200
    english.delete_cookie(COOKIE_NAME)
    raw = english.get("/", headers={"Cookie": f"{COOKIE_NAME}=" + "\\377%00" * 1500})
    assert raw.status_code == 200


def _followup(client: FlaskClient, page: str, **fields: str) -> tuple[int, str]:
    parts: list[tuple[str, str | None, bytes]] = [("csrf_token", None, csrf_from(page).encode())]
    parts += [(k, None, v.encode()) for k, v in fields.items()]
    body, content_type = multipart(parts)
    response = client.post("/follow-up", data=body, content_type=content_type)
    return response.status_code, response.text


def test_follow_up_with_files_before_the_code(
    app: Flask, english: FlaskClient, office: Office
) -> None:
    code = submit_report(english)
    _, page = check_in(english, code)
    body, content_type = multipart(
        [
            ("csrf_token", None, csrf_from(page).encode()),
            ("files", "late.txt", b"files came first" * 10_000),
            ("message", None, b"Here is more"),
            ("code", None, code.encode()),
        ]
    )
    response = english.post("/follow-up", data=body, content_type=content_type)
    assert response.status_code == 200
    _, page = check_in(english, code)
    assert "Here is more" in page
    assert "late.txt" in page


@pytest.mark.parametrize(
    ("change", "expected"),
    [("mistype", "mistyped"), ("unknown", "unknown"), ("empty", "not a code")],
)
def test_follow_up_with_a_bad_code_keeps_the_message(
    app: Flask, english: FlaskClient, change: str, expected: str
) -> None:
    code = submit_report(english)
    _, page = check_in(english, code)
    before = counts(app)
    bad = {"mistype": _swap_check_symbol(code), "unknown": generate_code(), "empty": ""}[change]
    body, content_type = multipart(
        [
            ("csrf_token", None, csrf_from(page).encode()),
            ("code", None, bad.encode()),
            ("message", None, b"Do not lose me"),
            ("files", "a.txt", b"content"),
        ]
    )
    response = english.post("/follow-up", data=body, content_type=content_type)
    assert response.status_code == 422
    assert expected in response.text
    assert "Do not lose me</textarea>" in response.text
    assert "choose them again" in response.text
    assert counts(app) == before


def test_follow_up_without_a_message(app: Flask, english: FlaskClient) -> None:
    code = submit_report(english)
    _, page = check_in(english, code)
    status, text = _followup(english, page, code=code, message="   ")
    assert status == 422
    assert 'href="#message"' in text


def test_follow_up_with_an_expired_session(app: Flask, english: FlaskClient) -> None:
    code = submit_report(english)
    _, page = check_in(english, code)
    before = counts(app)
    stranger = app.test_client()
    body, content_type = multipart(
        [
            ("csrf_token", None, csrf_from(page).encode()),
            ("code", None, code.encode()),
            ("message", None, b"Kept text"),
        ]
    )
    response = stranger.post("/follow-up", data=body, content_type=content_type)
    assert response.status_code == 400
    assert "Kept text</textarea>" in response.text
    assert counts(app) == before


def test_reply_readable_only_with_the_code(
    app: Flask, english: FlaskClient, office: Office
) -> None:
    code = submit_report(english)
    insert_reply(app, code, office, "We are looking into it.")
    other = submit_report(english)
    _, page = check_in(english, other)
    assert "We are looking into it." not in page
    _, page = check_in(english, code)
    assert "We are looking into it." in page


def test_download_a_file_the_office_attached(
    app: Flask, english: FlaskClient, office: Office
) -> None:
    import io
    import re

    from whistle.crypto import derive_source_keys, login_lookup
    from whistle.crypto.conversation import Position
    from whistle.crypto.records import seal_reply
    from whistle.submit import store
    from whistle.submit.store import add_reply

    code = submit_report(english)
    state = app.extensions["whistle_submit"]
    keys = derive_source_keys(code, state.config.install_salt)
    with state.sessions.begin() as session:
        case_id = store.find_case(session, login_lookup(keys.login_token, state.config.pepper))
        assert case_id is not None
        envelope = seal_reply(
            "Please read the attached minutes.",
            [("acta reunió.pdf", b"%PDF minutes"), ("b.txt", b"second")],
            reply_public_key=keys.reply_public_key,
            desk_key=office.desks["antifrau"].public_key,
            case_id=case_id,
            office_seed=office.signing_seed,
            position=Position(1, 0),
        )
        add_reply(session, case_id=case_id, envelope=io.BytesIO(envelope), today=store_day())
    _, page = check_in(english, code)
    assert "acta reunió.pdf" in page
    choice = re.search(r'name="file" value="([^"]+)"', page)
    assert choice
    visit = re.search(r'name="visit" value="([^"]+)"', page)
    assert visit  # the file is downloaded without typing the code again
    form = {"csrf_token": csrf_from(page), "file": choice.group(1), "visit": visit.group(1)}
    response = english.post("/check-in/file", data=form)
    assert response.status_code == 200
    assert response.data == b"%PDF minutes"
    assert response.mimetype == "application/octet-stream"
    assert response.headers["Content-Disposition"].startswith("attachment")
    assert response.headers["Cache-Control"] == "no-store"
    second = dict(form, file=choice.group(1)[:-1] + "1")
    assert english.post("/check-in/file", data=second).data == b"second"
    for bad in (
        dict(form, file=choice.group(1)[:-1] + "9"),
        dict(form, file="nothing:0"),
        dict(form, file=choice.group(1)[:-2] + ":x"),
    ):
        assert english.post("/check-in/file", data=bad).status_code == 422
    other = submit_report(english)
    by_code = {"csrf_token": form["csrf_token"], "file": form["file"]}
    assert english.post("/check-in/file", data=dict(by_code, code=code)).data == b"%PDF minutes"
    assert english.post("/check-in/file", data=dict(by_code, code=other)).status_code == 422
    assert english.post("/check-in/file", data=dict(by_code, code="")).status_code == 422
    tampered = dict(form, visit=form["visit"][:-2] + "AA")
    assert english.post("/check-in/file", data=tampered).status_code == 422


def store_day():  # type: ignore[no-untyped-def]
    import datetime

    return datetime.date(2026, 11, 27)


def test_a_follow_up_to_a_case_purged_meanwhile_is_refused_and_nothing_kept(
    app: Flask, english: FlaskClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    from whistle.submit import db

    code = submit_report(english)
    _, page = check_in(english, code)
    state = app.extensions["whistle_submit"]
    real = views._lookup

    def purged_after_lookup(typed):  # type: ignore[no-untyped-def]
        # The office's purge commits between the code's look-up and the storing.
        keys, case_id = real(typed)
        with db.writing(state.sessions) as other:
            views.store.purge_case(other, case_id)
        return keys, case_id

    monkeypatch.setattr(views, "_lookup", purged_after_lookup)
    status, text = _followup(english, page, code=code, message="too late")
    assert status == 422
    assert "too late" in text  # the message is given back
    assert counts(app) == (0, 0, 0)
