"""Migration: one outbox holding protocol 1 records (a report without a signing key, a boxed
follow-up) and protocol 2 records (a report and a signed follow-up) exports and imports whole,
on SQLite and PostgreSQL; the office's reply to the old case is signed and the source reads it."""

import io

from nacl.bindings import crypto_box_seal

from tests.submit.conftest import check_in, submit_report
from whistle.crypto import (
    PartKind,
    associated_data,
    derive_source_keys,
    generate_code,
    login_lookup,
    seal,
    sealed_to,
)
from whistle.crypto.records import IDENTIFICATION_BYTES, compact_json, seal_followup
from whistle.inbox.cases import case_detail
from whistle.inbox.outgoing import queue_reply
from whistle.submit import store
from whistle.submit.models import Login

from .conftest import TODAY, World


def _protocol_1_report(world: World) -> tuple[str, bytes]:
    """What a protocol 1 page stored: no signing key, an unbound identification block."""
    config = world.server_config
    card = config.office_card
    code = generate_code()
    keys = derive_source_keys(code, config.install_salt)
    case_id = store.new_case_id()
    raw = b'{"version": 1, "fields": []}'
    block = crypto_box_seal(raw + bytes(IDENTIFICATION_BYTES - len(raw)), card.custodian_key)
    form = compact_json({"version": 1, "language": "en", "desk": card.desks[0].id, "fields": []})
    envelope = seal(
        [
            (PartKind.BYTES, "reply_public_key", keys.reply_public_key),
            (PartKind.TEXT, "form", form),
            (PartKind.BYTES, "identification", block),
        ],
        [sealed_to(card.desks[0].public_key), sealed_to(keys.reply_public_key)],
        associated_data("submission", case_id),
    )
    followup = seal_followup(
        "an old follow-up",
        [],
        reply_secret_key=keys.reply_secret_key,
        office_keys=[d.public_key for d in card.desks],
        case_id=case_id,
    )
    pepper = config.pepper
    with world.server_state().sessions.begin() as session:
        store.add_submission(
            session,
            case_id=case_id,
            lookup=login_lookup(keys.login_token, pepper),
            envelope=io.BytesIO(envelope),
            today=TODAY,
        )
        session.execute(
            Login.__table__.update().where(Login.case_id == case_id.hex()).values(protocol=1)
        )
        store.add_followup(session, case_id=case_id, envelope=io.BytesIO(followup), today=TODAY)
    return code, case_id


def test_a_mixed_outbox_exports_and_imports(world: World) -> None:
    old_code, old_case = _protocol_1_report(world)
    client = world.client
    client.get("/language/en")
    new_code = submit_report(client)
    _status, page = check_in(client, new_code)
    summary = world.inbox_import(world.server_export())
    assert summary.counts["records imported"] == 3
    assert summary.counts["refused (see the audit log)"] == 0
    with world.inbox_session() as session:
        detail = case_detail(session, world.keyring, old_case.hex(), today=TODAY)
        assert [e.kind for e in detail.entries] == ["submission", "followup"]
        assert detail.entries[1].message == "an old follow-up"
        assert detail.entries[1].sequence is None  # protocol 1: not numbered
        queue_reply(
            session,
            world.keyring,
            case_id=old_case.hex(),
            message="Signed now.",
            files=[],
            now=world.inbox_config.clock(),
            store_dir=world.inbox_config.store_dir,
        )
    world.server_import(world.inbox_export())
    _status, page = check_in(client, old_code)
    assert "Signed now." in page
    assert "did not sign it" not in page
