"""Check-in with JS off shows where the case stands and says when there are no replies yet."""

import datetime

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.submit.conftest import Office, check_in, insert_reply, submit_report
from whistle.crypto import derive_source_keys, login_lookup
from whistle.submit import store
from whistle.submit.case_status import case_status
from whistle.submit.models import RecordKind

NO_REPLIES = "No replies from the office yet"


@pytest.fixture
def english(client: FlaskClient) -> FlaskClient:
    client.get("/language/en")
    return client


def _collect_report(app: Flask, code: str) -> None:
    """What an inbox acknowledgement does to the report: the server deletes it."""
    state = app.extensions["whistle_submit"]
    keys = derive_source_keys(code, state.config.install_salt)
    with state.sessions.begin() as session:
        case_id = store.find_case(session, login_lookup(keys.login_token, state.config.pepper))
        assert case_id is not None
        records = store.case_records(session, case_id)
        report = [(r.id, r.record_hash) for r in records if r.kind == RecordKind.SUBMISSION]
        assert store.acknowledge(session, report) == 1


def test_a_new_report_is_waiting_and_has_no_replies_yet(english: FlaskClient) -> None:
    code = submit_report(english)
    status, page = check_in(english, code)
    assert status == 200
    assert "Status: received, not yet collected by the office." in page
    assert NO_REPLIES in page
    assert "no longer holds a copy" not in page


def test_a_collected_report_says_the_office_has_it(app: Flask, english: FlaskClient) -> None:
    code = submit_report(english, subject="Contractes partits")
    _collect_report(app, code)
    _, page = check_in(english, code)
    assert "Status: the office has collected your report." in page
    assert "shown from your own copy" in page  # the source's copy (tests/submit/test_source_copy)
    assert "Contractes partits" in page
    assert "no longer holds a copy" not in page
    assert NO_REPLIES in page


def test_a_reply_is_the_acknowledgement_with_its_date(
    app: Flask, english: FlaskClient, office: Office
) -> None:
    code = submit_report(english)
    _collect_report(app, code)
    insert_reply(app, code, office, "We have received your report.")
    _, page = check_in(english, code)
    assert "Status: acknowledged by the office on " in page
    assert NO_REPLIES not in page
    assert page.index("Status:") < page.index("We have received your report.")


class _E:
    def __init__(self, kind: str, day: int, forged: bool = False, copy: bool = False) -> None:
        self.kind, self.created, self.forged = kind, datetime.date(2026, 12, day), forged
        self.copy = copy


def test_the_first_genuine_reply_dates_the_acknowledgement() -> None:
    entries = [_E("submission", 1), _E("reply", 2, forged=True), _E("reply", 5), _E("reply", 3)]
    status = case_status(entries)  # type: ignore[arg-type]
    assert (status.state, status.acknowledged_on, status.replies) == (
        "acknowledged",
        datetime.date(2026, 12, 3),
        2,
    )
    assert case_status([_E("reply", 2, forged=True)]).state == "collected"  # type: ignore[arg-type]


def test_a_report_shown_from_the_copy_is_not_a_report_still_here() -> None:
    status = case_status([_E("submission", 1, copy=True)])  # type: ignore[arg-type]
    assert (status.state, status.report_here, status.report_copy) == ("collected", False, True)
