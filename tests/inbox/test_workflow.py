"""The legal workflow: states with reasons, assignment, labels, extension, replies, purge, audit."""

from datetime import date

import pytest
from sqlalchemy import select, text

from whistle.inbox import replies, workflow
from whistle.inbox.audit import verify_chain
from whistle.inbox.cases import decide_disclosure
from whistle.inbox.context import OfficerContext
from whistle.inbox.errors import (
    AcknowledgementWithheldError,
    AuditChainError,
    CaseLockedError,
    CaseNotFoundError,
    CasePurgedError,
    ExtensionRefusedError,
    InboxError,
    ReasonRequiredError,
    WorkflowError,
)
from whistle.inbox.models import Case, Outgoing, PurgedCase, Record, Reply, Tombstone
from whistle.inbox.officers import SignedIn

from .conftest import Office, do_import, incoming, make_submission

TODAY = date(2026, 11, 2)


@pytest.fixture
def case(office: Office) -> str:
    source, envelope = make_submission(office)
    do_import(office, [incoming("submission", source.case_id, envelope)])
    return source.case_id


@pytest.fixture
def signed(office: Office) -> SignedIn:
    return office.sign_in()


def _move(office: Office, signed: SignedIn, case: str, to: str, reason: str, **kw):  # type: ignore[no-untyped-def]
    with office.session() as session:
        return workflow.change_status(
            session,
            signed.keyring,
            case,
            to,
            reason=reason,
            ctx=OfficerContext(
                officer_id=signed.officer_id, now=office.config.clock(), today=TODAY
            ),
            **kw,
        )


def _ack(office: Office, signed: SignedIn, case: str) -> Reply:
    with office.session() as session:
        return replies.acknowledge(
            session,
            signed.keyring,
            case,
            ctx=OfficerContext(
                officer_id=signed.officer_id,
                now=office.config.clock(),
                today=TODAY,
                store_dir=office.config.store_dir,
            ),
        )


def test_new_to_closed_with_reasons(office: Office, signed: SignedIn, case: str) -> None:
    _ack(office, signed, case)
    _move(office, signed, case, "investigating", "Credible and within our remit.")
    _move(office, signed, case, "closed", "Invoices checked.", outcome="substantiated")
    with office.session() as session:
        row = session.get(Case, case)
        assert row is not None
        assert (row.status, row.outcome, row.acknowledged_day) == ("closed", "substantiated", TODAY)
        assert row.investigation_day == TODAY
        assert row.closed_day == TODAY
        history = workflow.decisions(session, signed.keyring, case)
    assert [(d.from_status, d.to_status) for d in history] == [
        ("new", "acknowledged"),
        ("acknowledged", "investigating"),
        ("investigating", "closed"),
    ]
    assert history[1].reason == "Credible and within our remit."


def test_state_change_without_reason_is_refused(
    office: Office, signed: SignedIn, case: str
) -> None:
    with pytest.raises(ReasonRequiredError, match="reason"):
        _move(office, signed, case, "acknowledged", "  ")
    with office.session() as session:
        assert session.get(Case, case).status == "new"  # type: ignore[union-attr]


def test_second_acknowledgement_is_refused(office: Office, signed: SignedIn, case: str) -> None:
    _ack(office, signed, case)
    with pytest.raises(WorkflowError, match="already acknowledged"):
        _ack(office, signed, case)
    with pytest.raises(WorkflowError, match="already acknowledged"):
        _move(office, signed, case, "acknowledged", "Acknowledged by phone.")
    with office.session() as session:
        queued = session.scalars(select(Outgoing).where(Outgoing.kind == "reply")).all()
    assert len(queued) == 1


def test_acknowledgement_is_in_the_source_language(
    office: Office, signed: SignedIn, case: str
) -> None:
    reply = _ack(office, signed, case)
    with office.session() as session:
        views = replies.replies(session, signed.keyring, case)
        assert session.get(Reply, reply.id).state == "ready"  # type: ignore[union-attr]
        kinds = session.scalars(select(Record.kind).where(Record.case_id == case)).all()
    assert views[0].text == replies.TEMPLATES["acknowledgement"]["ca"]  # the form says "ca"
    assert sorted(kinds) == ["reply", "submission"]  # the office copy is in the history


def test_illegal_moves_and_outcomes(office: Office, signed: SignedIn, case: str) -> None:
    with pytest.raises(WorkflowError, match="cannot go"):
        _move(office, signed, case, "investigating", "Straight to it.")
    with pytest.raises(WorkflowError, match="outcome"):
        _move(office, signed, case, "closed", "Out of scope.")
    with pytest.raises(WorkflowError, match="outcome"):
        _move(office, signed, case, "closed", "Out of scope.", outcome="maybe")
    _move(office, signed, case, "closed", "Out of scope.", outcome="inadmissible")


def test_reopen(office: Office, signed: SignedIn, case: str) -> None:
    _ack(office, signed, case)
    _move(office, signed, case, "closed", "Nothing to add.", outcome="unsubstantiated")
    now = office.config.clock()
    by = OfficerContext(officer_id=1, now=now, today=TODAY)
    with office.session() as session, pytest.raises(ReasonRequiredError):
        workflow.reopen(session, signed.keyring, case, reason="", ctx=by)
    with office.session() as session:
        row = workflow.reopen(
            session,
            signed.keyring,
            case,
            reason="New evidence arrived.",
            ctx=OfficerContext(officer_id=signed.officer_id, now=now, today=TODAY),
        )
        assert (row.status, row.outcome, row.closed_day) == ("acknowledged", None, None)


def _extend(office: Office, signed: SignedIn, case: str, reason: str, today: date) -> Case:
    with office.session() as session:
        return workflow.extend_feedback(
            session,
            signed.keyring,
            case,
            reason=reason,
            ctx=OfficerContext(
                officer_id=signed.officer_id, now=office.config.clock(), today=today
            ),
        )


def test_extension_needs_a_reason_and_happens_once(
    office: Office, signed: SignedIn, case: str
) -> None:
    with pytest.raises(ReasonRequiredError, match="extension"):
        _extend(office, signed, case, "", TODAY)
    row = _extend(office, signed, case, "Complex accounts.", TODAY)
    assert (row.extended, row.extended_day) == (True, TODAY)
    with pytest.raises(ExtensionRefusedError, match="already extended") as refused:
        _extend(office, signed, case, "Again please.", TODAY)
    assert refused.value.why == "already-extended"


def test_extension_is_refused_after_the_first_deadline(
    office: Office, signed: SignedIn, case: str
) -> None:
    # Received 1 Nov 2026: the first deadline is 1 Feb 2027, the last day it can be extended.
    with pytest.raises(ExtensionRefusedError, match="passed") as refused:
        _extend(office, signed, case, "Complex accounts.", date(2027, 2, 2))
    assert refused.value.why == "too-late"
    with office.session() as session:
        row = session.get(Case, case)
        assert row is not None
        assert not row.extended
        assert [d.action for d in workflow.decisions(session, signed.keyring, case)] == []
    assert _extend(office, signed, case, "Complex accounts.", date(2027, 2, 1)).extended


def test_a_met_feedback_cannot_be_extended(office: Office, signed: SignedIn, case: str) -> None:
    with office.session() as session:
        row = session.get(Case, case)
        assert row is not None
        row.feedback_delivered_day = date(2026, 12, 1)
    with pytest.raises(ExtensionRefusedError, match="already given"):
        _extend(office, signed, case, "Complex accounts.", date(2026, 12, 2))


def _queue(office: Office, signed: SignedIn, case: str, purpose: str, text: str) -> Reply:
    with office.session() as session:
        draft = replies.save_draft(
            session,
            signed.keyring,
            case,
            text,
            ctx=OfficerContext(
                officer_id=signed.officer_id, now=office.config.clock(), today=TODAY
            ),
            purpose=purpose,
        )
        return replies.mark_ready(
            session,
            signed.keyring,
            case,
            draft.id,
            ctx=OfficerContext(
                officer_id=signed.officer_id,
                now=office.config.clock(),
                today=TODAY,
                store_dir=office.config.store_dir,
            ),
        )


def _clocks(office: Office, case: str, today: date) -> dict[str, str]:
    from whistle.inbox import deadlines

    with office.session() as session:
        row = session.get(Case, case)
        assert row is not None
        found = deadlines.case_deadlines(workflow.case_dates(row), today)
    return {d.kind: d.state for d in found}


def test_clocks_are_met_when_the_reply_reached_the_server_not_when_queued(
    office: Office, signed: SignedIn, case: str
) -> None:
    ack = _ack(office, signed, case)
    question = _queue(office, signed, case, "reply", "Which invoices?")
    assert _clocks(office, case, TODAY)["acknowledgement"] == "pending"
    with office.session() as session:
        # The server stored the acknowledgement on 9 Nov (a day late): late, not met on time.
        assert replies.note_delivery(
            session, ack.outgoing_id or "", delivered=date(2026, 11, 9), read=None
        )
        assert replies.note_delivery(
            session,
            question.outgoing_id or "",
            delivered=date(2026, 11, 9),
            read=date(2026, 11, 10),
        )
        row = session.get(Case, case)
        assert row is not None
        assert (row.ack_delivered_day, row.ack_read_day) == (date(2026, 11, 9), date(2026, 11, 10))
        # A question is not feedback, whatever reached the server.
        assert (row.feedback_day, row.feedback_delivered_day) == (None, None)
    assert _clocks(office, case, date(2026, 11, 10))["acknowledgement"] == "met"
    assert _clocks(office, case, date(2027, 2, 2))["feedback"] == "overdue"
    feedback = _queue(office, signed, case, "feedback", "We checked the invoices: ...")
    assert _clocks(office, case, date(2027, 1, 5))["feedback"] == "pending"  # queued only
    with office.session() as session:
        replies.note_delivery(
            session, feedback.outgoing_id or "", delivered=date(2027, 1, 6), read=None
        )
        # A second report of the same days changes nothing.
        assert not replies.note_delivery(
            session, feedback.outgoing_id or "", delivered=date(2027, 1, 6), read=None
        )
    assert _clocks(office, case, date(2027, 2, 2))["feedback"] == "met"


def test_the_server_reports_delivery_in_its_outbox(
    office: Office, signed: SignedIn, case: str
) -> None:
    from whistle.inbox.bundles import note_replies_seen

    ack = _ack(office, signed, case)
    with office.session() as session:
        seen = {
            ack.outgoing_id: ["2026-11-03", "2026-11-04"],
            "f" * 32: ["2026-11-03", None],  # not ours: ignored
            "bad": "not a list",
            "worse": ["not a day", None],
        }
        assert note_replies_seen(session, seen) == 1
        assert note_replies_seen(session, "nonsense") == 0
        row = session.get(Reply, ack.id)
        assert row is not None
        assert (row.delivered_day, row.read_day) == (date(2026, 11, 3), date(2026, 11, 4))


def test_withholding_the_acknowledgement_needs_a_reason_and_meets_the_clock(
    office: Office, signed: SignedIn, case: str
) -> None:
    def withhold(reason: str) -> Case:
        with office.session() as session:
            return workflow.withhold_acknowledgement(
                session,
                signed.keyring,
                case,
                reason=reason,
                ctx=OfficerContext(
                    officer_id=signed.officer_id, now=office.config.clock(), today=TODAY
                ),
            )

    with pytest.raises(ReasonRequiredError):
        withhold("")
    assert withhold("The reporter wrote that the office mail is read by the accused.")
    assert _clocks(office, case, date(2026, 12, 1))["acknowledgement"] == "met"
    with pytest.raises(AcknowledgementWithheldError):
        withhold("Again.")
    with office.session() as session:
        history = workflow.decisions(session, signed.keyring, case)
    assert [d.action for d in history] == ["withhold-ack"]


def test_closing_offers_a_feedback_draft_once(office: Office, signed: SignedIn, case: str) -> None:
    _move(office, signed, case, "closed", "Out of scope.", outcome="inadmissible")
    with office.session() as session:
        row = session.get(Case, case)
        assert row is not None
        draft = replies.offer_closing_feedback(
            session,
            signed.keyring,
            row,
            ctx=OfficerContext(
                officer_id=signed.officer_id, now=office.config.clock(), today=TODAY
            ),
        )
        assert draft is not None
        assert (draft.purpose, draft.state) == ("feedback", "draft")
        assert replies.open_draft(signed.keyring, draft).text == replies.TEMPLATES["closing"]["ca"]
        assert (
            replies.offer_closing_feedback(
                session,
                signed.keyring,
                row,
                ctx=OfficerContext(
                    officer_id=signed.officer_id, now=office.config.clock(), today=TODAY
                ),
            )
            is None
        )
    clocks = _clocks(office, case, date(2027, 6, 1))
    assert (clocks["feedback"], clocks["acknowledgement"]) == ("stopped", "stopped")


def test_the_extension_notice_names_the_new_deadline(
    office: Office, signed: SignedIn, case: str
) -> None:
    row = _extend(office, signed, case, "Complex accounts.", TODAY)
    with office.session() as session:
        row = session.get(Case, case)
        assert row is not None
        reply = replies.notify_extension(
            session,
            signed.keyring,
            row,
            ctx=OfficerContext(
                officer_id=signed.officer_id, now=office.config.clock(), today=TODAY
            ),
        )
        text = replies.open_draft(signed.keyring, reply).text
    assert reply.state == "ready"
    assert "2027-05-01" in text  # 1 Nov + 3 + 3 months


def test_assignment_and_labels(office: Office, signed: SignedIn, case: str) -> None:
    now = office.config.clock()
    by = OfficerContext(officer_id=1, now=now, today=TODAY)
    with office.session() as session:
        workflow.assign(session, signed.keyring, case, signed.officer_id, reason="Mine.", ctx=by)
        with pytest.raises(InboxError, match="No such officer"):
            workflow.assign(session, signed.keyring, case, 99, reason="Theirs.", ctx=by)
        labels = workflow.parse_labels("urgent, contracts,  Urgent ,")
        workflow.set_labels(session, signed.keyring, case, labels, ctx=by)
    with office.session() as session:
        row = session.get(Case, case)
        assert row is not None
        assert row.assignee_id == signed.officer_id
        assert workflow.case_labels(signed.keyring, row) == ["urgent", "contracts"]
        assert b"contracts" not in (row.labels or b"")


def test_draft_is_sealed_then_queued(office: Office, signed: SignedIn, case: str) -> None:
    now = office.config.clock()
    by = OfficerContext(officer_id=1, now=now, today=TODAY)
    with office.session() as session:
        draft = replies.save_draft(session, signed.keyring, case, "We are looking into it.", ctx=by)
        assert b"looking" not in draft.body
        replies.save_draft(
            session,
            signed.keyring,
            case,
            "We are looking into it closely.",
            ctx=by,
            reply_id=draft.id,
        )
        with pytest.raises(InboxError, match="Write the reply"):
            replies.save_draft(session, signed.keyring, case, "  ", ctx=by)
        replies.mark_ready(session, signed.keyring, case, draft.id, ctx=by)
        with pytest.raises(WorkflowError, match="already"):
            replies.mark_ready(session, signed.keyring, case, draft.id, ctx=by)
        views = replies.replies(session, signed.keyring, case)
        assert views[0].text == "We are looking into it closely."
        assert session.scalar(select(Outgoing.kind)) == "reply"


def test_meeting_record_needs_a_file(office: Office, signed: SignedIn, case: str) -> None:
    now = office.config.clock()
    by = OfficerContext(officer_id=1, now=now, today=TODAY)
    with office.session() as session:
        with pytest.raises(InboxError, match="minutes"):
            replies.save_draft(session, signed.keyring, case, "Minutes", ctx=by, purpose="meeting")
        draft = replies.save_draft(
            session,
            signed.keyring,
            case,
            replies.template_text("meeting", "es"),
            ctx=by,
            purpose="meeting",
            files=[("acta.txt", b"Minutes of the meeting")],
        )
        assert replies.open_draft(signed.keyring, draft).files == [
            ("acta.txt", b"Minutes of the meeting")
        ]


def test_disclosure_decision_tells_the_reporter(office: Office, case: str) -> None:
    from .test_web import _add_custodian

    _add_custodian(office)
    custodian = office.sign_in("carla")
    officer = office.sign_in()
    with office.session() as session:
        decide_disclosure(
            session,
            custodian.keyring,
            case,
            "Court order received today.",
            ctx=OfficerContext(
                officer_id=custodian.officer_id, now=office.config.clock(), today=TODAY
            ),
            roles=("custodian",),
            custodian=custodian.custodian_keyring,
        )
        # The custodian is in no desk: the notice is written for the case's officers, whose
        # keys open it, and not the custodian's.
        views = replies.replies(session, officer.keyring, case)
        with pytest.raises(CaseLockedError):
            replies.replies(session, custodian.keyring, case)
    assert [(v.purpose, v.state) for v in views] == [("disclosure", "ready")]
    assert views[0].text == replies.TEMPLATES["disclosure"]["ca"]


def test_purge_leaves_a_tombstone_and_refuses_replies(
    office: Office, signed: SignedIn, case: str
) -> None:
    now = office.config.clock()
    by = OfficerContext(officer_id=1, now=now, today=TODAY)
    with office.session() as session:
        with pytest.raises(WorkflowError, match="Confirm"):
            workflow.purge_case(
                session,
                signed.keyring,
                case,
                confirm=False,
                reason="",
                officer_id=1,
                now=now,
                today=TODAY,
                store_dir=office.config.store_dir,
            )
        with pytest.raises(ReasonRequiredError):
            workflow.purge_case(
                session,
                signed.keyring,
                case,
                confirm=True,
                reason="",
                officer_id=1,
                now=now,
                today=TODAY,
                store_dir=office.config.store_dir,
            )
    files_before = list(office.config.store_dir.iterdir())
    assert files_before
    with office.session() as session:
        paths = workflow.purge_case(
            session,
            signed.keyring,
            case,
            confirm=True,
            reason="",
            officer_id=1,
            now=now,
            today=date(2027, 2, 1),
            store_dir=office.config.store_dir,
        )
    workflow.remove_files(paths)
    assert not list(office.config.store_dir.iterdir())
    with office.session() as session:
        assert session.get(Case, case) is None
        assert session.get(Tombstone, case) is not None
        assert session.get(PurgedCase, case).grounds == "no-investigation"  # type: ignore[union-attr]
        assert session.scalar(select(Outgoing.kind).where(Outgoing.case_id == case)) == "purge"
    with office.session() as session, pytest.raises(CasePurgedError, match="purged"):
        replies.save_draft(session, signed.keyring, case, "Hello?", ctx=by)
    with office.session() as session, pytest.raises(CaseNotFoundError):
        replies.save_draft(session, signed.keyring, "ab" * 16, "Hello?", ctx=by)


def test_audit_chain_verifies_and_names_a_tampered_entry(
    office: Office, signed: SignedIn, case: str
) -> None:
    _ack(office, signed, case)
    with office.session() as session:
        head = verify_chain(session)
        assert head.count >= 4
        with pytest.raises(Exception, match="append-only"):
            session.execute(text("UPDATE audit_event SET detail = 'x' WHERE id = 2"))
    with office.session() as session:
        session.execute(text("DROP TRIGGER audit_event_no_update"))
        session.execute(text("UPDATE audit_event SET action = 'nothing' WHERE id = 3"))
    with office.session() as session, pytest.raises(AuditChainError, match="entry #3") as caught:
        verify_chain(session)
    assert caught.value.entry_id == 3


def test_audit_chain_detects_a_removed_entry(office: Office, signed: SignedIn, case: str) -> None:
    _ack(office, signed, case)
    with office.session() as session:
        session.execute(text("DROP TRIGGER audit_event_no_delete"))
        session.execute(text("DELETE FROM audit_event WHERE id = 2"))
    with office.session() as session, pytest.raises(AuditChainError, match="#2 is missing"):
        verify_chain(session)


def test_audit_entry_hash_matches_the_worked_example() -> None:
    """docs/protocol.md §12: entry 1 of a new office."""
    from datetime import datetime

    from whistle.inbox.audit import GENESIS, entry_hash

    digest = entry_hash(
        GENESIS,
        event_id=1,
        at=datetime(2026, 11, 2, 9),
        officer_id=None,
        action="office-created",
        case_id=None,
        record_id=None,
        detail="",
    )
    assert digest.hex() == "60296eecd9fdca689287fb333d38caa29e9d641292120562d2068f9020f137af"


def test_a_case_closed_before_acknowledgement_can_still_be_acknowledged(
    office: Office, signed: SignedIn, case: str
) -> None:
    _move(office, signed, case, "closed", "Outside our remit.", outcome="inadmissible")
    _ack(office, signed, case)
    with office.session() as session:
        row = session.get(Case, case)
        assert row is not None
        assert (row.status, row.acknowledged_day, row.feedback_day) == ("closed", TODAY, None)
    with pytest.raises(WorkflowError, match="already acknowledged"):
        _ack(office, signed, case)
