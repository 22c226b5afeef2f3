"""The cap on concurrent code look-ups (whistle/submit/slots.py): busy means 503, never a 500.

Deterministic: the test holds every slot of the app (``LookupSlots.all_taken``), so each
look-up finds none free; nothing here depends on timing.
"""

import dataclasses
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.submit.conftest import Office, check_in, counts, csrf_from, multipart, submit_report
from tests.submit.test_sealed import browser_envelope, post_sealed
from whistle.crypto.records import seal_followup
from whistle.submit import ConfigError, create_app, load_config
from whistle.submit.config import SubmitConfig
from whistle.submit.session import COOKIE_NAME
from whistle.submit.slots import (
    RETRY_AFTER_SECONDS,
    WAITERS_PER_SLOT,
    LookupsBusyError,
    LookupSlots,
)
from whistle.submit.views import common as views

pytestmark = pytest.mark.sqlite_only

BUSY = "Too many people are checking in at this moment"


@pytest.fixture
def app(config: SubmitConfig) -> Iterator[Flask]:
    """The site with no wait for a slot (the waiting path has its own test)."""
    limits = dataclasses.replace(config.limits, lookup_slots=2, lookup_wait_ms=0)
    application = create_app(dataclasses.replace(config, limits=limits))
    yield application
    application.extensions["whistle_submit"].engine.dispose()


@pytest.fixture
def english(client: FlaskClient) -> FlaskClient:
    client.get("/language/en")
    return client


def _slots(app: Flask) -> LookupSlots:
    return app.extensions["whistle_submit"].lookup_slots  # type: ignore[no-any-return]


@pytest.fixture
def lookups(monkeypatch: pytest.MonkeyPatch) -> list[bytes]:
    """The login token of every case look-up the views make."""
    calls: list[bytes] = []
    real = views.open_login

    def open_login(sessions, config, token):  # type: ignore[no-untyped-def]
        calls.append(token)
        return real(sessions, config, token)

    monkeypatch.setattr(views, "open_login", open_login)
    return calls


def _assert_busy(response, json: bool = False) -> None:  # type: ignore[no-untyped-def]
    assert response.status_code == 503
    assert response.headers["Retry-After"] == str(RETRY_AFTER_SECONDS)
    text = response.json["error"] if json else response.text
    assert BUSY in text


def test_check_in_while_every_slot_is_taken(
    app: Flask, english: FlaskClient, lookups: list[bytes]
) -> None:
    code = submit_report(english)
    english.delete_cookie(COOKIE_NAME)
    english.get("/language/en")
    before = counts(app)
    with _slots(app).all_taken():
        page = english.get("/check-in")
        response = english.post(
            "/check-in", data={"csrf_token": csrf_from(page.text), "code": code}
        )
    _assert_busy(response)
    assert 'name="code"' in response.text  # the form is there to try again
    assert "Contractes" not in response.text
    assert lookups == []
    assert counts(app) == before
    with english.session_transaction() as session:
        assert "case" not in session
    # Free again: the same code checks in.
    status, _page = check_in(english, code)
    assert status == 200
    assert len(lookups) == 1


def test_the_busy_page_is_translated(app: Flask, client: FlaskClient) -> None:
    client.get("/language/ca")
    with _slots(app).all_taken():
        page = client.get("/check-in")
        response = client.post(
            "/check-in", data={"csrf_token": csrf_from(page.text), "code": "A" * 21}
        )
    # "A"*21 fails its check symbol before any look-up: the cap is not involved.
    assert response.status_code == 422
    code = submit_report(client)
    with _slots(app).all_taken():
        status, text = check_in(client, code)
    assert status == 503
    assert "Ara mateix hi ha massa gent consultant" in text
    assert BUSY not in text


def test_follow_up_while_busy_keeps_the_message_and_stores_nothing(
    app: Flask, english: FlaskClient, lookups: list[bytes]
) -> None:
    code = submit_report(english)
    _, page = check_in(english, code)
    before = counts(app)
    calls_before = len(lookups)
    body, content_type = multipart(
        [
            ("csrf_token", None, csrf_from(page).encode()),
            ("code", None, code.encode()),
            ("message", None, b"Do not lose me"),
            ("files", "a.txt", b"content"),
        ]
    )
    with _slots(app).all_taken():
        response = english.post("/follow-up", data=body, content_type=content_type)
    _assert_busy(response)
    assert "Do not lose me</textarea>" in response.text
    assert len(lookups) == calls_before
    assert counts(app) == before


def test_a_reply_file_while_busy(app: Flask, english: FlaskClient) -> None:
    code = submit_report(english)
    _, page = check_in(english, code)
    with _slots(app).all_taken():
        response = english.post(
            "/check-in/file",
            data={"csrf_token": csrf_from(page), "code": code, "file": "x:0"},
        )
    _assert_busy(response)


def test_sealed_check_in_and_follow_up_while_busy(
    app: Flask, english: FlaskClient, office: Office, lookups: list[bytes]
) -> None:
    _code, keys, case_id, envelope = browser_envelope(app, office, [])
    assert post_sealed(english, "/report/sealed", keys.login_token + case_id + envelope).status_code
    before = counts(app)
    followup = seal_followup(
        "more",
        [],
        reply_secret_key=keys.reply_secret_key,
        office_keys=[office.desks["antifrau"].public_key],
        case_id=case_id,
    )
    csrf = csrf_from(english.get("/check-in").text)
    with _slots(app).all_taken():
        checkin = post_sealed(english, "/check-in/sealed", keys.login_token, csrf)
        sent = post_sealed(
            english, "/follow-up/sealed", keys.login_token + case_id + followup, csrf
        )
    _assert_busy(checkin, json=True)
    _assert_busy(sent, json=True)
    assert lookups == []
    assert counts(app) == before
    assert post_sealed(english, "/check-in/sealed", keys.login_token, csrf).status_code == 200


def test_the_rest_of_the_site_is_not_capped(app: Flask, english: FlaskClient) -> None:
    with _slots(app).all_taken():
        code = submit_report(english)  # a report derives keys for a new code, no look-up
        for path in ("/", "/check-in", "/about", "/channels"):
            assert english.get(path).status_code == 200
    assert check_in(english, code)[0] == 200


def test_waiting_for_a_slot_then_busy(config: SubmitConfig) -> None:
    limits = dataclasses.replace(config.limits, lookup_slots=1, lookup_wait_ms=1)
    application = create_app(dataclasses.replace(config, limits=limits))
    client = application.test_client()
    code = submit_report(client)
    with _slots(application).all_taken():
        status, _text = check_in(client, code)
    assert status == 503
    application.extensions["whistle_submit"].engine.dispose()


def test_a_slot_freed_during_the_wait_is_taken() -> None:
    slots = LookupSlots(1, wait_seconds=30)
    entered = threading.Event()
    outcome: list[str] = []

    def waiter() -> None:
        entered.set()
        with slots.hold():
            outcome.append("got a slot")

    with slots.hold():
        thread = threading.Thread(target=waiter)
        thread.start()
        entered.wait()
    thread.join()
    assert outcome == ["got a slot"]


def test_only_so_many_may_wait() -> None:
    slots = LookupSlots(1, wait_seconds=30)
    waiting = threading.Barrier(WAITERS_PER_SLOT + 1)
    release = threading.Event()
    served: list[int] = []

    def waiter(number: int) -> None:
        waiting.wait()
        with slots.hold():
            served.append(number)

    with slots.hold():
        threads = [threading.Thread(target=waiter, args=(n,)) for n in range(WAITERS_PER_SLOT)]
        for thread in threads:
            thread.start()
        waiting.wait()
        # Until every waiter has been admitted (a condition, not a duration).
        while slots.admitted < 1 + WAITERS_PER_SLOT:
            release.wait(0.001)
        with pytest.raises(LookupsBusyError), slots.hold():  # one more: refused at once
            pass
    for thread in threads:
        thread.join()
    assert sorted(served) == list(range(WAITERS_PER_SLOT))


def test_slots_are_released_when_the_look_up_fails() -> None:
    slots = LookupSlots(1, wait_seconds=0)
    with pytest.raises(RuntimeError), slots.hold():
        raise RuntimeError
    with slots.hold(), pytest.raises(LookupsBusyError), slots.hold():
        pass


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("lookup_slots = 0", "lookup_slots"),
        ("lookup_slots = 257", "lookup_slots"),
        ('lookup_slots = "4"', "lookup_slots"),
        ("lookup_wait_ms = -1", "lookup_wait_ms"),
        ("lookup_wait_ms = 10001", "lookup_wait_ms"),
        ("lookup_wait_ms = 0.5", "lookup_wait_ms"),
    ],
)
def test_bad_cap_settings(data_dir: Path, line: str, message: str) -> None:
    path = data_dir / "config.toml"
    key = line.split(" = ")[0]
    text = path.read_text()
    start = text.index(f"{key} = ")
    end = text.index("\n", start)
    path.write_text(text[:start] + line + text[end:])
    with pytest.raises(ConfigError, match=message):
        load_config(data_dir)


def test_the_cap_settings_written_at_init(data_dir: Path) -> None:
    limits = load_config(data_dir).limits
    assert (limits.lookup_slots, limits.lookup_wait_ms) == (1, 1000)
    text = (data_dir / "config.toml").read_text()
    for key in ("lookup_slots", "lookup_wait_ms"):
        text = "\n".join(line for line in text.splitlines() if not line.startswith(key))
    (data_dir / "config.toml").write_text(text)
    assert load_config(data_dir).limits == limits  # the same defaults when left out
