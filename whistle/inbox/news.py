"""What is new for an officer: new cases, follow-ups since they last opened a case, replies
the source has read since then.

Computed from plaintext columns only (no decryption), in three grouped queries whatever the
number of cases, so the dashboard and the case list can show it for every case.
"""

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
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
    seen = {
        case_id: (at, read)
        for case_id, at, read in session.execute(
            select(CaseSeen.case_id, CaseSeen.seen_at, CaseSeen.replies_read).where(
                CaseSeen.officer_id == officer_id
            )
        )
    }
    followups = select(Record.case_id, Record.imported_at).where(Record.kind == "followup")
    read = (
        select(Reply.case_id, func.count())
        .where(Reply.read_day.is_not(None))
        .group_by(Reply.case_id)
    )
    if case_ids is not None:
        followups = followups.where(Record.case_id.in_(case_ids))
        read = read.where(Reply.case_id.in_(case_ids))
    unread: dict[str, int] = {}
    for case_id, imported in session.execute(followups):
        last = seen.get(case_id)
        if last is None or imported > last[0]:
            unread[case_id] = unread.get(case_id, 0) + 1
    read_now = {case_id: n for case_id, n in session.execute(read)}
    already = {case_id: n for case_id, (_, n) in seen.items()}
    found: dict[str, CaseNews] = {}
    for case_id in unread.keys() | read_now.keys():
        item = CaseNews(
            unread.get(case_id, 0), max(0, read_now.get(case_id, 0) - already.get(case_id, 0))
        )
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
