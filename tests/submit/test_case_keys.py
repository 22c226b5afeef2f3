"""Case keys on the server (docs/protocol.md §17), by key: once a signed replies bundle
announced a case's key, its follow-ups open with that key's secret and with no desk's.

The office here has two desks, so "no desk opens it" means more than "the other desk".
"""

import base64
import io
import json
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from tests.bundles.conftest import dump_database
from tests.submit.conftest import (
    TODAY,
    Office,
    Replies,
    announcement,
    csrf_from,
    make_office,
    plain_followup,
    submit_report,
)
from tests.submit.test_sealed import post_sealed as _post_sealed
from whistle.bundling import BundleContentError
from whistle.crypto import (
    associated_data,
    derive_source_keys,
    generate_box_keypair,
    generate_signing_keypair,
    login_lookup,
    signing_keypair_from_seed,
)
from whistle.crypto.bundles import read_bundle
from whistle.crypto.case_keys import CaseKeyAnnouncement, sign_case_key
from whistle.crypto.conversation import Position
from whistle.crypto.envelope import open_bytes
from whistle.crypto.errors import WrongKeyError
from whistle.crypto.orders import RecordOrder, sign_order
from whistle.crypto.records import open_followup_as_office, seal_followup
from whistle.crypto.signing import CASE_KEY, RECORD_REMOVAL, sign
from whistle.submit import db as submit_db
from whistle.submit import store
from whistle.submit.bundles import apply_replies, export_outbox, preview_replies
from whistle.submit.models import CaseKeyRow, Record, RecordKind

DESKS = ("antifrau", "urbanisme")


@pytest.fixture
def office() -> Office:
    return make_office(DESKS)


@pytest.fixture
def english(client: FlaskClient) -> FlaskClient:
    client.get("/language/en")
    return client


@pytest.fixture
def replies(app: Flask, office: Office, data_dir: Path) -> Replies:
    return Replies(app, office, data_dir)


def _case(app: Flask, code: str) -> bytes:
    state = app.extensions["whistle_submit"]
    keys = derive_source_keys(code, state.config.install_salt)
    with state.sessions() as session:
        case_id = store.find_case(session, login_lookup(keys.login_token, state.config.pepper))
    assert case_id is not None
    return case_id


def _new_case(client: FlaskClient, app: Flask) -> tuple[str, bytes]:
    code = submit_report(client, url="/report/antifrau")
    return code, _case(app, code)


def _followups(app: Flask, case_id: bytes) -> list[tuple[Record, bytes]]:
    with app.extensions["whistle_submit"].sessions() as session:
        rows = session.scalars(
            select(Record)
            .where(Record.case_id == case_id.hex(), Record.kind == RecordKind.FOLLOWUP)
            .order_by(Record.position)
        ).all()
        found = []
        for row in rows:
            buffer = io.BytesIO()
            store.read_record(session, row.id, buffer)
            found.append((row, buffer.getvalue()))
        session.expunge_all()
    return found


def _held(app: Flask, case_id: bytes) -> CaseKeyRow | None:
    with app.extensions["whistle_submit"].sessions() as session:
        row = session.get(CaseKeyRow, case_id.hex())
        session.expunge_all()
    return row


def _no_desk_opens(office: Office, envelope: bytes, case_id: bytes) -> None:
    for desk in office.desks.values():
        with pytest.raises(WrongKeyError):
            open_bytes(envelope, desk.secret_key, associated_data("followup", case_id))


def _opens_as_source_wrote_it(app: Flask, code: str, envelope: bytes, secret: bytes) -> str:
    keys = derive_source_keys(code, app.extensions["whistle_submit"].config.install_salt)
    opened = open_followup_as_office(
        envelope, [secret], _case(app, code), keys.reply_public_key, keys.signing_public_key
    )
    return opened.message


# -- Sealing without JavaScript ------------------------------------------------------------


def test_before_an_announcement_a_follow_up_opens_with_every_desk_key(
    app: Flask, english: FlaskClient, office: Office
) -> None:
    code, case_id = _new_case(english, app)
    assert plain_followup(english, code, "Before.").status_code == 200
    ((row, envelope),) = _followups(app, case_id)
    assert row.case_key is None
    for desk in office.desks.values():
        assert _opens_as_source_wrote_it(app, code, envelope, desk.secret_key) == "Before."


def test_after_an_announcement_a_follow_up_opens_with_the_case_key_and_no_desk_key(
    app: Flask, english: FlaskClient, office: Office, replies: Replies
) -> None:
    code, case_id = _new_case(english, app)
    value, case_key = announcement(office, case_id, 1)
    summary = replies.apply({"case_keys": [value]})
    assert summary.counts["case keys stored"] == 1
    response = plain_followup(english, code, "Only the case's readers.")
    assert response.status_code == 200, response.text
    ((row, envelope),) = _followups(app, case_id)
    assert row.case_key == case_key.public_key
    assert _opens_as_source_wrote_it(app, code, envelope, case_key.secret_key) == (
        "Only the case's readers."
    )
    _no_desk_opens(office, envelope, case_id)


def test_a_stored_key_the_office_did_not_sign_takes_no_follow_up(
    app: Flask, english: FlaskClient, office: Office, replies: Replies, caplog
) -> None:  # type: ignore[no-untyped-def]
    """A database writer's key is neither sealed to nor replaced by the desks' keys: the
    source is told the site is unavailable, the operator what to do, and nothing is kept."""
    code, case_id = _new_case(english, app)
    replies.apply({"case_keys": [announcement(office, case_id, 1)[0]]})
    forged = sign_case_key(
        generate_signing_keypair().seed,
        CaseKeyAnnouncement(case_id, 2, generate_box_keypair().public_key),
    )
    with app.extensions["whistle_submit"].sessions.begin() as session:
        row = session.get(CaseKeyRow, case_id.hex())
        assert row is not None
        row.generation, row.announcement = 2, forged
    before = dump_database(replies.config.database_url)
    response = plain_followup(english, code, "To whom?")
    assert response.status_code == 503
    assert "Temporarily unavailable" in response.text
    assert "nothing was sent or kept" in response.text
    assert "restored from a backup" in caplog.text
    assert case_id.hex() not in caplog.text  # the log names no case
    assert dump_database(replies.config.database_url) == before


@pytest.mark.parametrize("replacing", [3, 2], ids=["newer generation", "same generation"])
def test_a_key_that_changes_while_a_follow_up_is_sealed_refuses_it_and_keeps_the_message(
    app: Flask,
    english: FlaskClient,
    office: Office,
    replies: Replies,
    monkeypatch: pytest.MonkeyPatch,
    replacing: int,
) -> None:
    """Sealed to generation 2 while a bundle stores another key — generation 3, or generation 2
    again from an inbox restored from an older backup: the store compares keys under the
    case's lock, so the follow-up is refused, not stored for a key the office replaced."""
    from whistle.submit import case_keys

    code, case_id = _new_case(english, app)
    replies.apply({"case_keys": [announcement(office, case_id, 2)[0]]})
    read = case_keys.sealing_key

    def then_replaced(*args: object, **kwargs: object) -> object:
        found = read(*args, **kwargs)  # type: ignore[arg-type]
        replies.apply({"case_keys": [announcement(office, case_id, replacing)[0]]})
        return found

    monkeypatch.setattr(case_keys, "sealing_key", then_replaced)
    before = dump_database(replies.config.database_url)
    response = plain_followup(english, code, "Written while the key changed.")
    assert response.status_code == 409
    assert "changed its key for your case" in response.text
    assert "Written while the key changed." in response.text  # still in the form
    after = dump_database(replies.config.database_url)
    for table in ("records", "chunks"):
        assert after[table] == before[table]
    assert after["source_copies"] == before["source_copies"]


# -- Applying announcements ----------------------------------------------------------------


def test_the_highest_generation_is_kept_and_an_equal_one_with_another_key_replaces_it(
    app: Flask, english: FlaskClient, office: Office, replies: Replies
) -> None:
    _code, case_id = _new_case(english, app)
    second, _key = announcement(office, case_id, 2)
    assert replies.apply({"case_keys": [second]}).counts["case keys stored"] == 1
    lower, _key = announcement(office, case_id, 1)
    summary = replies.apply({"case_keys": [lower]})
    assert summary.counts["case keys stored"] == 0
    assert summary.counts["case keys already here or older (ignored)"] == 1
    held = _held(app, case_id)
    assert held is not None
    assert (held.generation, held.announcement) == (2, base64.b64decode(second))
    # The same one again changes nothing; the same generation with another key replaces it
    # (an inbox restored from an older backup made generation 2 again).
    assert replies.apply({"case_keys": [second]}).counts["case keys stored"] == 0
    again, _key = announcement(office, case_id, 2)
    assert replies.apply({"case_keys": [again]}).counts["case keys stored"] == 1
    held = _held(app, case_id)
    assert held is not None
    assert held.announcement == base64.b64decode(again) != base64.b64decode(second)
    third, _key = announcement(office, case_id, 3)
    assert replies.apply({"case_keys": [third]}).counts["case keys stored"] == 1
    held = _held(app, case_id)
    assert held is not None
    assert (held.generation, held.applied) == (3, TODAY)


def test_a_key_for_a_case_not_here_is_ignored(
    app: Flask, english: FlaskClient, office: Office, replies: Replies
) -> None:
    _code, case_id = _new_case(english, app)
    elsewhere = bytes(range(16))
    here, _key = announcement(office, case_id, 1)
    summary = replies.apply({"case_keys": [announcement(office, elsewhere, 1)[0], here]})
    assert summary.counts["case keys for cases not here (ignored)"] == 1
    assert summary.counts["case keys stored"] == 1
    assert _held(app, elsewhere) is None


def test_the_preview_counts_the_keys_and_changes_nothing(
    app: Flask, english: FlaskClient, office: Office, replies: Replies
) -> None:
    _code, case_id = _new_case(english, app)
    data = replies.bundle({"case_keys": [announcement(office, case_id, 1)[0]]})
    before = dump_database(replies.config.database_url)
    with app.extensions["whistle_submit"].sessions() as session:
        summary = preview_replies(session, replies.config, data)
    assert summary.counts["case keys announced"] == 1
    assert dump_database(replies.config.database_url) == before


def _forged(office: Office, case_id: bytes, how: str) -> object:
    value, _key = announcement(office, case_id, 1)
    message = CaseKeyAnnouncement(case_id, 1, generate_box_keypair().public_key).message()
    b64 = base64.b64encode
    if how == "not a list":
        return value
    if how == "not text":
        return [value, 7]
    if how == "not base64":
        return [value, "not base64!"]
    if how == "another key":
        return [b64(sign_case_key(generate_signing_keypair().seed, _ann(case_id))).decode()]
    if how == "another purpose":
        return [b64(sign(office.signing_seed, RECORD_REMOVAL, message)).decode()]
    if how == "not canonical":
        loose = json.dumps(json.loads(message), sort_keys=True).encode()  # with spaces
        return [b64(sign(office.signing_seed, CASE_KEY, loose)).decode()]
    if how == "two for one case":
        return [value, announcement(office, case_id, 2)[0]]
    assert how == "too many"
    return [value] * 10_001


def _ann(case_id: bytes) -> CaseKeyAnnouncement:
    return CaseKeyAnnouncement(case_id, 1, generate_box_keypair().public_key)


@pytest.mark.parametrize(
    ("how", "words"),
    [
        ("not a list", "the case keys are not a list"),
        ("not text", "not base64 text"),
        ("not base64", "not base64 text"),
        ("another key", "does not verify"),
        ("another purpose", "does not verify"),
        ("not canonical", "does not verify"),
        ("two for one case", "two keys for one case"),
        ("too many", "too many case keys"),
    ],
)
def test_a_bad_announcement_refuses_the_whole_bundle_and_changes_nothing(
    app: Flask,
    english: FlaskClient,
    office: Office,
    replies: Replies,
    how: str,
    words: str,
) -> None:
    _code, case_id = _new_case(english, app)
    # With a purge of the same case beside it: that is refused with the rest.
    data = replies.bundle({"case_keys": _forged(office, case_id, how), "purged": [case_id.hex()]})
    before = dump_database(replies.config.database_url)
    with (
        app.extensions["whistle_submit"].sessions() as session,
        pytest.raises(BundleContentError) as previewed,
    ):
        preview_replies(session, replies.config, data)
    assert words in str(previewed.value)
    with app.extensions["whistle_submit"].sessions.begin() as session:
        submit_db.start_write(session)
        with pytest.raises(BundleContentError) as caught:
            apply_replies(session, replies.config, data, today=TODAY)
    assert words in str(caught.value)
    assert dump_database(replies.config.database_url) == before


# -- JavaScript on -------------------------------------------------------------------------


def post_sealed(client: FlaskClient, url: str, body: bytes):  # type: ignore[no-untyped-def]
    """As the page posts (its CSRF token from a desk's form: /report lists the two desks)."""
    return _post_sealed(client, url, body, csrf_from(client.get("/report/antifrau").text))


def _sealed_followup(app: Flask, code: str, office_keys: list[bytes]) -> tuple[bytes, bytes]:
    """(the body the page posts, its envelope): a follow-up sealed to ``office_keys``."""
    keys = derive_source_keys(code, app.extensions["whistle_submit"].config.install_salt)
    case_id = _case(app, code)
    envelope = seal_followup(
        "From the page.",
        [],
        reply_secret_key=keys.reply_secret_key,
        office_keys=office_keys,
        case_id=case_id,
        signing_seed=keys.signing_seed,
        position=Position(1, 0),
    )
    return keys.login_token + case_id + envelope, envelope


def _checkin_answer(app: Flask, client: FlaskClient, code: str) -> dict[str, object]:
    keys = derive_source_keys(code, app.extensions["whistle_submit"].config.install_salt)
    response = post_sealed(client, "/check-in/sealed", keys.login_token)
    assert response.status_code == 200
    return response.json  # type: ignore[no-any-return]


def test_the_check_in_carries_the_announcement_and_the_page_seals_to_it(
    app: Flask, english: FlaskClient, office: Office, replies: Replies
) -> None:
    code, case_id = _new_case(english, app)
    assert _checkin_answer(app, english, code)["case_key"] is None
    value, case_key = announcement(office, case_id, 4)
    replies.apply({"case_keys": [value]})
    assert _checkin_answer(app, english, code)["case_key"] == value
    body, envelope = _sealed_followup(app, code, [case_key.public_key])
    response = post_sealed(english, f"/follow-up/sealed?case_key={case_key.public_key.hex()}", body)
    assert response.status_code == 200, response.text
    ((row, stored),) = _followups(app, case_id)
    assert (row.case_key, stored) == (case_key.public_key, envelope)
    assert _opens_as_source_wrote_it(app, code, stored, case_key.secret_key) == "From the page."
    _no_desk_opens(office, stored, case_id)


@pytest.mark.parametrize(
    ("announced", "sealed_to"),
    [
        (None, "another key"),  # the page holds a key the server does not (any more)
        (2, "another key"),  # the page checked in before this key arrived
        (2, "the desks"),  # sealed to the desks while the server holds a case key
    ],
)
def test_a_follow_up_for_another_case_key_is_refused_and_nothing_kept(
    app: Flask,
    english: FlaskClient,
    office: Office,
    replies: Replies,
    announced: int | None,
    sealed_to: str,
) -> None:
    code, case_id = _new_case(english, app)
    if announced is not None:
        replies.apply({"case_keys": [announcement(office, case_id, announced)[0]]})
    if sealed_to == "the desks":
        keys, query = [k.public_key for k in office.desks.values()], ""
    else:
        other = generate_box_keypair().public_key
        keys, query = [other], f"?case_key={other.hex()}"
    body, _envelope = _sealed_followup(app, code, keys)
    before = dump_database(replies.config.database_url)
    response = post_sealed(english, "/follow-up/sealed" + query, body)
    assert response.status_code == 409
    assert response.json["reason"] == "case-key-changed"
    assert "changed its key for your case" in response.json["error"]
    assert dump_database(replies.config.database_url) == before


def test_a_follow_up_sealed_to_a_key_replaced_at_the_same_generation_is_refused(
    app: Flask, english: FlaskClient, office: Office, replies: Replies
) -> None:
    """The security review's case: generation 2 with key K1 is held and the page checks in
    (K1); an inbox restored from an older backup makes generation 2 again with key K2, and
    its bundle replaces K1. The follow-up sealed to K1 is refused, by key: only the holders
    of K1 could open it, and the inbox no longer holds K1. Nothing is stored."""
    code, case_id = _new_case(english, app)
    first, k1 = announcement(office, case_id, 2)
    replies.apply({"case_keys": [first]})
    assert _checkin_answer(app, english, code)["case_key"] == first
    again, k2 = announcement(office, case_id, 2)
    assert replies.apply({"case_keys": [again]}).counts["case keys stored"] == 1
    body, _envelope = _sealed_followup(app, code, [k1.public_key])
    before = dump_database(replies.config.database_url)
    response = post_sealed(english, f"/follow-up/sealed?case_key={k1.public_key.hex()}", body)
    assert response.status_code == 409
    assert response.json["reason"] == "case-key-changed"
    assert dump_database(replies.config.database_url) == before
    # Checked in again, the page gets K2 and what it seals to K2 is taken.
    assert _checkin_answer(app, english, code)["case_key"] == again
    body, envelope = _sealed_followup(app, code, [k2.public_key])
    response = post_sealed(english, f"/follow-up/sealed?case_key={k2.public_key.hex()}", body)
    assert response.status_code == 200, response.text
    ((row, stored),) = _followups(app, case_id)
    assert (row.case_key, stored) == (k2.public_key, envelope)


def test_a_stored_announcement_that_does_not_parse_takes_no_sealed_follow_up(
    app: Flask, english: FlaskClient, office: Office, replies: Replies, caplog
) -> None:  # type: ignore[no-untyped-def]
    """The key a page's follow-up is compared with is read from the stored announcement; one
    that is not an announcement at all (the database written by something else) is "temporarily
    unavailable", as one that does not verify, and nothing is kept."""
    code, case_id = _new_case(english, app)
    value, case_key = announcement(office, case_id, 1)
    replies.apply({"case_keys": [value]})
    with app.extensions["whistle_submit"].sessions.begin() as session:
        row = session.get(CaseKeyRow, case_id.hex())
        assert row is not None
        row.announcement = b"not an announcement"
    body, _envelope = _sealed_followup(app, code, [case_key.public_key])
    before = dump_database(replies.config.database_url)
    response = post_sealed(english, f"/follow-up/sealed?case_key={case_key.public_key.hex()}", body)
    assert response.status_code == 503
    assert "does not parse" in caplog.text
    assert case_id.hex() not in caplog.text
    assert dump_database(replies.config.database_url) == before


_HEX = "ab" * 32


@pytest.mark.parametrize(
    "value",
    [
        "",
        "x",
        "1",  # a generation, as pages before the review posted
        _HEX[:-1],
        _HEX + "a",
        _HEX.upper(),
        "g" + _HEX[1:],
        _HEX[:-2] + "%20%20",
    ],
)
def test_a_malformed_case_key_is_a_400_and_nothing_kept(
    app: Flask, english: FlaskClient, office: Office, replies: Replies, value: str
) -> None:
    code, case_id = _new_case(english, app)
    replies.apply({"case_keys": [announcement(office, case_id, 1)[0]]})
    body, _envelope = _sealed_followup(app, code, [generate_box_keypair().public_key])
    before = dump_database(replies.config.database_url)
    response = post_sealed(english, f"/follow-up/sealed?case_key={value}", body)
    assert response.status_code == 400
    assert response.json["reason"] == "case-key-malformed"
    assert dump_database(replies.config.database_url) == before


# -- The outbox, and deletion --------------------------------------------------------------


def _outbox_extra(app: Flask, office: Office) -> dict[str, object]:
    """The manifest's ``extra`` of a new outbox bundle, as the office reads it."""
    state = app.extensions["whistle_submit"]
    out = io.BytesIO()
    with state.sessions.begin() as session:
        submit_db.start_export(session)
        export_outbox(session, state.config, out, today=TODAY)
    assert office.bundle is not None
    out.seek(0)
    verified = read_bundle(
        out,
        bundle_secret_key=office.bundle.secret_key,
        signer_public_key=signing_keypair_from_seed(state.config.signing_seed).public_key,
        install_id=state.config.install_id,
        direction="outbox",
    )
    return verified.manifest.extra


def test_the_outbox_says_which_follow_ups_went_to_a_case_key(
    app: Flask, english: FlaskClient, office: Office, replies: Replies
) -> None:
    code, case_id = _new_case(english, app)
    plain_followup(english, code, "To the desks.")
    assert "record_case_keys" not in _outbox_extra(app, office)  # as before case keys
    value, case_key = announcement(office, case_id, 1)
    replies.apply({"case_keys": [value]})
    plain_followup(english, code, "To the case key.")
    desks, keyed = (row for row, _envelope in _followups(app, case_id))
    extra = _outbox_extra(app, office)
    # By key, not generation: the inbox may have made generation 1 again with another key.
    assert extra["record_case_keys"] == {keyed.id: case_key.public_key.hex()}
    assert extra["case_keys_held"] == {case_id.hex(): [1, case_key.public_key.hex()]}
    assert desks.id != keyed.id


def test_every_outbox_names_the_case_keys_held_and_an_empty_one_is_written_again(
    app: Flask, office: Office
) -> None:
    """The inbox counts an announcement confirmed only when ``case_keys_held`` names it; the
    field does not stop an empty outbox from being the same bundle again (``_unchanged``)."""
    state = app.extensions["whistle_submit"]
    summaries = []
    for _ in range(2):
        with state.sessions.begin() as session:
            submit_db.start_export(session)
            summaries.append(export_outbox(session, state.config, io.BytesIO(), today=TODAY))
    assert summaries[0].bundle_id == summaries[1].bundle_id
    assert summaries[1].notes == [
        "nothing changed since this bundle was written: the same bundle again"
    ]
    extra = _outbox_extra(app, office)  # the same empty bundle again
    assert extra["case_keys_held"] == {}
    assert "record_case_keys" not in extra


@pytest.mark.parametrize("how", ["purge", "removal of its submission"])
def test_the_case_key_goes_with_its_case(
    app: Flask, english: FlaskClient, office: Office, replies: Replies, how: str
) -> None:
    code, case_id = _new_case(english, app)
    replies.apply({"case_keys": [announcement(office, case_id, 1)[0]]})
    plain_followup(english, code, "Kept until the case goes.")
    if how == "purge":
        extra: dict[str, object] = {"purged": [case_id.hex()]}
    else:
        with app.extensions["whistle_submit"].sessions() as session:
            submission = session.scalars(
                select(Record).where(Record.kind == RecordKind.SUBMISSION)
            ).one()
            order = RecordOrder(
                kind="removal",
                install_id=replies.config.install_id,
                record_id=submission.id,
                case_id=case_id.hex(),
                record_hash=None,
                reason="ordered",
                record_kind="submission",
            )
        extra = {"removed": [base64.b64encode(sign_order(office.signing_seed, order)).decode()]}
    replies.apply(extra)
    assert _held(app, case_id) is None
    tables = dump_database(replies.config.database_url)
    for table in ("case_keys", "records", "logins", "source_copies"):
        assert tables[table] == [], table
