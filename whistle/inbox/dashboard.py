"""The dashboard: everything that waits for an officer, computed from plaintext columns only.

A case waits when one of its legal clocks is overdue, due today or due soon, when it is new
(not yet acknowledged), when the source wrote since this officer last opened it, when the
source read a reply since then, or when its deletion is due. Clocks come first (most urgent
first), then new cases, then news, then deletions; only the rows shown have their subjects
decrypted. "Nothing is due" is said only when nothing at all waits (``Dashboard.waiting``).
"""

import functools
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from whistle.crypto import CryptoError
from whistle.inbox import compartments, db, deadlines, news
from whistle.inbox.errors import CaseLockedError, UnreadableRecordError
from whistle.inbox.keyring import OfficeKeyring
from whistle.inbox.models import STATUS_NEW, Case, Officer, Record
from whistle.inbox.models.case import format_ref
from whistle.inbox.store import Cache, open_record_meta
from whistle.inbox.workflow import CASE_COLUMNS, CLOCK_COLUMNS, clock_dates

ATTENTION = (deadlines.OVERDUE, deadlines.TODAY, deadlines.SOON)
#: The dashboard's counters, in the order they are shown.
COUNTERS = (*ATTENTION, "new", "unread", "read_replies", "deletion")


@dataclass(frozen=True)
class DashboardRow:
    case_id: str
    ref: str
    desk_id: str
    status: str
    received: date
    assignee: str | None
    #: The most urgent clock, or None when the case waits for another reason.
    deadline: deadlines.Deadline | None
    deletion_due: bool
    subject: str | None
    new: bool = False
    fresh: news.CaseNews = field(default_factory=news.CaseNews)


@dataclass(frozen=True)
class Dashboard:
    rows: list[DashboardRow]
    #: Cases that wait, all of them (``rows`` holds the first ``limit``).
    total_attention: int
    #: Per counter of ``COUNTERS``: cases (for "unread" and "read_replies": messages).
    counts: dict[str, int]

    @property
    def waiting(self) -> bool:
        return self.total_attention > 0


@functools.lru_cache(maxsize=65536)
def _urgency(clocks: tuple[Any, ...], today: date) -> tuple[deadlines.Deadline | None, bool]:
    """``deadlines.urgency`` of a row's ``CLOCK_COLUMNS``, remembered by the plain values
    (10,000 cases at every visit: cheaper than a ``CaseDates`` for each)."""
    return deadlines.urgency(clock_dates(clocks), today)


def dashboard(
    session: Session,
    keyring: OfficeKeyring,
    *,
    today: date,
    officer_id: int | None = None,
    limit: int = 50,
    cache: Cache | None = None,
    assignee: int | None = None,
    desk: str | None = None,
) -> Dashboard:
    """What waits, for ``officer_id`` (whose "last opened" days say what is news to them)."""
    from whistle.inbox.cases import subject_of

    query = select(*CASE_COLUMNS, *CLOCK_COLUMNS)
    if assignee is not None:
        query = query.where(Case.assignee_id == assignee)
    if desk is not None:
        query = query.where(Case.desk_id == desk)
    names = {oid: name for oid, name in session.execute(select(Officer.id, Officer.name))}
    fresh = news.news(session, officer_id) if officer_id is not None else {}
    found: list[tuple[tuple[int, date, str], Any, deadlines.Deadline | None, bool]] = []
    counts = dict.fromkeys(COUNTERS, 0)
    mine = compartments.readable(session, keyring, cache)  # only cases this officer's keys open
    clocks = len(CASE_COLUMNS)
    for case in db.rows(session, query):
        if mine is not None and case.id not in mine:
            continue
        urgent, deletion = _urgency(case[clocks:], today)
        item = fresh.get(case.id, news.NOTHING)
        new = case.status == STATUS_NEW
        counts["deletion"] += deletion
        counts["new"] += new
        if item is not news.NOTHING:
            counts["unread"] += item.unread
            counts["read_replies"] += item.read_replies
        pressing = urgent if urgent is not None and urgent.state in ATTENTION else None
        if pressing is not None:
            counts[pressing.state] += 1
            rank = deadlines.URGENCY.index(pressing.state)
        elif new:
            rank = 3
        elif item:
            rank = 4
        elif deletion:
            rank = 5
        else:
            continue
        due = urgent.due if urgent is not None else case.received_day
        found.append(((rank, due, case.id), case, pressing, deletion))
    found.sort(key=lambda entry: entry[0])
    shown = found[:limit]
    submissions = {
        r.case_id: r
        for r in session.scalars(
            select(Record).where(
                Record.kind == "submission", Record.case_id.in_([c.id for _, c, _, _ in shown])
            )
        )
    }
    # The shown cases' keys opened together (a few queries), not case by case.
    keys = compartments.case_keys(session, keyring, list(submissions), cache)
    rows: list[DashboardRow] = []
    for _, case, urgent, deletion in shown:
        subject: str | None = None
        record = submissions.get(case.id)
        if record is not None:
            if case.id not in keys:  # refused by key, as ``record_meta`` would
                raise CaseLockedError(compartments.LOCKED)
            try:
                meta = open_record_meta(keys[case.id], record, cache)
                subject = subject_of(meta.get("form") or {})
            except (UnreadableRecordError, CryptoError):  # shown without a subject
                subject = None
        rows.append(
            DashboardRow(
                case.id,
                format_ref(case.ref_year, case.ref_number),
                case.desk_id,
                case.status,
                case.received_day,
                names.get(case.assignee_id) if case.assignee_id is not None else None,
                urgent,
                deletion,
                subject,
                news.is_new(case.status),
                fresh.get(case.id, news.NOTHING),
            )
        )
    return Dashboard(rows, len(found), counts)
