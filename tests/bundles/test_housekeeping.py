"""Replies expire: read + N days, or a maximum age; tombstones stop them coming back."""

import datetime

from sqlalchemy import select

from tests.submit.conftest import check_in, submit_report
from tests.submit.test_sealed import post_sealed
from whistle.crypto import derive_source_keys
from whistle.inbox.models import Case
from whistle.inbox.outgoing import queue_reply
from whistle.submit.bundles import housekeeping
from whistle.submit.models import Record, RecordKind, Tombstone

from .conftest import TODAY, World


def _reply_delivered(world: World) -> str:
    code = submit_report(world.client)
    world.inbox_import(world.server_export())
    with world.inbox_session() as session:
        queue_reply(
            session,
            world.keyring,
            case_id=session.scalars(select(Case.id)).one(),
            message="Expiring reply.",
            files=[],
            now=world.inbox_config.clock(),
            store_dir=world.inbox_config.store_dir,
        )
    world.server_import(world.inbox_export())
    return code


def _replies(world: World) -> list[Record]:
    with world.server_state().sessions() as session:
        return list(session.scalars(select(Record).where(Record.kind == RecordKind.REPLY)))


def _housekeep(world: World, today: datetime.date) -> int:
    with world.server_state().sessions.begin() as session:
        return housekeeping(session, world.server_config, today=today, now_minute=0).replies_expired


def test_a_read_reply_expires_after_the_configured_days(world: World) -> None:
    code = _reply_delivered(world)
    assert _housekeep(world, TODAY + datetime.timedelta(days=60)) == 0  # unread, not too old
    client = world.client
    client.get("/language/en")
    assert "Expiring reply." in check_in(client, code)[1]
    first_read = _replies(world)[0].first_read
    assert first_read is not None
    days = world.server_config.reply_days_after_read
    assert _housekeep(world, first_read + datetime.timedelta(days=days - 1)) == 0
    assert _housekeep(world, first_read + datetime.timedelta(days=days)) == 1
    assert _replies(world) == []
    # The inbox has not heard yet and sends the reply again: the tombstone keeps it out.
    with world.inbox_session() as session:
        from whistle.inbox.models import Outgoing

        for row in session.scalars(select(Outgoing)):
            row.confirmed = None
    applied = world.server_import(world.inbox_export())
    assert applied.counts["replies stored"] == 0
    assert _replies(world) == []


def test_a_reply_fetched_with_javascript_on_is_marked_read(world: World) -> None:
    """Attack review finding 6: the sealed check-in never started the read-expiry clock."""
    code = _reply_delivered(world)
    assert _replies(world)[0].first_read is None
    keys = derive_source_keys(code, world.server_config.install_salt)
    response = post_sealed(world.client, "/check-in/sealed", keys.login_token)
    assert response.status_code == 200
    assert "reply" in [r["kind"] for r in response.json["records"]]
    assert _replies(world)[0].first_read is not None


def test_an_unread_reply_expires_at_the_maximum_age(world: World) -> None:
    _reply_delivered(world)
    created = _replies(world)[0].created
    limit = world.server_config.reply_max_age_days
    assert _housekeep(world, created + datetime.timedelta(days=limit - 1)) == 0
    assert _housekeep(world, created + datetime.timedelta(days=limit)) == 1
    with world.server_state().sessions() as session:
        assert session.scalar(select(Tombstone.kind)) == "record"


def test_a_purge_order_deletes_the_case_and_its_login(world: World) -> None:
    from whistle.crypto import generate_box_keypair
    from whistle.crypto.case_keys import CaseKeyAnnouncement, sign_case_key
    from whistle.inbox.outgoing import queue_purge
    from whistle.submit.models import CaseKeyRow, Login, SourceCopy

    code = _reply_delivered(world)
    with world.inbox_session() as session:
        case_id = session.scalars(select(Case.id)).one()
        queue_purge(session, case_id=case_id, now=world.inbox_config.clock())
    # The case's key as a replies bundle stores it (tests/submit/test_case_keys.py).
    announced = CaseKeyAnnouncement(bytes.fromhex(case_id), 1, generate_box_keypair().public_key)
    with world.server_state().sessions.begin() as session:
        blob = sign_case_key(world.keyring.signing_seed, announced)
        session.add(CaseKeyRow(case_id=case_id, generation=1, announcement=blob, applied=TODAY))
    assert world.server_import(world.inbox_export()).counts["cases purged"] == 1
    with world.server_state().sessions() as session:
        for model in (Record, Login, SourceCopy, CaseKeyRow):
            assert session.scalars(select(model)).all() == [], model
    client = world.client
    client.get("/language/en")
    assert "Expiring reply." not in check_in(client, code)[1]
