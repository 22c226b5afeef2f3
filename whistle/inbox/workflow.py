"""The legal workflow of a case: states with reasons, assignment, labels, extension, purge.

    new ──▶ acknowledged ──▶ investigating ──▶ closed (outcome)
     └──────────┴────────────────────────────▶ closed        closed ──reopen──▶ previous state

Every change is a ``Decision`` row whose reason is sealed to the storage key, plus an audit
event (no content). Purging removes the case's rows and stored files, leaves a ``Tombstone``
and queues a purge order for the server (``outgoing.queue_purge``).
"""

from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session, object_session

from whistle.crypto import CryptoError
from whistle.inbox import compartments, deadlines, sealing
from whistle.inbox.audit import record_case_event, record_event
from whistle.inbox.case_announce import CASE_KEY
from whistle.inbox.context import OfficerContext
from whistle.inbox.errors import (
    AcknowledgementWithheldError,
    AlreadyAcknowledgedError,
    AlreadyAssignedError,
    AlreadyWithheldError,
    CaseLockedError,
    CaseNotFoundError,
    CasePurgedError,
    CategoryRefusedError,
    ConfirmationRequiredError,
    DeletionRefusedError,
    ExtensionRefusedError,
    LabelTooLongError,
    OutcomeNotAllowedError,
    OutcomeRequiredError,
    ReasonRequiredError,
    ReasonTooLongError,
    ReopenRefusedError,
    StateChangeRefusedError,
    TooManyLabelsError,
    UnknownOfficerError,
)
from whistle.inbox.keyring import OfficeKeyring
from whistle.inbox.keystore import PURGED
from whistle.inbox.models import (
    OUTCOMES,
    STATUS_ACKNOWLEDGED,
    STATUS_CLOSED,
    STATUS_INVESTIGATING,
    STATUS_NEW,
    Case,
    CaseGrant,
    CaseKey,
    CaseSearch,
    CaseSeen,
    Decision,
    DeskSearch,
    Disclosure,
    HeldRecord,
    Note,
    Officer,
    Outgoing,
    PurgedCase,
    Record,
    Recusal,
    Reply,
    Step,
)

MIN_REASON_CHARS = 3
MAX_REASON_CHARS = 5_000
MAX_LABELS = 20
MAX_LABEL_CHARS = 60

ALLOWED = {
    STATUS_NEW: (STATUS_ACKNOWLEDGED, STATUS_CLOSED),
    STATUS_ACKNOWLEDGED: (STATUS_INVESTIGATING, STATUS_CLOSED),
    STATUS_INVESTIGATING: (STATUS_CLOSED,),
    STATUS_CLOSED: (),
}


def live_case(session: Session, case_id: str) -> Case:
    """The case, or a clear refusal: purged (tombstone) or not found."""
    case = session.get(Case, case_id) if len(case_id) == 32 else None
    if case is not None:
        return case
    if len(case_id) == 32 and session.get(PurgedCase, case_id) is not None:
        raise CasePurgedError("This case was purged: only its tombstone is left.")
    raise CaseNotFoundError("No such case.")


def check_reason(reason: str, what: str = "this change") -> str:
    reason = reason.strip()
    if len(reason) < MIN_REASON_CHARS:
        raise ReasonRequiredError(f"Give a reason for {what}.")
    if len(reason) > MAX_REASON_CHARS:
        raise ReasonTooLongError(f"A reason has at most {MAX_REASON_CHARS} characters.")
    return reason


def _decide(
    session: Session,
    keyring: OfficeKeyring,
    case: Case,
    action: str,
    reason: str,
    *,
    ctx: OfficerContext,
    from_status: str | None = None,
    to_status: str | None = None,
    outcome: str | None = None,
) -> Decision:
    decision = Decision(
        case_id=case.id,
        officer_id=ctx.officer_id,
        at=ctx.now.replace(tzinfo=None),
        action=action,
        from_status=from_status,
        to_status=to_status,
        outcome=outcome,
        reason=sealing.seal_text(
            compartments.case_public(session, case.id), sealing.DECISION, case.id, reason
        ),
    )
    session.add(decision)
    return decision


def change_status(
    session: Session,
    keyring: OfficeKeyring,
    case_id: str,
    to_status: str,
    *,
    reason: str,
    ctx: OfficerContext,
    outcome: str | None = None,
) -> Case:
    """Move a case along the workflow, with a reason (and an outcome when closing)."""
    case = live_case(session, case_id)
    reason = check_reason(reason, "the change of state")
    if to_status not in ALLOWED.get(case.status, ()):
        if to_status == STATUS_ACKNOWLEDGED and case.acknowledged_day is not None:
            raise AlreadyAcknowledgedError(
                f"This case was already acknowledged on {case.acknowledged_day.isoformat()}."
            )
        raise StateChangeRefusedError(f"A case cannot go from {case.status} to {to_status}.")
    if to_status == STATUS_CLOSED:
        if outcome not in OUTCOMES:
            raise OutcomeRequiredError("Choose the outcome to close the case.")
    elif outcome is not None:
        raise OutcomeNotAllowedError("Only closing a case has an outcome.")
    from_status = case.status
    case.status = to_status
    if to_status == STATUS_ACKNOWLEDGED:
        case.acknowledged_day = ctx.today
    elif to_status == STATUS_INVESTIGATING:
        case.investigation_day = case.investigation_day or ctx.today
    elif to_status == STATUS_CLOSED:
        case.closed_day = ctx.today
        case.outcome = outcome
    case.last_activity_day = max(case.last_activity_day, ctx.today)
    _decide(
        session,
        keyring,
        case,
        "status",
        reason,
        ctx=ctx,
        from_status=from_status,
        to_status=to_status,
        outcome=outcome,
    )
    detail = f"{from_status}->{to_status}" + (f" ({outcome})" if outcome else "")
    record_case_event(session, ctx, "status-changed", case.id, detail=detail)
    return case


def reopen(
    session: Session,
    keyring: OfficeKeyring,
    case_id: str,
    *,
    reason: str,
    ctx: OfficerContext,
) -> Case:
    case = live_case(session, case_id)
    reason = check_reason(reason, "reopening the case")
    if case.status != STATUS_CLOSED:
        raise ReopenRefusedError("Only a closed case can be reopened.")
    if case.investigation_day is not None:
        back = STATUS_INVESTIGATING
    elif case.acknowledged_day is not None:
        back = STATUS_ACKNOWLEDGED
    else:
        back = STATUS_NEW
    case.status = back
    case.closed_day = None
    case.outcome = None
    case.last_activity_day = max(case.last_activity_day, ctx.today)
    _decide(
        session, keyring, case, "status", reason, ctx=ctx, from_status=STATUS_CLOSED, to_status=back
    )
    record_case_event(session, ctx, "case-reopened", case.id, detail=f"closed->{back}")
    return case


EXTENSION_REFUSALS = {
    "already-extended": "The feedback deadline was already extended.",
    "closed": "A closed case has no feedback deadline to extend.",
    "met": "The feedback was already given: there is nothing to extend.",
    "too-late": "The first feedback deadline has passed: it can no longer be extended.",
}


def extend_feedback(
    session: Session,
    keyring: OfficeKeyring,
    case_id: str,
    *,
    reason: str,
    ctx: OfficerContext,
) -> Case:
    """Extend the feedback deadline by 3 months: once, with a recorded reason, before the
    first deadline passed and while the feedback is owed (the caller tells the source,
    ``replies.notify_extension``)."""
    case = live_case(session, case_id)
    reason = check_reason(reason, "the extension")
    why = deadlines.extension_refusal(case_dates(case), ctx.today)
    if why is not None:
        raise ExtensionRefusedError(EXTENSION_REFUSALS[why], why=why)
    case.extended = True
    case.extended_day = ctx.today
    _decide(session, keyring, case, "extend", reason, ctx=ctx)
    record_case_event(session, ctx, "deadline-extended", case.id)
    return case


def withhold_acknowledgement(
    session: Session,
    keyring: OfficeKeyring,
    case_id: str,
    *,
    reason: str,
    ctx: OfficerContext,
) -> Case:
    """Record that no acknowledgement is sent because it could endanger the confidentiality
    of the communication (art. 9.2.c): the clock is met by this justified decision."""
    case = live_case(session, case_id)
    reason = check_reason(reason, "withholding the acknowledgement")
    if case.ack_withheld_day is not None:
        raise AlreadyWithheldError("The acknowledgement was already withheld.")
    if case.acknowledged_day is not None or case.ack_delivered_day is not None:
        raise AcknowledgementWithheldError("The acknowledgement was already sent.")
    case.ack_withheld_day = ctx.today
    case.last_activity_day = max(case.last_activity_day, ctx.today)
    _decide(session, keyring, case, "withhold-ack", reason, ctx=ctx)
    record_case_event(session, ctx, "acknowledgement-withheld", case.id)
    return case


def assign(
    session: Session,
    keyring: OfficeKeyring,
    case_id: str,
    assignee_id: int | None,
    *,
    reason: str,
    ctx: OfficerContext,
) -> Case:
    case = live_case(session, case_id)
    reason = check_reason(reason, "the assignment")
    if assignee_id is not None:
        officer = session.get(Officer, assignee_id)
        if officer is None or not officer.is_officer:
            raise UnknownOfficerError("No such officer.")
    if case.assignee_id == assignee_id:
        raise AlreadyAssignedError("The case is already assigned so.")
    case.assignee_id = assignee_id
    _decide(session, keyring, case, "assign", reason, ctx=ctx)
    record_case_event(
        session,
        ctx,
        "case-assigned",
        case.id,
        detail=str(assignee_id) if assignee_id is not None else "nobody",
    )
    return case


def set_category(
    session: Session, case_id: str, category: str | None, *, ctx: OfficerContext
) -> Case:
    """File the case under one of the office's categories (None: none)."""
    from whistle.inbox.settings import category_names

    case = live_case(session, case_id)
    if category is not None and category not in category_names(session):
        raise CategoryRefusedError("Choose one of the office's categories.")
    case.category = category
    record_case_event(session, ctx, "category-set", case.id, detail=category or "none")
    return case


def parse_labels(text: str) -> list[str]:
    labels: list[str] = []
    for piece in text.split(","):
        label = " ".join(piece.split())
        if not label:
            continue
        if len(label) > MAX_LABEL_CHARS:
            raise LabelTooLongError(f"A label has at most {MAX_LABEL_CHARS} characters.")
        if label.casefold() not in (x.casefold() for x in labels):
            labels.append(label)
    if len(labels) > MAX_LABELS:
        raise TooManyLabelsError(f"A case has at most {MAX_LABELS} labels.")
    return labels


def set_labels(
    session: Session,
    keyring: OfficeKeyring,
    case_id: str,
    labels: list[str],
    *,
    ctx: OfficerContext,
) -> Case:
    """Labels are officers' words: sealed like notes. They need no reason (not a decision)."""
    case = live_case(session, case_id)
    compartments.case_secrets(session, keyring, case.id)  # writing into a case needs its keys
    case.labels = (
        sealing.seal_json(
            compartments.case_public(session, case.id), sealing.LABELS, case.id, labels
        )
        if labels
        else None
    )
    record_case_event(session, ctx, "labels-changed", case.id)
    return case


def case_labels(
    keyring: OfficeKeyring, case: Case, cache: dict[Any, Any] | None = None
) -> list[str]:
    """The case's labels, decrypted (through the key store's cache when given)."""
    session = object_session(case)
    if case.labels is None or session is None:
        return []
    try:  # the keys first, whatever the cache holds: the refusal is by key
        keys = compartments.case_secrets(session, keyring, case.id, cache)
    except CaseLockedError:
        return []
    key = ("labels", case.id, case.labels[-32:].hex())
    if cache is not None and key in cache:
        return list(cache[key])
    try:
        value = sealing.open_json(keys, sealing.LABELS, case.id, case.labels)
    except (CryptoError, ValueError):
        return ["?"]
    labels = [str(x) for x in value] if isinstance(value, list) else ["?"]
    if cache is not None:
        cache[key] = labels
    return labels


@dataclass(frozen=True)
class DecisionView:
    at: datetime
    officer: str
    action: str
    from_status: str | None
    to_status: str | None
    outcome: str | None
    reason: str | None


def decisions(session: Session, keyring: OfficeKeyring, case_id: str) -> list[DecisionView]:
    names = {oid: name for oid, name in session.execute(select(Officer.id, Officer.name))}
    try:
        keys = compartments.case_secrets(session, keyring, case_id)
    except CaseLockedError:
        keys = []  # the decisions are listed, their reasons stay sealed
    found: list[DecisionView] = []
    for d in session.scalars(
        select(Decision).where(Decision.case_id == case_id).order_by(Decision.at, Decision.id)
    ):
        try:
            reason: str | None = sealing.open_text(keys, sealing.DECISION, case_id, d.reason)
        except (CryptoError, ValueError):
            reason = None
        found.append(
            DecisionView(
                d.at,
                names.get(d.officer_id, "?"),
                d.action,
                d.from_status,
                d.to_status,
                d.outcome,
                reason,
            )
        )
    return found


#: The plaintext columns lists, sorts and clocks need (no blobs): rows of these are much
#: cheaper to load than whole ``Case`` objects when there are thousands of cases.
CASE_COLUMNS = (
    Case.id,
    Case.ref_year,
    Case.ref_number,
    Case.desk_id,
    Case.status,
    Case.assignee_id,
    Case.received_day,
    Case.last_activity_day,
    Case.acknowledged_day,
    Case.ack_delivered_day,
    Case.ack_withheld_day,
    Case.investigation_day,
    Case.feedback_day,
    Case.feedback_delivered_day,
    Case.closed_day,
    Case.outcome,
    Case.extended,
    Case.deletion_postponed_to,
    Case.meeting_requested_day,
    Case.meeting_offered_day,
    Case.category,
)


#: What the clocks read of a case, in ``clock_dates``' order: a row's slice of these is a
#: hashable key, so the dashboard asks the clocks once per distinct set of dates.
CLOCK_COLUMNS = (
    Case.received_day,
    Case.ack_delivered_day,
    Case.investigation_day,
    Case.feedback_delivered_day,
    Case.closed_day,
    Case.extended,
    Case.ack_withheld_day,
    Case.deletion_postponed_to,
    Case.meeting_requested_day,
    Case.meeting_offered_day,
)


def case_dates(case: Any) -> deadlines.CaseDates:
    """The clocks' view of a ``Case`` (or of a row of ``CASE_COLUMNS``)."""
    return clock_dates(tuple(getattr(case, column.key) for column in CLOCK_COLUMNS))


def clock_dates(clocks: tuple[Any, ...]) -> deadlines.CaseDates:
    """The clocks' view of the values of ``CLOCK_COLUMNS``: a clock is met by what reached
    the server, not by what was queued."""
    (
        received,
        delivered,
        investigation,
        feedback,
        closed,
        extended,
        withheld,
        postponed,
        requested,
        offered,
    ) = clocks
    return deadlines.CaseDates(
        received=received,
        acknowledged=delivered,
        investigation_opened=investigation,
        feedback_given=feedback,
        closed=closed,
        extended=bool(extended),
        acknowledgement_withheld=withheld,
        deletion_postponed=postponed,
        meeting_requested=requested,
        meeting_offered=offered,
    )


def postpone_deletion(
    session: Session,
    keyring: OfficeKeyring,
    case_id: str,
    until: date,
    *,
    reason: str,
    ctx: OfficerContext,
) -> Case:
    """Keep a case past its art. 32.4 deletion day, to a given day, with a recorded reason
    (for instance a court order to preserve it). Only the law's own exceptions justify it;
    the reason is in the decision log for whoever audits it."""
    case = live_case(session, case_id)
    reason = check_reason(reason, "postponing the deletion")
    if case.investigation_day is not None:
        raise DeletionRefusedError(
            "An investigation was opened: no deletion is due.", why="investigation"
        )
    if until <= ctx.today:
        raise DeletionRefusedError("Postpone the deletion to a day after today.", why="date")
    if until >= deadlines.retention_end(case.received_day):
        raise DeletionRefusedError(
            "A deletion cannot be postponed past the retention limit.", why="retention"
        )
    case.deletion_postponed_to = until
    _decide(session, keyring, case, "postpone-deletion", reason, ctx=ctx)
    record_case_event(session, ctx, "deletion-postponed", case.id, detail=until.isoformat())
    return case


def purge_case(
    session: Session,
    keyring: OfficeKeyring,
    case_id: str,
    *,
    confirm: bool,
    reason: str,
    officer_id: int | None,
    now: datetime,
    today: date,
    store_dir: Path,
    grounds: str | None = None,
    entry_id: str | None = None,
) -> list[Path]:
    """Delete a case, queue a purge order for the server (which leaves the tombstone).

    A case whose deletion is due (no investigation after 3 months, or 10 years) needs only the
    confirmation; any other needs a reason too. The register keeps the case's whole line
    (``PurgedCase.register``) and the list of deletions an entry. Returns the stored files to
    remove **after** the caller's transaction committed (``remove_files``), so a failed
    commit loses nothing.
    """
    from whistle.inbox import outgoing
    from whistle.inbox.deletions import record_deletion
    from whistle.inbox.register import case_line, seal_line

    case = live_case(session, case_id)
    if not confirm:
        raise ConfirmationRequiredError("Confirm the deletion: it cannot be undone.")
    dates = case_dates(case)
    # ``grounds`` is given when a deletion is made again from the list (the original ones).
    if grounds is None and deadlines.deletion_is_due(dates, today):
        grounds = (
            "retention"
            if today >= deadlines.retention_end(case.received_day)
            else "no-investigation"
        )
    elif grounds is None:
        check_reason(reason, "deleting a case before it is due")
        grounds = "other"
    line = case_line(session, keyring, case, purged=today)
    paths = [
        store_dir / name
        for name in session.scalars(select(Record.stored_name).where(Record.case_id == case.id))
    ]
    for model in (
        Record,
        Note,
        Disclosure,
        Decision,
        Reply,
        Step,
        Recusal,
        CaseSearch,
        CaseGrant,
        CaseKey,
        CaseSeen,
        HeldRecord,
    ):
        session.execute(delete(model).where(model.case_id == case.id))
    # Its key announcements would tell the server of keys that no longer exist (the purge
    # order deletes the server's copy); the other outgoing rows still have to go.
    session.execute(delete(Outgoing).where(Outgoing.kind == CASE_KEY, Outgoing.case_id == case.id))
    session.add(
        PurgedCase(
            case_id=case.id,
            desk_id=case.desk_id,
            received_day=case.received_day,
            purged_at=now.replace(tzinfo=None),
            officer_id=officer_id,
            grounds=grounds,
            status=case.status,
            outcome=case.outcome,
            register=seal_line(keyring, line),
        )
    )
    # The desk's search index holds the case's text: it goes too (rebuilt at the next search).
    session.execute(delete(DeskSearch).where(DeskSearch.desk_id == case.desk_id))
    session.delete(case)
    session.flush()
    session.info[PURGED] = True  # the key store forgets decrypted text once this commits
    outgoing.queue_purge(session, case_id=case_id, now=now)
    record_deletion(
        session,
        keyring,
        case_id=case_id,
        target="case",
        item="",
        grounds=grounds,
        reason=None,
        officer_id=officer_id,
        now=now,
        entry_id=entry_id,
    )
    record_event(
        session, now, "case-purged", officer_id=officer_id, case_id=case_id, detail=grounds
    )
    return paths


def remove_files(paths: list[Path]) -> None:
    for path in paths:
        path.unlink(missing_ok=True)
