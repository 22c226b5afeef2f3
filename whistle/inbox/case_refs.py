"""The office's own case references (``2026-0042``), numbered in the inbox.

The server's case id is random hex that nobody can say over the phone; the reference is what
officers write in a file or a letter. It is numbered here, in arrival order within the year
the server received the case, and never leaves the inbox (the server and the source keep the
random id, so the reference says nothing about how many cases the office has).
"""

import re

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from whistle.inbox.models import Case
from whistle.inbox.models.case import format_ref

__all__ = ["format_ref", "next_number", "parse_ref"]

_REF = re.compile(r"\s*(\d{4})\s*[-/]\s*0*(\d{1,9})\s*")


def next_number(session: Session, year: int) -> int:
    """The number the next case received in ``year`` gets (the caller holds the write lock
    of the import transaction, so two imports cannot take the same one)."""
    highest = session.scalar(select(func.max(Case.ref_number)).where(Case.ref_year == year))
    return (highest or 0) + 1


def parse_ref(text: str) -> tuple[int, int] | None:
    """``(year, number)`` when ``text`` is a reference as officers type it (``2026-42``,
    ``2026-0042``, ``2026/0042``), else None."""
    match = _REF.fullmatch(text)
    return (int(match[1]), int(match[2])) if match else None
