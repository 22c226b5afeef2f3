"""The register (libro-registro, art. 26): one line per case, purged cases included; CSV and
a page.

No report content: dates, desk, category, anonymous or identified, state, outcome, the
acknowledgement (reached the server, read, or withheld), the feedback, the extension, the
investigation, the person concerned informed and heard, measures, referrals (to whom, when,
"at once"), disclosures of identity to third parties, the deletion, assignee, labels
(decrypted, they are the officers' own words) and the legal deadlines. A purged case keeps the
line it had (``PurgedCase.register``, sealed, written by ``workflow.purge_case``), without its
labels. Every CSV cell that a spreadsheet could
take for a formula (starting with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return) is
prefixed with a single quote.
"""

import csv
import dataclasses
import io
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from whistle.crypto import CryptoError
from whistle.inbox import deadlines, sealing
from whistle.inbox.keyring import OfficeKeyring
from whistle.inbox.models import Case, Officer, PurgedCase
from whistle.inbox.workflow import case_labels

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
COLUMNS = (
    "reference",
    "case",
    "desk",
    "category",
    "identified",
    "received",
    "acknowledgement_due",
    "acknowledged",
    "acknowledgement_read",
    "acknowledgement_withheld",
    "investigation_opened",
    "concerned_informed",
    "concerned_heard",
    "feedback_due",
    "feedback_given",
    "feedback_read",
    "extended",
    "extended_on",
    "closed",
    "status",
    "outcome",
    "measures",
    "referred_to",
    "referred_on",
    "referral_immediate",
    "identity_disclosed_to",
    "meeting_requested",
    "meeting_offered",
    "assignee",
    "labels",
    "deletion_due",
    "purged",
)
_DATES = {
    "received",
    "acknowledgement_due",
    "acknowledged",
    "acknowledgement_read",
    "acknowledgement_withheld",
    "investigation_opened",
    "concerned_informed",
    "concerned_heard",
    "feedback_due",
    "feedback_given",
    "feedback_read",
    "extended_on",
    "closed",
    "referred_on",
    "meeting_requested",
    "meeting_offered",
    "deletion_due",
    "purged",
}
#: Kept as lists in the JSON of a purged line.
_LISTS = {"measures", "labels", "referred_to", "identity_disclosed_to"}


@dataclass(frozen=True)
class RegisterLine:
    #: The office's own reference (``2026-0042``); None for a case purged before the register
    #: kept it.
    reference: str | None
    case: str
    desk: str
    category: str | None
    #: None: not known (a case imported before the register kept it).
    identified: bool | None
    received: date
    acknowledgement_due: date
    #: The day the office's first message reached the server.
    acknowledged: date | None
    acknowledgement_read: date | None
    acknowledgement_withheld: date | None
    investigation_opened: date | None
    concerned_informed: date | None
    concerned_heard: date | None
    feedback_due: date
    #: The day the reply marked as feedback reached the server.
    feedback_given: date | None
    feedback_read: date | None
    extended: bool
    extended_on: date | None
    closed: date | None
    status: str
    outcome: str | None
    measures: list[str]
    referred_to: list[str]
    #: The first referral's day.
    referred_on: date | None
    referral_immediate: bool
    identity_disclosed_to: list[str]
    #: A meeting in person the reporter asked for (art. 7.2) and the day one was offered.
    meeting_requested: date | None
    meeting_offered: date | None
    assignee: str | None
    labels: list[str]
    #: The art. 32.4 deletion day (None once an investigation was opened).
    deletion_due: date | None
    purged: date | None


def case_line(
    session: Session,
    keyring: OfficeKeyring,
    case: Case,
    *,
    labels: list[str] | None = None,
    purged: date | None = None,
) -> RegisterLine:
    from whistle.inbox.steps import case_steps

    steps = case_steps(session, keyring, case)

    def first(kind: str) -> date | None:
        return next((s.day for s in steps if s.kind == kind), None)

    referrals = [s for s in steps if s.kind == "referral"]
    assignee = session.get(Officer, case.assignee_id) if case.assignee_id is not None else None
    return RegisterLine(
        reference=case.ref,
        case=case.id,
        desk=case.desk_id,
        category=case.category,
        identified=case.identified,
        received=case.received_day,
        acknowledgement_due=deadlines.acknowledgement_due(case.received_day),
        acknowledged=case.ack_delivered_day,
        acknowledgement_read=case.ack_read_day,
        acknowledgement_withheld=case.ack_withheld_day,
        investigation_opened=case.investigation_day,
        concerned_informed=first("concerned-informed"),
        concerned_heard=first("concerned-heard"),
        feedback_due=deadlines.feedback_due(case.received_day, case.extended),
        feedback_given=case.feedback_delivered_day,
        feedback_read=case.feedback_read_day,
        extended=case.extended,
        extended_on=case.extended_day,
        closed=case.closed_day,
        status=case.status,
        outcome=case.outcome,
        measures=[s.note or "?" for s in steps if s.kind == "measure"],
        referred_to=[s.recipient or "?" for s in referrals],
        referred_on=referrals[0].day if referrals else None,
        referral_immediate=any(s.immediate for s in referrals),
        identity_disclosed_to=[
            s.recipient or "?" for s in steps if s.kind == "third-party-disclosure"
        ],
        meeting_requested=case.meeting_requested_day,
        meeting_offered=case.meeting_offered_day,
        assignee=assignee.name if assignee is not None else None,
        labels=labels or [],
        deletion_due=(
            deadlines.deletion_due(case.received_day, case.deletion_postponed_to)
            if case.investigation_day is None
            else None
        ),
        purged=purged,
    )


def _plain(value: object) -> object:
    return value.isoformat() if isinstance(value, date) else value


def seal_line(keyring: OfficeKeyring, line: RegisterLine) -> bytes:
    """A purged case's line, without its labels, sealed to the storage key."""
    value = {c: _plain(getattr(line, c)) for c in COLUMNS if c != "labels"}
    return sealing.seal_json(keyring.storage_public, sealing.REGISTER, line.case, value)


def open_line(keyring: OfficeKeyring, case_id: str, blob: bytes) -> RegisterLine:
    raw = sealing.open_json(keyring.storage_secret, sealing.REGISTER, case_id, blob)
    values: dict[str, Any] = {}
    for c in COLUMNS:
        value = raw.get(c)
        if c in _DATES and value:
            value = date.fromisoformat(value)
        elif c in _LISTS:
            value = list(value or [])
        values[c] = value
    values["extended"] = bool(values["extended"])
    values["referral_immediate"] = bool(values["referral_immediate"])
    return RegisterLine(**values)


def _thin_line(gone: PurgedCase) -> RegisterLine:
    """What the register kept of a case purged before it kept whole lines."""
    return RegisterLine(
        reference=None,
        case=gone.case_id,
        desk=gone.desk_id,
        category=None,
        identified=None,
        received=gone.received_day,
        acknowledgement_due=deadlines.acknowledgement_due(gone.received_day),
        acknowledged=None,
        acknowledgement_read=None,
        acknowledgement_withheld=None,
        investigation_opened=None,
        concerned_informed=None,
        concerned_heard=None,
        feedback_due=deadlines.feedback_due(gone.received_day, False),
        feedback_given=None,
        feedback_read=None,
        extended=False,
        extended_on=None,
        closed=None,
        status=gone.status,
        outcome=gone.outcome,
        measures=[],
        referred_to=[],
        referred_on=None,
        referral_immediate=False,
        identity_disclosed_to=[],
        meeting_requested=None,
        meeting_offered=None,
        assignee=None,
        labels=[],
        deletion_due=None,
        purged=gone.purged_at.date(),
    )


def register_lines(
    session: Session, keyring: OfficeKeyring, cache: dict[Any, Any] | None = None
) -> list[RegisterLine]:
    lines = [
        case_line(session, keyring, case, labels=case_labels(keyring, case, cache))
        for case in session.scalars(select(Case))
    ]
    for gone in session.scalars(select(PurgedCase)):
        line = None
        if gone.register is not None:
            try:
                line = open_line(keyring, gone.case_id, gone.register)
            except (CryptoError, ValueError, TypeError, KeyError):
                line = None  # damaged: the thin line still says the case existed
        if line is None:
            line = _thin_line(gone)
        lines.append(dataclasses.replace(line, purged=gone.purged_at.date()))
    lines.sort(key=lambda line: (line.received, line.case))
    return lines


def escape_cell(value: str) -> str:
    """Neutralise spreadsheet formulas (CSV injection)."""
    return "'" + value if value.startswith(FORMULA_STARTS) else value


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, list):
        return escape_cell("; ".join(str(v) for v in value))
    return escape_cell(str(value))


def register_csv(lines: list[RegisterLine]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    for line in lines:
        writer.writerow([_cell(getattr(line, column)) for column in COLUMNS])
    return out.getvalue()
