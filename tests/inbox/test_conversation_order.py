"""H4 and L1 as an attacker would try them, each failing on protocol 1: a follow-up replayed
under a new record id, one dropped on the way, one rewritten by an officer who holds a desk
key. Protocol 2 numbers and signs every follow-up (docs/protocol.md §7).
"""

from datetime import date

from sqlalchemy import select

from whistle.crypto import PartKind, associated_data, open_bytes, seal, sealed_to
from whistle.inbox.cases import case_detail
from whistle.inbox.models import AuditEvent, Record

from .conftest import do_import, incoming, make_followup, make_submission
from .test_web import app, csrf, login  # noqa: F401 (fixture)


def _detail(office, case_id: str):  # type: ignore[no-untyped-def]
    signed = office.sign_in()
    with office.session() as session:
        return case_detail(session, signed.keyring, case_id, today=date(2026, 11, 2))


def test_a_followup_replayed_under_a_new_id_is_refused(office) -> None:
    source, envelope = make_submission(office)
    followup = make_followup(office, source, "the second invoice")
    do_import(
        office,
        [
            incoming("submission", source.case_id, envelope),
            incoming("followup", source.case_id, followup, "f1"),
        ],
    )
    report = do_import(office, [incoming("followup", source.case_id, followup, "f1-again")])
    assert report.refused == [("f1-again", "the same followup was already imported as f1")]
    with office.session() as session:
        assert session.get(Record, "f1-again") is None
        refused = session.scalars(select(AuditEvent).where(AuditEvent.action == "record-refused"))
        assert {e.record_id for e in refused} == {"f1-again"}
    # Only the source can seal a record afresh: a second one numbered 1 is its own (two
    # pages at once), kept and shown as a repeated number.
    again = make_followup(office, source, "from the other tab", sequence=1)
    assert do_import(office, [incoming("followup", source.case_id, again, "f1-b")]).imported
    detail = _detail(office, source.case_id)
    assert [e.message for e in detail.entries if e.kind == "followup"] == [
        "the second invoice",
        "from the other tab",
    ]
    assert (detail.repeated_followups, detail.missing_followups) == ([1], [])


def test_a_dropped_followup_is_shown_to_officers(office, app) -> None:  # noqa: F811
    source, envelope = make_submission(office)
    first = make_followup(office, source, "one")
    make_followup(office, source, "two: never arrives")
    third = make_followup(office, source, "three")
    do_import(
        office,
        [
            incoming("submission", source.case_id, envelope),
            incoming("followup", source.case_id, third, "f3"),
            incoming("followup", source.case_id, first, "f1"),
        ],
    )
    detail = _detail(office, source.case_id)
    assert detail.missing_followups == [2]
    assert [e.sequence for e in detail.entries if e.kind == "followup"] == [3, 1]
    client = app.test_client()
    login(client)
    page = client.get(f"/cases/{source.case_id}").get_data(as_text=True)
    assert "Follow-ups missing from this conversation" in page
    assert "never received): 2." in page


def test_an_officer_cannot_rewrite_a_followup(office) -> None:
    """L1: a desk key opens the follow-up; rewriting its message breaks the source's signature."""
    source, envelope = make_submission(office)
    genuine = make_followup(office, source, "the director signed it")
    signed = office.sign_in()
    case_raw = bytes.fromhex(source.case_id)
    ad = associated_data("followup", case_raw)
    with office.session() as session:
        from whistle.inbox import compartments

        opened = compartments.wire_keys(session, signed.keyring)
        desks = [s for k in opened for s in k.desks.values()]
    parts = open_bytes(genuine, desks, ad).parts
    rewritten = [
        (p.kind, p.name, b"nobody signed anything" if p.name == "message" else p.content)
        for p in parts
    ]
    recipients = [sealed_to(k) for k in office.card_desks.values()] + [
        sealed_to(source.reply_public)
    ]
    forged = seal(rewritten, recipients, ad)
    assert rewritten[0][0] == PartKind.TEXT
    report = do_import(
        office,
        [
            incoming("submission", source.case_id, envelope),
            incoming("followup", source.case_id, forged, "forged"),
        ],
    )
    assert report.refused[0][0] == "forged"
    assert "signature does not verify" in report.refused[0][1]
