"""The dashboard: what is due and overdue first, computed from plaintext dates only.

Deadlines are worked out for every case from the dates in the database (no decryption), the
cases with an open clock that is overdue, due today or due soon come first (then cases whose
deletion is due), and only the rows shown have their subjects decrypted.
"""

from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from whistle.crypto import CryptoError
from whistle.inbox import compartments, deadlines
from whistle.inbox.errors import UnreadableRecordError
from whistle.inbox.keyring import OfficeKeyring
from whistle.inbox.models import Case, Officer, Record
from whistle.inbox.store import Cache, record_meta
from whistle.inbox.workflow import CASE_COLUMNS, case_dates

ATTENTION = (deadlines.OVERDUE, deadlines.TODAY, deadlines.SOON)


@dataclass(frozen=True)
class DashboardRow:
    case_id: str
    status: str
    received: date
    assignee: str | None
    deadline: deadlines.Deadline
    deletion_due: bool
    subject: str | None


@dataclass(frozen=True)
class Dashboard:
    rows: list[DashboardRow]
    total_attention: int
    counts: dict[str, int]


def dashboard(
    session: Session,
    keyring: OfficeKeyring,
    *,
    today: date,
    limit: int = 50,
    cache: Cache | None = None,
    assignee: int | None = None,
) -> Dashboard:
    from whistle.inbox.cases import subject_of

    query = select(*CASE_COLUMNS)
    if assignee is not None:
        query = query.where(Case.assignee_id == assignee)
    names = {oid: name for oid, name in session.execute(select(Officer.id, Officer.name))}
    found: list[tuple[tuple[int, date, str], Any, deadlines.Deadline, bool]] = []
    counts = dict.fromkeys(ATTENTION, 0)
    counts["deletion"] = 0
    mine = compartments.readable(session, keyring, cache)  # only cases this officer's keys open
    for case in session.execute(query):
        if mine is not None and case.id not in mine:
            continue
        urgent, deletion = deadlines.urgency(case_dates(case), today)
        if deletion:
            counts["deletion"] += 1
        if urgent is None or (urgent.state not in ATTENTION and not deletion):
            continue
        if urgent.state in ATTENTION:
            counts[urgent.state] += 1
        rank = deadlines.URGENCY.index(urgent.state) if urgent.state in ATTENTION else 3
        found.append(((rank, urgent.due, case.id), case, urgent, deletion))
    found.sort(key=lambda item: item[0])
    shown = found[:limit]
    submissions = {
        r.case_id: r
        for r in session.scalars(
            select(Record).where(
                Record.kind == "submission", Record.case_id.in_([c.id for _, c, _, _ in shown])
            )
        )
    }
    rows: list[DashboardRow] = []
    for _, case, urgent, deletion in shown:
        subject: str | None = None
        record = submissions.get(case.id)
        if record is not None:
            try:
                subject = subject_of(record_meta(keyring, record, cache).get("form") or {})
            except (UnreadableRecordError, CryptoError):  # shown without a subject
                subject = None
        rows.append(
            DashboardRow(
                case.id,
                case.status,
                case.received_day,
                names.get(case.assignee_id) if case.assignee_id is not None else None,
                urgent,
                deletion,
                subject,
            )
        )
    return Dashboard(rows, len(found), counts)
