"""The outgoing queue: replies sealed to the case's reply key and shown in the case."""

from datetime import date

from whistle.crypto.records import open_as_source
from whistle.inbox.cases import case_detail
from whistle.inbox.outgoing import pending, queue_purge, queue_reply

from .conftest import do_import, incoming, make_submission


def test_reply_is_queued_readable_by_source_and_shown_in_case(office) -> None:
    source, envelope = make_submission(office)
    do_import(office, [incoming("submission", source.case_id, envelope)])
    signed = office.sign_in()
    now = office.config.clock()
    with office.session() as session:
        rid = queue_reply(
            session,
            signed.keyring,
            case_id=source.case_id,
            message="Thank you, we are looking into it.",
            files=[("letter.txt", b"dear source")],
            now=now,
            store_dir=office.config.store_dir,
        )
        queue_purge(session, case_id=source.case_id, now=now)
        queue_purge(session, case_id=source.case_id, now=now)
    with office.session() as session:
        rows = pending(session)
        assert [(r.kind, r.record_id) for r in rows] == [("reply", rid), ("purge", None)]
        conversation = open_as_source(
            rows[0].envelope,
            "reply",
            source.reply_secret,
            bytes.fromhex(source.case_id),
            office_key=signed.keyring.signing_public,
            source_signing_key=bytes(32),
            signed_case=True,
        )
        assert conversation.message == "Thank you, we are looking into it."
        assert (conversation.position.sequence, conversation.position.seen) == (1, 0)
        detail = case_detail(session, signed.keyring, source.case_id, today=date(2026, 11, 2))
        assert [e.kind for e in detail.entries] == ["submission", "reply"]
