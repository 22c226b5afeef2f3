"""The register (libro-registro): one line per case, purged cases included; CSV and a page.

No report content: dates, desk, state, outcome, extension, assignee, labels (decrypted, they
are the officers' own words) and the legal deadlines. Every CSV cell that a spreadsheet could
take for a formula (starting with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return) is
prefixed with a single quote.
"""

import csv
import io
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from whistle.inbox import deadlines
from whistle.inbox.keyring import OfficeKeyring
from whistle.inbox.models import Case, Officer, PurgedCase
from whistle.inbox.workflow import case_labels

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
COLUMNS = (
    "case",
    "desk",
    "received",
    "acknowledgement_due",
    "acknowledged",
    "investigation_opened",
    "feedback_due",
    "feedback_given",
    "extended",
    "closed",
    "status",
    "outcome",
    "assignee",
    "labels",
    "purged",
)


@dataclass(frozen=True)
class RegisterLine:
    case: str
    desk: str
    received: date
    acknowledgement_due: date
    acknowledged: date | None
    investigation_opened: date | None
    feedback_due: date
    feedback_given: date | None
    extended: bool
    closed: date | None
    status: str
    outcome: str | None
    assignee: str | None
    labels: list[str]
    purged: date | None


def register_lines(
    session: Session, keyring: OfficeKeyring, cache: dict[Any, Any] | None = None
) -> list[RegisterLine]:
    names = {oid: name for oid, name in session.execute(select(Officer.id, Officer.name))}
    lines: list[RegisterLine] = []
    for case in session.scalars(select(Case)):
        lines.append(
            RegisterLine(
                case=case.id,
                desk=case.desk_id,
                received=case.received_day,
                acknowledgement_due=deadlines.acknowledgement_due(case.received_day),
                acknowledged=case.acknowledged_day,
                investigation_opened=case.investigation_day,
                feedback_due=deadlines.feedback_due(case.received_day, case.extended),
                feedback_given=case.feedback_day,
                extended=case.extended,
                closed=case.closed_day,
                status=case.status,
                outcome=case.outcome,
                assignee=names.get(case.assignee_id) if case.assignee_id is not None else None,
                labels=case_labels(keyring, case, cache),
                purged=None,
            )
        )
    for gone in session.scalars(select(PurgedCase)):
        lines.append(
            RegisterLine(
                case=gone.case_id,
                desk=gone.desk_id,
                received=gone.received_day,
                acknowledgement_due=deadlines.acknowledgement_due(gone.received_day),
                acknowledged=None,
                investigation_opened=None,
                feedback_due=deadlines.feedback_due(gone.received_day, False),
                feedback_given=None,
                extended=False,
                closed=None,
                status=gone.status,
                outcome=gone.outcome,
                assignee=None,
                labels=[],
                purged=gone.purged_at.date(),
            )
        )
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
