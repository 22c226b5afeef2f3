"""JavaScript on: the page encrypts to the card it was served and says which epoch.

After a rotation the server takes the current epoch and, for a day, the previous one
(pages loaded before it); anything older, or an unknown epoch, is refused with a message
the page shows, and nothing is kept. Python's whistle.crypto stands in for the browser.
"""

import datetime
import html
import io
import re

from sqlalchemy import func, select

from tests.submit.conftest import csrf_from
from whistle.crypto import OfficeCard, derive_source_keys, generate_code, read_card
from whistle.crypto.conversation import Position
from whistle.crypto.records import SubmissionWriter, seal_followup
from whistle.inbox.models import KeyEpoch
from whistle.submit import store
from whistle.submit.models import Record

from .conftest import DAY0, Loop


def _card(loop: Loop, epoch: int) -> OfficeCard:
    with loop.world.inbox_session() as session:
        row = session.get(KeyEpoch, epoch)
        assert row is not None
        card = read_card(row.card)
    assert isinstance(card, OfficeCard)
    return card


def _sealed_report(loop: Loop, card: OfficeCard) -> tuple[str, bytes, bytes]:
    """(code, case id, body) as the page sends them, encrypted to ``card``."""
    config = loop.world.server_config
    code = generate_code()
    keys = derive_source_keys(code, config.install_salt)
    case_id = store.new_case_id()
    out = io.BytesIO()
    writer = SubmissionWriter(
        out,
        desk_key=card.desks[0].public_key,
        custodian_key=card.custodian_key,
        reply_public_key=keys.reply_public_key,
        source_signing_key=keys.signing_public_key,
        case_id=case_id,
    )
    writer.add_form({"language": "en", "desk": card.desks[0].id, "fields": []})
    writer.add_identification([])
    writer.finish()
    return code, case_id, keys.login_token + case_id + out.getvalue()


def _post(loop: Loop, url: str, body: bytes):  # type: ignore[no-untyped-def]
    csrf = csrf_from(loop.client.get("/report").text)
    return loop.client.post(
        url, data=body, content_type="application/octet-stream", headers={"X-CSRFToken": csrf}
    )


def _stored(loop: Loop) -> list[int | None]:
    with loop.world.server_state().sessions() as session:
        return sorted(session.scalars(select(Record.epoch)), key=str)


def _count(loop: Loop) -> int:
    with loop.world.server_state().sessions() as session:
        return session.scalar(select(func.count()).select_from(Record)) or 0


def _rotate_and_apply(loop: Loop) -> None:
    loop.rotate()
    loop.server_import(loop.inbox_export())


def test_the_page_is_given_the_current_card_and_names_its_epoch(loop: Loop) -> None:
    _rotate_and_apply(loop)
    page = loop.client.get("/report").text
    action = html.unescape(re.search(r'data-sealed-action="([^"]+)"', page).group(1))
    assert action == "/report/sealed?epoch=2"
    assert _card(loop, 2).desks[0].public_key.hex() in page
    assert _card(loop, 1).desks[0].public_key.hex() not in page
    checkin = loop.client.get("/check-in").text
    assert "/follow-up/sealed?epoch=2" in html.unescape(checkin)
    assert _card(loop, 2).desks[0].public_key.hex() in checkin


def test_current_and_previous_epoch_accepted_older_refused(loop: Loop) -> None:
    _rotate_and_apply(loop)
    _rotate_and_apply(loop)  # epochs 1, 2, 3: 3 is current, 2 the previous
    for epoch in (3, 2):
        _code, _case, body = _sealed_report(loop, _card(loop, epoch))
        response = _post(loop, f"/report/sealed?epoch={epoch}", body)
        assert response.status_code == 200, response.text
    assert _stored(loop) == [2, 3]

    _code, _case, body = _sealed_report(loop, _card(loop, 1))
    response = _post(loop, "/report/sealed?epoch=1", body)
    assert response.status_code == 409
    assert "loaded before the office changed its keys" in response.json["error"]
    for epoch in ("4", "0"):
        response = _post(loop, f"/report/sealed?epoch={epoch}", body)
        assert response.status_code == 409
    for bad in ("x", "²", "1" * 11, "٣", ""):
        assert _post(loop, f"/report/sealed?epoch={bad}", body).status_code == 400, bad
    # A page from before key epochs (no epoch named) encrypted to the pinned epoch 1.
    assert _post(loop, "/report/sealed", body).status_code == 409
    assert _stored(loop) == [2, 3]


def test_the_previous_epoch_only_during_the_grace_day(loop: Loop) -> None:
    _rotate_and_apply(loop)  # applied on DAY0
    loop.day = DAY0 + datetime.timedelta(days=1)
    _code, _case, body = _sealed_report(loop, _card(loop, 1))
    assert _post(loop, "/report/sealed?epoch=1", body).status_code == 200
    loop.day = DAY0 + datetime.timedelta(days=2)
    _code, _case, body = _sealed_report(loop, _card(loop, 1))
    assert _post(loop, "/report/sealed?epoch=1", body).status_code == 409
    assert _stored(loop) == [1]


def test_a_sealed_followup_to_the_new_desk_keys_verifies_at_import(loop: Loop) -> None:
    code, case_id, body = _sealed_report(loop, _card(loop, 1))
    assert _post(loop, "/report/sealed?epoch=1", body).status_code == 200
    _rotate_and_apply(loop)
    keys = derive_source_keys(code, loop.world.server_config.install_salt)
    card = _card(loop, 2)
    followup = seal_followup(
        "to the new keys",
        [],
        reply_secret_key=keys.reply_secret_key,
        office_keys=[d.public_key for d in card.desks],
        case_id=case_id,
        signing_seed=keys.signing_seed,
        position=Position(1, 0),
    )
    response = _post(loop, "/follow-up/sealed?epoch=2", keys.login_token + case_id + followup)
    assert response.status_code == 200, response.text
    assert _stored(loop) == [1, 2]
    summary = loop.inbox_import(loop.server_export())
    assert summary.counts["records imported"] == 2
    assert summary.counts["refused (see the audit log)"] == 0


def test_a_followup_with_a_wrong_desk_count_for_its_epoch_is_refused(loop: Loop) -> None:
    code, case_id, body = _sealed_report(loop, _card(loop, 1))
    assert _post(loop, "/report/sealed?epoch=1", body).status_code == 200
    keys = derive_source_keys(code, loop.world.server_config.install_salt)
    card = _card(loop, 1)
    doubled = seal_followup(
        "two desks where the card has one",
        [],
        reply_secret_key=keys.reply_secret_key,
        office_keys=[card.desks[0].public_key, card.desks[0].public_key],
        case_id=case_id,
    )
    before = _count(loop)
    response = _post(loop, "/follow-up/sealed?epoch=1", keys.login_token + case_id + doubled)
    assert response.status_code == 400
    assert _count(loop) == before
