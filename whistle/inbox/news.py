"""What is new for an officer: new cases, follow-ups since they last opened a case, replies
the source has read since then.

Computed from plaintext columns only (no decryption), in three grouped queries whatever the
number of cases, so the dashboard and the case list can show it for every case.
"""

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from whistle.inbox.models import STATUS_NEW, CaseSeen, Record, Reply


@dataclass(frozen=True)
class CaseNews:
    #: Follow-ups from the source imported after the officer last opened the case.
    unread: int = 0
    #: Replies of the office the source has read since the officer last opened the case.
    read_replies: int = 0

    def __bool__(self) -> bool:
        return bool(self.unread or self.read_replies)


#: Nothing new (shared: the dashboard asks for every case).
NOTHING = CaseNews()


def is_new(status: str) -> bool:
    """A case waits for its first look and acknowledgement while its status is "new"."""
    return status == STATUS_NEW


def news(
    session: Session, officer_id: int, case_ids: Collection[str] | None = None
) -> dict[str, CaseNews]:
    """Per case with something new for ``officer_id``; cases with nothing new are absent.

    ``case_ids`` limits the work to those cases (a page of the list); None means every case.
    """
    seen = (
        select(CaseSeen.case_id, CaseSeen.seen_at, CaseSeen.replies_read)
        .where(CaseSeen.officer_id == officer_id)
        .subquery()
    )
    # Counted by the database: thousands of follow-ups are not read back one by one. Both
    # times are written by the same DateTime column type, so they compare as stored.
    followups = (
        select(Record.case_id, func.count())
        .outerjoin(seen, seen.c.case_id == Record.case_id)
        .where(
            Record.kind == "followup",
            or_(seen.c.seen_at.is_(None), Record.imported_at > seen.c.seen_at),
        )
        .group_by(Record.case_id)
    )
    read = (
        select(Reply.case_id, func.count(), func.max(seen.c.replies_read))
        .outerjoin(seen, seen.c.case_id == Reply.case_id)
        .where(Reply.read_day.is_not(None))
        .group_by(Reply.case_id)
    )
    if case_ids is not None:
        followups = followups.where(Record.case_id.in_(case_ids))
        read = read.where(Reply.case_id.in_(case_ids))
    unread = {case_id: n for case_id, n in session.execute(followups)}
    read_since = {case_id: n - (already or 0) for case_id, n, already in session.execute(read)}
    found: dict[str, CaseNews] = {}
    for case_id in unread.keys() | read_since.keys():
        item = CaseNews(unread.get(case_id, 0), max(0, read_since.get(case_id, 0)))
        if item:
            found[case_id] = item
    return found


def mark_seen(session: Session, officer_id: int, case_id: str, *, now: datetime) -> None:
    """The officer opened the case: what is in it now is no longer new to them."""
    read = session.scalar(
        select(func.count()).where(Reply.case_id == case_id, Reply.read_day.is_not(None))
    )
    row = session.get(CaseSeen, (officer_id, case_id))
    if row is None:
        row = CaseSeen(officer_id=officer_id, case_id=case_id)
        session.add(row)
    row.seen_at = now.replace(tzinfo=None)
    row.replies_read = read or 0
