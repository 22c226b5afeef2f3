"""The source's own copy of what they sent (JavaScript off): kept sealed to the code after the
office collects the records, never in a bundle, gone with the case or when the source asks."""

import datetime
import io
import re

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select, update

from tests.submit.conftest import Office, check_in, csrf_from, insert_reply, submit_report
from tests.submit.test_sealed import browser_envelope, post_sealed
from whistle.crypto import (
    SourceKeys,
    WrongKeyError,
    derive_source_keys,
    generate_code,
    login_lookup,
)
from whistle.crypto.conversation import Position
from whistle.crypto.padding import is_padded_size
from whistle.crypto.records import form_document, seal_followup
from whistle.crypto.source_copy import copy_document, open_copy, seal_copy
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


def _page_copy(keys: SourceKeys, case_id: bytes, files: list[tuple[str, int]]) -> bytes:
    """The copy js/page.js seals beside the report browser_envelope makes (the same form)."""
    form = form_document(
        "ca",
        "antifrau",
        [{"key": "subject", "label": "Assumpte", "value": "Contractes"}],
        identified=False,
        category=None,
        meeting=False,
        availability="",
    )
    return seal_copy(
        copy_document("submission", files=files, form=form), keys.copy_public_key, case_id
    )


def _copy_row(app: Flask, case_id: bytes) -> dict[str, object]:
    with app.extensions["whistle_submit"].sessions() as session:
        row = session.scalars(select(SourceCopy).where(SourceCopy.case_id == case_id.hex())).one()
        return {
            "columns": sorted(
                k for k, v in vars(row).items() if not k.startswith("_") and v is not None
            ),
            "position": row.position,
            "created": row.created,
            "size": row.size,
            "size is the stored bytes": row.size == len(row.data),
            "head": row.data[:9],
        }


def test_nothing_stored_tells_which_path_a_copy_came_by(
    app: Flask, client: FlaskClient, office: Office
) -> None:
    """JavaScript off, the server seals the copy; on, the page does: the rows are alike."""
    csrf = csrf_from(client.get("/report").text)
    plain_code = submit_report(client, subject="Contractes", files=[(b"minutes", "a.txt")])
    plain_case = _case(app, plain_code)
    _code, keys, case_id, envelope = browser_envelope(app, office, [("a.txt", b"minutes")])
    copy = _page_copy(keys, case_id, [("a.txt", 7)])
    body = keys.login_token + case_id + copy + envelope
    response = post_sealed(client, f"/report/sealed?copy={len(copy)}", body, csrf)
    assert response.status_code == 200, response.text
    assert _copy_row(app, plain_case) == _copy_row(app, case_id)


@pytest.mark.parametrize(
    ("query", "damage"),
    [
        ("copy=12", "short"),  # announces fewer bytes than the copy: the envelope is misread
        ("copy=x", "none"),
        ("copy=99999999999", "none"),
        ("copy={n}", "two-slots"),
    ],
)
def test_a_malformed_copy_is_a_400_and_nothing_is_kept(
    app: Flask, english: FlaskClient, office: Office, query: str, damage: str
) -> None:
    _code, keys, case_id, envelope = browser_envelope(app, office, [])
    copy = _page_copy(keys, case_id, [])
    if damage == "two-slots":
        copy = envelope  # an envelope with two slots is not a copy
    response = post_sealed(
        english,
        "/report/sealed?" + query.format(n=len(copy)),
        keys.login_token + case_id + copy + envelope,
    )
    assert response.status_code == 400
    assert "not a valid encrypted record" in response.json["error"]
    with app.extensions["whistle_submit"].sessions() as session:
        assert session.scalars(select(Record)).all() == []
        assert session.scalars(select(SourceCopy)).all() == []


def test_a_sealed_follow_up_keeps_its_copy_unless_the_source_deleted_it(
    app: Flask, client: FlaskClient, office: Office
) -> None:
    _code, keys, case_id, envelope = browser_envelope(app, office, [])
    copy = _page_copy(keys, case_id, [])
    post_sealed(
        client, f"/report/sealed?copy={len(copy)}", keys.login_token + case_id + copy + envelope
    )

    def follow_up(sequence: int) -> None:
        sealed = seal_followup(
            "sealed",
            [],
            reply_secret_key=keys.reply_secret_key,
            office_keys=[office.desks["antifrau"].public_key],
            case_id=case_id,
            signing_seed=keys.signing_seed,
            position=Position(sequence, 0),
        )
        own = seal_copy(
            copy_document("followup", files=[], message="sealed"), keys.copy_public_key, case_id
        )
        body = keys.login_token + case_id + own + sealed
        response = post_sealed(client, f"/follow-up/sealed?epoch=1&copy={len(own)}", body)
        assert response.status_code == 200, response.text

    follow_up(1)
    assert len(_copies(app, case_id)) == 2
    answer = post_sealed(client, "/check-in/sealed", keys.login_token).json
    assert (answer["copies"], answer["keep_copies"]) == (2, True)
    assert [r["kind"] for r in answer["records"]] == ["submission", "followup"]  # both still here
    _collect(app, case_id)
    answer = post_sealed(client, "/check-in/sealed", keys.login_token).json
    assert [r["kind"] for r in answer["records"]] == ["source-copy", "source-copy"]

    assert post_sealed(client, "/check-in/sealed/forget-copy", bytes(32)).status_code == 404
    assert len(_copies(app, case_id)) == 2
    response = post_sealed(client, "/check-in/sealed/forget-copy", keys.login_token)
    assert response.status_code == 200
    assert _copies(app, case_id) == []
    follow_up(2)  # a page loaded before sends a copy anyway: it is not kept
    assert _copies(app, case_id) == []
    assert post_sealed(client, "/check-in/sealed", keys.login_token).json["keep_copies"] is False


def test_no_copy_is_stored_once_the_source_deleted_theirs(app: Flask, english: FlaskClient) -> None:
    """Checked where the copy is stored, under the case's lock: a follow-up that read the old
    choice before the deletion committed still keeps no copy."""
    case_id = _case(app, submit_report(english))
    sessions = app.extensions["whistle_submit"].sessions
    with sessions.begin() as session:
        assert store.forget_copies(session, case_id, keep_none=True) == 1
    with sessions.begin() as session:
        kept = store.add_copy(
            session, case_id=case_id, position=5, data=b"x" * 4226, today=datetime.date.today()
        )
    assert kept is False
    assert _copies(app, case_id) == []


def test_copies_count_in_the_storage_quota(app: Flask, english: FlaskClient) -> None:
    case_id = _case(app, submit_report(english))
    with app.extensions["whistle_submit"].sessions() as session:
        records = sum(r.size for r in store.case_records(session, case_id))
        copies = sum(len(c.data) for c in store.case_copies(session, case_id))
        assert copies > 0
        assert store.storage_used(session) == records + copies
