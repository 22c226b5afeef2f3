"""The source's own copy of what they sent (JavaScript off): kept sealed to the code after the
office collects the records, never in a bundle, gone with the case or when the source asks."""

import io
import re

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select, update

from tests.submit.conftest import Office, check_in, csrf_from, insert_reply, submit_report
from whistle.crypto import WrongKeyError, derive_source_keys, generate_code, login_lookup
from whistle.crypto.padding import is_padded_size
from whistle.crypto.source_copy import open_copy
from whistle.submit import store
from whistle.submit.models import Record, SourceCopy

GONE = "no longer holds a copy"
FROM_COPY = "shown from your own copy"


@pytest.fixture
def english(client: FlaskClient) -> FlaskClient:
    client.get("/language/en")
    return client


def _case(app: Flask, code: str) -> bytes:
    state = app.extensions["whistle_submit"]
    keys = derive_source_keys(code, state.config.install_salt)
    with state.sessions() as session:
        case_id = store.find_case(session, login_lookup(keys.login_token, state.config.pepper))
    assert case_id is not None
    return case_id


def _collect(app: Flask, case_id: bytes) -> None:
    """What the office's acknowledgement does: the report and follow-ups are deleted."""
    with app.extensions["whistle_submit"].sessions.begin() as session:
        sent = [
            (r.id, r.record_hash)
            for r in store.case_records(session, case_id)
            if r.kind.value != "reply"
        ]
        assert store.acknowledge(session, sent) == len(sent)


def _copies(app: Flask, case_id: bytes) -> list[store.StoredCopy]:
    with app.extensions["whistle_submit"].sessions() as session:
        return store.case_copies(session, case_id)


def _follow_up(client: FlaskClient, page: str, message: str, files: list[tuple[str, bytes]]) -> str:
    visit = re.search(r'name="visit" value="([^"]+)"', page)
    assert visit
    response = client.post(
        "/follow-up",
        data={
            "csrf_token": csrf_from(page),
            "visit": visit.group(1),
            "message": message,
            "files": [(io.BytesIO(content), name) for name, content in files],
        },
        content_type="multipart/form-data",
    )
    assert response.status_code == 200, response.text
    return response.text


def test_the_copy_survives_collection_and_shows_the_conversation_in_order(
    app: Flask, english: FlaskClient, office: Office
) -> None:
    code = submit_report(
        english,
        subject="Contractes partits",
        files=[(b"%PDF-1.4 " + b"x" * 5000, "factura.pdf")],
    )
    case_id = _case(app, code)
    insert_reply(app, code, office, "We have received your report.")
    _, page = check_in(english, code)
    _follow_up(english, page, "Here is one more thing.", [("annex.odt", b"third piece")])
    _collect(app, case_id)

    _, page = check_in(english, code)
    assert "Contractes partits" in page
    assert "factura.pdf" in page
    assert "annex.odt" in page
    assert FROM_COPY in page
    assert GONE not in page
    assert "Status: acknowledged by the office on " in page
    order = [page.index(s) for s in ("Contractes", "We have received", "Here is one more")]
    assert order == sorted(order)  # report, reply, message: interleaved as sent

    # Names and sizes of files, never their content; each copy padded like any record.
    keys = derive_source_keys(code, app.extensions["whistle_submit"].config.install_salt)
    copies = _copies(app, case_id)
    assert len(copies) == 2
    opened = [open_copy(c.data, keys.copy_secret_key, case_id) for c in copies]
    assert [c.kind for c in opened] == ["submission", "followup"]
    assert opened[0].files == [("factura.pdf", 5009)]
    assert opened[1].files == [("annex.odt", 11)]
    assert all(b"third piece" not in c.data for c in copies)
    assert all(is_padded_size(len(c.data) - 113 - 17) for c in copies)  # one slot, one chunk


def test_the_copy_goes_with_the_case(app: Flask, english: FlaskClient) -> None:
    code = submit_report(english)
    case_id = _case(app, code)
    _collect(app, case_id)
    assert len(_copies(app, case_id)) == 1
    with app.extensions["whistle_submit"].sessions.begin() as session:
        store.purge_case(session, case_id)
    assert _copies(app, case_id) == []
    with app.extensions["whistle_submit"].sessions() as session:
        assert session.scalars(select(SourceCopy)).all() == []


def test_an_old_case_without_a_copy_says_so(app: Flask, english: FlaskClient) -> None:
    code = submit_report(english)
    case_id = _case(app, code)
    _collect(app, case_id)
    with app.extensions["whistle_submit"].sessions.begin() as session:
        store.forget_copies(session, case_id)  # as a case from before copies existed
    _, page = check_in(english, code)
    assert GONE in page
    assert FROM_COPY not in page
    assert "Status: the office has collected your report." in page


def test_the_source_deletes_the_copy_and_nothing_later_is_copied(
    app: Flask, english: FlaskClient
) -> None:
    code = submit_report(english, subject="Contractes partits")
    case_id = _case(app, code)
    _collect(app, case_id)
    _, page = check_in(english, code)
    visit = re.search(r'name="visit" value="([^"]+)"', page)
    assert visit
    assert "Delete my copy" in page

    # The box unticked: nothing deleted.
    response = english.post(
        "/check-in/forget-copy", data={"csrf_token": csrf_from(page), "visit": visit.group(1)}
    )
    assert response.status_code == 200
    assert len(_copies(app, case_id)) == 1

    response = english.post(
        "/check-in/forget-copy",
        data={"csrf_token": csrf_from(page), "visit": visit.group(1), "forget": "yes"},
    )
    assert response.status_code == 200
    assert "Your copy was deleted." in response.text
    assert "Contractes partits" not in response.text
    assert _copies(app, case_id) == []
    _follow_up(english, response.text, "Later message.", [])
    assert _copies(app, case_id) == []


def test_a_wrong_code_opens_no_copy(app: Flask, english: FlaskClient) -> None:
    code = submit_report(english)
    case_id = _case(app, code)
    other = derive_source_keys(
        generate_code(), app.extensions["whistle_submit"].config.install_salt
    )
    with pytest.raises(WrongKeyError):
        open_copy(_copies(app, case_id)[0].data, other.copy_secret_key, case_id)


def test_a_tampered_copy_is_said_unreadable_not_a_500(app: Flask, english: FlaskClient) -> None:
    code = submit_report(english, subject="Contractes partits")
    case_id = _case(app, code)
    _collect(app, case_id)
    copy = _copies(app, case_id)[0]
    damaged = bytearray(copy.data)
    damaged[-30] ^= 1
    with app.extensions["whistle_submit"].sessions.begin() as session:
        session.execute(
            update(SourceCopy).where(SourceCopy.id == copy.id).values(data=bytes(damaged))
        )
    status, page = check_in(english, code)
    assert status == 200
    assert "This message could not be opened." in page
    assert "Contractes partits" not in page
    with app.extensions["whistle_submit"].sessions() as session:
        assert session.scalars(select(Record)).all() == []  # nothing else changed
