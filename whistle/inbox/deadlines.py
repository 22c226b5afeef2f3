"""The legal clocks of a case, as a pure function of its dates (docs/officer-guide.md).

Calendar days in the office's time zone, counted from the day the server received the report
(``received_day``, already a day in that zone):

- acknowledgement within 7 days (art. 9.2.c): met the day a message of the office reached the
  server (where the source reads it), or the day it was withheld with a recorded reason;
- feedback within 3 months (art. 9.2.d): met the day a reply the officer marked as feedback
  reached the server; once extended, 3 more months counted from the first deadline (so
  30 Nov → 28 Feb → 28 May, never receipt + 6 months, which gives 30 May);
- a closed case stops both clocks (``STOPPED``): nothing is due to the source any more;
- when no investigation was opened, deletion due 3 months after receipt (art. 32.4), unless
  an officer postponed it with a recorded reason;
- records kept at most 10 years (the retention cap, art. 26).

Nothing here reads the clock or the database: callers pass ``today`` (see ``office_today``),
so tests use fixed dates.
"""

import calendar
import functools
from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

ACKNOWLEDGE_DAYS = 7
#: A meeting the source asked for is offered within this many days (Directive art. 9(2) says
#: "within a reasonable timeframe"; 7 days as the A.A.I.'s guidance is read ⚠).
MEETING_DAYS = 7
FEEDBACK_MONTHS = 3
EXTENSION_MONTHS = 3
DELETION_MONTHS = 3
RETENTION_YEARS = 10
#: A deadline this close (days) is "due soon" on the dashboard.
SOON_DAYS = 3

ACKNOWLEDGEMENT = "acknowledgement"
FEEDBACK = "feedback"
DELETION = "deletion"
MEETING = "meeting"
RETENTION = "retention"

MET = "met"
PENDING = "pending"
SOON = "soon"
TODAY = "today"
OVERDUE = "overdue"
#: The case was closed before the clock was met: it no longer runs.
STOPPED = "stopped"
#: Sort order on the dashboard: the most urgent first.
URGENCY = (OVERDUE, TODAY, SOON, PENDING, MET, STOPPED)
#: Days before a deletion falls due that the dashboard warns of it.
DELETION_WARNING_DAYS = 14


def office_today(now: datetime, time_zone: str) -> date:
    """Today in the office's time zone (``now`` must be aware)."""
    if now.tzinfo is None:
        raise ValueError("now must be an aware datetime")
    return now.astimezone(ZoneInfo(time_zone)).date()


@functools.lru_cache(maxsize=65536)
def add_months(day: date, months: int) -> date:
    """The same day ``months`` later; the last day of the month when it has no such day."""
    month_index = day.month - 1 + months
    year = day.year + month_index // 12
    month = month_index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def add_working_days(day: date, count: int) -> date:
    """``count`` working days after ``day``, Monday to Friday. Public holidays are not known
    here, so they count as working days: the date shown is never later than the law's."""
    current = day
    while count > 0:
        current = date.fromordinal(current.toordinal() + 1)
        if current.weekday() < 5:
            count -= 1
    return current


@dataclass(frozen=True)
class CaseDates:
    """What the clocks need to know of a case (all days in the office's time zone)."""

    received: date
    #: The day a message of the office (the acknowledgement or any reply) reached the server.
    acknowledged: date | None = None
    investigation_opened: date | None = None
    #: The day a reply marked as feedback reached the server.
    feedback_given: date | None = None
    closed: date | None = None
    extended: bool = False
    purged: bool = False
    #: The acknowledgement was withheld (art. 9.2.c) with a recorded reason, on this day.
    acknowledgement_withheld: date | None = None
    #: An officer postponed the deletion (with a recorded reason) until this day.
    deletion_postponed: date | None = None
    meeting_requested: date | None = None
    meeting_offered: date | None = None


@dataclass(frozen=True)
class Deadline:
    kind: str
    due: date
    state: str
    #: Days left (negative: days late); None once met.
    days_left: int | None


def _state(
    due: date, met: date | None, today: date, stopped: date | None = None
) -> tuple[str, int | None]:
    if met is not None:
        return MET, None
    if stopped is not None:
        return STOPPED, None
    left = (due - today).days
    if left < 0:
        return OVERDUE, left
    if left == 0:
        return TODAY, 0
    if left <= SOON_DAYS:
        return SOON, left
    return PENDING, left


def acknowledgement_due(received: date) -> date:
    return date.fromordinal(received.toordinal() + ACKNOWLEDGE_DAYS)


def feedback_due(received: date, extended: bool) -> date:
    """3 months from receipt; once extended, 3 more from that first deadline."""
    first = add_months(received, FEEDBACK_MONTHS)
    return add_months(first, EXTENSION_MONTHS) if extended else first


def deletion_due(received: date, postponed: date | None = None) -> date:
    due = add_months(received, DELETION_MONTHS)
    return max(due, postponed) if postponed is not None else due


def retention_end(received: date) -> date:
    return add_months(received, 12 * RETENTION_YEARS)


def case_deadlines(dates: CaseDates, today: date) -> list[Deadline]:
    """Every clock of the case with its state on ``today``, the most urgent first."""
    return list(_case_deadlines(dates, today))


@functools.lru_cache(maxsize=65536)
def _case_deadlines(dates: CaseDates, today: date) -> tuple[Deadline, ...]:
    # Pure, so memoised: the dashboard asks again for every case at each visit.
    if dates.purged:
        return ()
    found: list[Deadline] = []
    due = acknowledgement_due(dates.received)
    acknowledged = dates.acknowledged or dates.acknowledgement_withheld
    found.append(Deadline(ACKNOWLEDGEMENT, due, *_state(due, acknowledged, today, dates.closed)))
    due = feedback_due(dates.received, dates.extended)
    found.append(Deadline(FEEDBACK, due, *_state(due, dates.feedback_given, today, dates.closed)))
    if dates.meeting_requested is not None:
        due = date.fromordinal(dates.meeting_requested.toordinal() + MEETING_DAYS)
        found.append(
            Deadline(MEETING, due, *_state(due, dates.meeting_offered, today, dates.closed))
        )
    if dates.investigation_opened is None:
        # No investigation was opened: the data must go 3 months after receipt.
        due = deletion_due(dates.received, dates.deletion_postponed)
        found.append(Deadline(DELETION, due, *_state(due, None, today)))
    due = retention_end(dates.received)
    found.append(Deadline(RETENTION, due, *_state(due, None, today)))
    found.sort(key=lambda d: (URGENCY.index(d.state), d.due))
    return tuple(found)


def most_urgent(deadlines: list[Deadline]) -> Deadline | None:
    """The deadline the dashboard shows first for a case (None when all are met)."""
    open_ones = [d for d in deadlines if d.state not in (MET, STOPPED)]
    return open_ones[0] if open_ones else None


def is_overdue(deadlines: list[Deadline]) -> bool:
    return any(d.state == OVERDUE for d in deadlines)


def deletion_is_due(dates: CaseDates, today: date) -> bool:
    """True when the case must be purged: no investigation after 3 months (or the recorded
    postponement), or 10 years."""
    if dates.purged:
        return False
    if today >= retention_end(dates.received):
        return True
    no_investigation = dates.investigation_opened is None
    return no_investigation and today >= deletion_due(dates.received, dates.deletion_postponed)


def deletion_warning(dates: CaseDates, today: date) -> date | None:
    """The deletion day when it falls within ``DELETION_WARNING_DAYS`` (and is not yet due)."""
    if dates.purged or dates.investigation_opened is not None:
        return None
    due = deletion_due(dates.received, dates.deletion_postponed)
    return due if 0 < (due - today).days <= DELETION_WARNING_DAYS else None


def extension_refusal(dates: CaseDates, today: date) -> str | None:
    """Why the feedback deadline cannot be extended today (None: it can).

    Once, before the first deadline has passed, while the feedback is still owed (art. 9.2.d
    allows the extension "en casos de especial complejidad", not a late one).
    """
    if dates.extended:
        return "already-extended"
    if dates.closed is not None:
        return "closed"
    if dates.feedback_given is not None:
        return "met"
    if today > feedback_due(dates.received, False):
        return "too-late"
    return None


@functools.lru_cache(maxsize=65536)
def urgency(dates: CaseDates, today: date) -> tuple[Deadline | None, bool]:
    """The most urgent open deadline and whether deletion is due, memoised (the dashboard
    asks this for every case at every visit)."""
    return most_urgent(case_deadlines(dates, today)), deletion_is_due(dates, today)
