"""H2 and H4 from the source's side, as an attacker would try them, with JavaScript off (the
server checks every reply against the office key pinned in its configuration before it
renders anything). Each fails on protocol 1, where replies were unsigned sealed boxes.
"""

import re

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from whistle.crypto import generate_signing_keypair
from whistle.submit.models import Record

from .conftest import Office, check_in, csrf_from, insert_reply, submit_report


def test_a_reply_planted_by_a_database_writer_is_shown_as_forged(
    app: Flask, client: FlaskClient, office: Office
) -> None:
    code = submit_report(client)
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
    status, page = check_in(client, code)
    assert status == 200
    assert "Genuine: we opened a case file." in page
    assert "help@example.org" not in page
    assert "the office did not sign it" in page
    # Its files are not handed out either, and it is not marked read.
    with app.extensions["whistle_submit"].sessions() as session:
        replies = session.scalars(select(Record).where(Record.kind == "reply")).all()
        assert sorted(r.first_read is None for r in replies) == [False, True]


def test_a_dropped_reply_is_shown_to_the_source(
    app: Flask, client: FlaskClient, office: Office
) -> None:
    code = submit_report(client)
    insert_reply(app, code, office, "First.", sequence=1)
    # Number 2 never reaches the server (or the server withholds it); 3 does.
    insert_reply(app, code, office, "Third.", sequence=3)
    _status, page = check_in(client, code)
    assert "A message from the office is missing" in page
    assert "number 2 did not reach this page" in page
    assert re.search(r"no\. 3", page)


def test_a_reordered_reply_shows_its_own_number(
    app: Flask, client: FlaskClient, office: Office
) -> None:
    code = submit_report(client)
    insert_reply(app, code, office, "Second, stored first.", sequence=2)
    insert_reply(app, code, office, "First, stored second.", sequence=1)
    _status, page = check_in(client, code)
    assert "A message from the office is missing" not in page
    first, second = page.index("Second, stored first."), page.index("First, stored second.")
    assert page.rfind("no. 2", 0, first) > page.rfind("no. 1", 0, first)
    assert page.rfind("no. 1", first, second) != -1
    assert csrf_from(page)
