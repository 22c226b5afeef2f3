"""The legal clocks, with injected dates (no clock, no database)."""

from datetime import UTC, date, datetime

import pytest

from whistle.inbox import deadlines as d


def kinds(found: list[d.Deadline]) -> dict[str, d.Deadline]:
    return {x.kind: x for x in found}


def test_acknowledgement_is_seven_calendar_days() -> None:
    assert d.acknowledgement_due(date(2026, 12, 28)) == date(2027, 1, 4)


@pytest.mark.parametrize(
    ("received", "months", "expected"),
    [
        (date(2026, 1, 15), 3, date(2026, 4, 15)),
        (date(2026, 11, 30), 3, date(2027, 2, 28)),
        (date(2027, 11, 30), 3, date(2028, 2, 29)),  # leap year
        (date(2026, 8, 31), 1, date(2026, 9, 30)),
        (date(2026, 1, 1), 120, date(2036, 1, 1)),
    ],
)
def test_add_months_clamps_to_the_month_end(received: date, months: int, expected: date) -> None:
    assert d.add_months(received, months) == expected


def test_a_new_case_runs_every_clock() -> None:
    found = kinds(d.case_deadlines(d.CaseDates(received=date(2026, 11, 1)), date(2026, 11, 3)))
    assert found[d.ACKNOWLEDGEMENT].due == date(2026, 11, 8)
    assert found[d.ACKNOWLEDGEMENT].state == d.PENDING
    assert found[d.ACKNOWLEDGEMENT].days_left == 5
    assert found[d.FEEDBACK].due == date(2027, 2, 1)
    assert found[d.DELETION].due == date(2027, 2, 1)
    assert found[d.RETENTION].due == date(2036, 11, 1)


@pytest.mark.parametrize(
    ("today", "state"),
    [
        (date(2026, 11, 4), d.PENDING),
        (date(2026, 11, 5), d.SOON),
        (date(2026, 11, 8), d.TODAY),
        (date(2026, 11, 9), d.OVERDUE),
    ],
)
def test_acknowledgement_states(today: date, state: str) -> None:
    found = d.case_deadlines(d.CaseDates(received=date(2026, 11, 1)), today)
    assert kinds(found)[d.ACKNOWLEDGEMENT].state == state


def test_overdue_comes_first() -> None:
    found = d.case_deadlines(d.CaseDates(received=date(2026, 11, 1)), date(2026, 11, 20))
    assert found[0].kind == d.ACKNOWLEDGEMENT
    assert found[0].state == d.OVERDUE
    assert found[0].days_left == -12
    assert d.is_overdue(found)
    assert d.most_urgent(found) == found[0]


def test_acknowledged_and_investigating_drops_the_deletion_clock() -> None:
    dates = d.CaseDates(
        received=date(2026, 11, 1),
        acknowledged=date(2026, 11, 2),
        investigation_opened=date(2026, 11, 10),
    )
    found = kinds(d.case_deadlines(dates, date(2027, 3, 1)))
    assert found[d.ACKNOWLEDGEMENT].state == d.MET
    assert d.DELETION not in found
    assert found[d.FEEDBACK].state == d.OVERDUE
    assert not d.deletion_is_due(dates, date(2027, 3, 1))


def test_extension_adds_three_months() -> None:
    dates = d.CaseDates(
        received=date(2026, 11, 1),
        acknowledged=date(2026, 11, 2),
        investigation_opened=date(2026, 11, 10),
        extended=True,
    )
    found = kinds(d.case_deadlines(dates, date(2027, 3, 1)))
    assert found[d.FEEDBACK].due == date(2027, 5, 1)  # 1 Feb + 3 months
    assert found[d.FEEDBACK].state == d.PENDING


def test_closing_stops_the_clocks_but_does_not_meet_them() -> None:
    """A case closed as inadmissible is not "93 days late", nor is its feedback "met"."""
    dates = d.CaseDates(received=date(2026, 11, 1), closed=date(2026, 11, 3))
    found = kinds(d.case_deadlines(dates, date(2027, 6, 1)))
    assert found[d.FEEDBACK].state == d.STOPPED
    assert found[d.ACKNOWLEDGEMENT].state == d.STOPPED
    assert not d.is_overdue([found[d.FEEDBACK], found[d.ACKNOWLEDGEMENT]])
    # ...while the deletion clock runs on: the data of a closed case must still go.
    assert d.deletion_is_due(dates, date(2027, 2, 1))


def test_a_clock_met_before_closing_stays_met() -> None:
    dates = d.CaseDates(
        received=date(2026, 11, 1),
        acknowledged=date(2026, 11, 2),
        feedback_given=date(2026, 12, 1),
        closed=date(2026, 12, 2),
    )
    found = kinds(d.case_deadlines(dates, date(2027, 6, 1)))
    assert found[d.FEEDBACK].state == d.MET
    assert found[d.ACKNOWLEDGEMENT].state == d.MET


def test_a_withheld_acknowledgement_meets_its_clock() -> None:
    dates = d.CaseDates(received=date(2026, 11, 1), acknowledgement_withheld=date(2026, 11, 8))
    assert kinds(d.case_deadlines(dates, date(2026, 11, 20)))[d.ACKNOWLEDGEMENT].state == d.MET


@pytest.mark.parametrize(
    ("received", "first", "extended"),
    [
        # 3 + 3 months, not receipt + 6: the review's cases, off by 1-2 days before.
        (date(2024, 11, 30), date(2025, 2, 28), date(2025, 5, 28)),
        (date(2024, 11, 29), date(2025, 2, 28), date(2025, 5, 28)),
        (date(2027, 11, 30), date(2028, 2, 29), date(2028, 5, 29)),  # leap year
        (date(2026, 1, 31), date(2026, 4, 30), date(2026, 7, 30)),
        (date(2026, 8, 31), date(2026, 11, 30), date(2027, 2, 28)),  # across the year
        (date(2026, 12, 31), date(2027, 3, 31), date(2027, 6, 30)),
        (date(2026, 1, 15), date(2026, 4, 15), date(2026, 7, 15)),
    ],
)
def test_extension_is_three_months_after_the_first_deadline(
    received: date, first: date, extended: date
) -> None:
    assert d.feedback_due(received, False) == first
    assert d.feedback_due(received, True) == extended


@pytest.mark.parametrize(
    ("dates", "today", "why"),
    [
        (d.CaseDates(received=date(2026, 11, 30)), date(2027, 2, 28), None),  # on the due day
        (d.CaseDates(received=date(2026, 11, 30)), date(2027, 3, 1), "too-late"),
        (
            d.CaseDates(received=date(2026, 11, 30), extended=True),
            date(2026, 12, 1),
            "already-extended",
        ),
        (
            d.CaseDates(received=date(2026, 11, 30), closed=date(2026, 12, 1)),
            date(2026, 12, 1),
            "closed",
        ),
        (
            d.CaseDates(received=date(2026, 11, 30), feedback_given=date(2026, 12, 1)),
            date(2026, 12, 2),
            "met",
        ),
    ],
)
def test_extension_only_once_before_the_first_deadline_and_while_owed(
    dates: d.CaseDates, today: date, why: str | None
) -> None:
    assert d.extension_refusal(dates, today) == why


def test_a_postponed_deletion_falls_due_on_the_new_day() -> None:
    dates = d.CaseDates(received=date(2026, 11, 1), deletion_postponed=date(2027, 3, 1))
    assert not d.deletion_is_due(dates, date(2027, 2, 28))
    assert d.deletion_is_due(dates, date(2027, 3, 1))
    # Warned of two weeks before, not earlier, and not once due.
    assert d.deletion_warning(dates, date(2027, 2, 14)) is None
    assert d.deletion_warning(dates, date(2027, 2, 15)) == date(2027, 3, 1)
    assert d.deletion_warning(dates, date(2027, 3, 1)) is None


def test_deletion_due_at_three_months_without_investigation() -> None:
    dates = d.CaseDates(received=date(2026, 11, 1), acknowledged=date(2026, 11, 2))
    assert not d.deletion_is_due(dates, date(2027, 1, 31))
    assert d.deletion_is_due(dates, date(2027, 2, 1))
    closed = d.CaseDates(received=date(2026, 11, 1), closed=date(2026, 11, 5))
    assert d.deletion_is_due(closed, date(2027, 2, 1))


def test_retention_cap_applies_even_after_an_investigation() -> None:
    dates = d.CaseDates(received=date(2026, 11, 1), investigation_opened=date(2026, 11, 2))
    assert not d.deletion_is_due(dates, date(2036, 10, 31))
    assert d.deletion_is_due(dates, date(2036, 11, 1))


def test_a_purged_case_has_no_clocks() -> None:
    dates = d.CaseDates(received=date(2020, 1, 1), purged=True)
    assert d.case_deadlines(dates, date(2030, 1, 1)) == []
    assert not d.deletion_is_due(dates, date(2030, 1, 1))


def test_today_is_the_office_day() -> None:
    late_utc = datetime(2026, 11, 1, 23, 30, tzinfo=UTC)
    assert d.office_today(late_utc, "Europe/Madrid") == date(2026, 11, 2)
    assert d.office_today(late_utc, "UTC") == date(2026, 11, 1)
    with pytest.raises(ValueError, match="aware"):
        d.office_today(datetime(2026, 11, 1), "UTC")


@pytest.mark.parametrize(
    ("requested", "due"),
    [
        (date(2026, 12, 28), date(2027, 1, 4)),  # across the year
        (date(2028, 2, 25), date(2028, 3, 3)),  # across a leap day
        (date(2027, 2, 25), date(2027, 3, 4)),
    ],
)
def test_a_meeting_request_has_its_own_clock(requested: date, due: date) -> None:
    dates = d.CaseDates(received=date(2026, 11, 1), meeting_requested=requested)
    meeting = kinds(d.case_deadlines(dates, requested))[d.MEETING]
    assert (meeting.due, meeting.state) == (due, d.PENDING)
    late = date.fromordinal(due.toordinal() + 1)
    assert kinds(d.case_deadlines(dates, late))[d.MEETING].state == d.OVERDUE
    offered = d.CaseDates(
        received=date(2026, 11, 1), meeting_requested=requested, meeting_offered=due
    )
    assert kinds(d.case_deadlines(offered, late))[d.MEETING].state == d.MET
    assert d.MEETING not in kinds(d.case_deadlines(d.CaseDates(date(2026, 11, 1)), late))
