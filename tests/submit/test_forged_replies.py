"""H2 and H4 from the source's side, as an attacker would try them, with JavaScript off (the
server checks every reply against the office key pinned in its configuration before it
renders anything). Each fails on protocol 1, where replies were unsigned sealed boxes.
"""

import datetime
import io
import re

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from whistle.crypto import (
    PartKind,
    associated_data,
    derive_source_keys,
    generate_signing_keypair,
    login_lookup,
    seal,
    sealed_to,
)
from whistle.crypto.records import open_followup_as_office
from whistle.submit import store
from whistle.submit.models import Login, Record

from .conftest import Office, check_in, csrf_from, insert_reply, submit_report


@pytest.fixture
def english(client: FlaskClient) -> FlaskClient:
    client.get("/language/en")
    return client


def test_a_reply_planted_by_a_database_writer_is_shown_as_forged(
    app: Flask, english: FlaskClient, office: Office
) -> None:
    code = submit_report(english)
    insert_reply(app, code, office, "Genuine: we opened a case file.")
    # Whoever can write the database seals a reply to the source's reply key (it can
    # compute nothing else) and signs it with a key of its own.
    insert_reply(
        app,
        code,
        office,
        "Send your code to help@example.org",
        seed=generate_signing_keypair().seed,
    )
    status, page = check_in(english, code)
    assert status == 200
    assert "Genuine: we opened a case file." in page
    assert "help@example.org" not in page
    assert "the office did not sign it" in page
    # Its files are not handed out either, and it is not marked read.
    with app.extensions["whistle_submit"].sessions() as session:
        replies = session.scalars(select(Record).where(Record.kind == "reply")).all()
        assert sorted(r.first_read is None for r in replies) == [False, True]


def test_a_dropped_reply_is_shown_to_the_source(
    app: Flask, english: FlaskClient, office: Office
) -> None:
    code = submit_report(english)
    insert_reply(app, code, office, "First.", sequence=1)
    # Number 2 never reaches the server (or the server withholds it); 3 does.
    insert_reply(app, code, office, "Third.", sequence=3)
    _status, page = check_in(english, code)
    assert "A message from the office is missing" in page
    assert "number 2 did not reach this page" in page
    assert re.search(r"no\. 3", page)


def test_a_reordered_reply_shows_its_own_number(
    app: Flask, english: FlaskClient, office: Office
) -> None:
    code = submit_report(english)
    insert_reply(app, code, office, "Second, stored first.", sequence=2)
    insert_reply(app, code, office, "First, stored second.", sequence=1)
    _status, page = check_in(english, code)
    assert "A message from the office is missing" not in page
    first, second = page.index("Second, stored first."), page.index("First, stored second.")
    assert page.rfind("no. 2", 0, first) > page.rfind("no. 1", 0, first)
    assert page.rfind("no. 1", first, second) != -1
    assert csrf_from(page)


def test_a_protocol_1_case_still_opens_and_takes_protocol_1_follow_ups(
    app: Flask, english: FlaskClient, office: Office
) -> None:
    """Migration: a case opened before protocol 2 (no signing key in its submission, gone from
    the server once acknowledged) shows its unsigned replies, marked, and its follow-ups are
    written the protocol 1 way, which the inbox can still check."""
    code = submit_report(english)
    state = app.extensions["whistle_submit"]
    keys = derive_source_keys(code, state.config.install_salt)
    with state.sessions.begin() as session:
        case_id = store.find_case(session, login_lookup(keys.login_token, state.config.pepper))
        assert case_id is not None
        # What migration 0006 leaves for a case opened before it; its submission acknowledged.
        session.execute(
            Login.__table__.update().where(Login.case_id == case_id.hex()).values(protocol=1)
        )
        session.execute(Record.__table__.delete().where(Record.case_id == case_id.hex()))
        old_reply = seal(
            [(PartKind.TEXT, "message", b"Written before signatures.")],
            [sealed_to(keys.reply_public_key), sealed_to(office.desks["antifrau"].public_key)],
            associated_data("reply", case_id),
        )
        store.add_reply(
            session,
            case_id=case_id,
            envelope=io.BytesIO(old_reply),
            today=datetime.date(2026, 11, 27),
        )
    _status, page = check_in(english, code)
    assert "Written before signatures." in page
    assert "carries no office signature" in page
    response = english.post(
        "/follow-up",
        data={"csrf_token": csrf_from(page), "code": code, "message": "Still here."},
        content_type="multipart/form-data",
    )
    assert response.status_code == 200, response.text
    with state.sessions() as session:
        followup = next(
            r for r in store.case_records(session, case_id) if r.kind.value == "followup"
        )
        buffer = io.BytesIO()
        store.read_record(session, followup.id, buffer)
    opened = open_followup_as_office(
        buffer.getvalue(),
        [office.desks["antifrau"].secret_key],
        case_id,
        keys.reply_public_key,
        None,
    )
    assert (opened.message, opened.signed) == ("Still here.", False)
