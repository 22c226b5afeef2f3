"""Statistics for the annual report, and their SVG chart drawn on the server (no JS).

Counts below ``SUPPRESS_BELOW`` (5) are suppressed everywhere — shown as "<5" and not drawn —
so a small number cannot point at a person; so are averages computed over fewer cases.
"""

from collections import Counter
from dataclasses import dataclass
from statistics import median
from typing import Any
from xml.sax.saxutils import escape

from sqlalchemy import select
from sqlalchemy.orm import Session

from whistle.inbox.models import STATUSES, Case, PurgedCase

SUPPRESS_BELOW = 5
COLOURS = {
    "new": "#1f4e79",
    "acknowledged": "#7a4f01",
    "investigating": "#5b2a86",
    "closed": "#1e5631",
}


#: The periods the statistics can be counted by, finest first.
PERIODS = ("month", "quarter", "year")


@dataclass(frozen=True)
class Statistics:
    #: The periods' labels (``2026-11``, ``2026-Q4`` or ``2026``, see ``period``).
    months: list[str]
    #: (period, status) → count, already suppressed (None: fewer than 5).
    by_month: dict[tuple[str, str], int | None]
    by_status: dict[str, int | None]
    by_outcome: dict[str, int | None]
    days_to_acknowledge: float | None
    days_to_close: float | None
    purged: int | None
    total: int | None
    #: What ``months`` counts by: the finest of ``PERIODS`` in which most counts show.
    period: str = "month"


def period_label(day: Any, period: str) -> str:
    if period == "month":
        return str(day.strftime("%Y-%m"))
    if period == "quarter":
        return f"{day.year}-Q{(day.month - 1) // 3 + 1}"
    return str(day.year)


def _readable_period(cases: list[Any]) -> str:
    """The finest period in which at most half the non-empty cells fall below the threshold:
    a small office sees quarters or years instead of a table of "<5"."""
    for period in PERIODS:
        cells = Counter((period_label(c.received_day, period), c.status) for c in cases)
        hidden = sum(1 for n in cells.values() if n < SUPPRESS_BELOW)
        if hidden * 2 <= len(cells):
            return period
    return PERIODS[-1]


def suppress(count: int) -> int | None:
    return count if count == 0 or count >= SUPPRESS_BELOW else None


def statistics(session: Session, year: int | None = None) -> Statistics:
    cases = list(session.scalars(select(Case)))
    if year is not None:
        cases = [c for c in cases if c.received_day.year == year]
    by_month: Counter[tuple[str, str]] = Counter()
    by_status: Counter[str] = Counter()
    by_outcome: Counter[str] = Counter()
    ack: list[int] = []
    close: list[int] = []
    period = _readable_period(cases)
    for case in cases:
        month = period_label(case.received_day, period)
        by_month[(month, case.status)] += 1
        by_status[case.status] += 1
        if case.outcome:
            by_outcome[case.outcome] += 1
        if case.acknowledged_day is not None:
            ack.append((case.acknowledged_day - case.received_day).days)
        if case.closed_day is not None:
            close.append((case.closed_day - case.received_day).days)
    purged = session.scalars(select(PurgedCase.received_day)).all()
    if year is not None:
        purged = [d for d in purged if d.year == year]
    months = sorted({m for m, _ in by_month})
    return Statistics(
        months=months,
        by_month={(m, s): suppress(by_month[(m, s)]) for m in months for s in STATUSES},
        by_status={s: suppress(by_status[s]) for s in STATUSES},
        by_outcome={o: suppress(n) for o, n in sorted(by_outcome.items())},
        days_to_acknowledge=float(median(ack)) if len(ack) >= SUPPRESS_BELOW else None,
        days_to_close=float(median(close)) if len(close) >= SUPPRESS_BELOW else None,
        purged=suppress(len(purged)),
        total=suppress(len(cases)),
        period=period,
    )


def chart_svg(
    stats: Statistics, labels: dict[str, str], title: str, footer: tuple[str, ...] = ()
) -> str:
    """Stacked bars: cases received per month, by status. Suppressed counts are not drawn.

    ``footer`` lines (already translated: the medians of days to acknowledge and to close)
    are written under the chart."""
    bar, gap, height, left, top = 28, 12, 200, 40, 30
    # Wide enough for the footer lines too (they were cut off with one or two bars).
    width = max(left + max(1, len(stats.months)) * (bar + gap) + 160, 460)
    peak = max(
        [
            sum(n or 0 for (m, _s), n in stats.by_month.items() if m == month)
            for month in stats.months
        ]
        or [1]
    )
    peak = max(peak, 1)
    total_height = height + top + 60 + 18 * len(footer)
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{total_height}" '
        f'viewBox="0 0 {width} {total_height}" role="img" aria-label="{escape(title)}">',
        f"<title>{escape(title)}</title>",
        "<style>text{font:12px sans-serif;fill:#111}</style>",
        f'<line x1="{left}" y1="{top + height}" x2="{width - 150}" y2="{top + height}" '
        'stroke="#111"/>',
    ]
    for i, month in enumerate(stats.months):
        x = left + i * (bar + gap)
        y: float = top + height
        for status in STATUSES:
            count = stats.by_month.get((month, status))
            if not count:
                continue
            h = count / peak * height
            y -= h
            out.append(
                f'<rect x="{x}" y="{y:.1f}" width="{bar}" height="{h:.1f}" '
                f'fill="{COLOURS[status]}"><title>{escape(month)} · '
                f"{escape(labels.get(status, status))}: {count}</title></rect>"
            )
        out.append(
            f'<text x="{x + bar / 2}" y="{top + height + 14}" text-anchor="end" '
            f'transform="rotate(-45 {x + bar / 2} {top + height + 14})">{escape(month)}</text>'
        )
    legend_x = width - 140
    for j, status in enumerate(STATUSES):
        y = top + j * 20
        out.append(
            f'<rect x="{legend_x}" y="{y}" width="12" height="12" fill="{COLOURS[status]}"/>'
        )
        out.append(
            f'<text x="{legend_x + 18}" y="{y + 11}">{escape(labels.get(status, status))}</text>'
        )
    out.append(f'<text x="{left}" y="{top - 10}">{peak}</text>')
    for k, line in enumerate(footer):
        out.append(f'<text x="{left}" y="{top + height + 60 + 18 * k}">{escape(line)}</text>')
    out.append("</svg>")
    return "\n".join(out)


# The annual report (the office's memòria) ---------------------------------------------------

#: Suppression modes. "standard": every count below 5 is withheld. "small-office": the
#: categories, desks and outcomes below 5 are pooled into one "other" line (shown when the
#: pool reaches 5), and the rates are given whenever the year has 5 cases or more — a rate
#: over the whole year points at nobody, and a small office still has something to report.
STANDARD = "standard"
SMALL_OFFICE = "small-office"
MODES = (STANDARD, SMALL_OFFICE)
OTHER = "other"


@dataclass(frozen=True)
class AnnualReport:
    year: int
    mode: str
    total: int | None
    #: (label key, count) in each breakdown, already suppressed (None: fewer than 5).
    by_category: list[tuple[str, int | None]]
    by_desk: list[tuple[str, int | None]]
    by_outcome: list[tuple[str, int | None]]
    #: Percentages (0–100, one decimal), None when the year has fewer than 5 cases.
    acknowledged_within_7_days: float | None
    answered_within_3_months: float | None
    extended: float | None
    referred: float | None
    deleted: int | None
    #: Reports whose source gave their identity, and meetings in person asked for (art. 7.2).
    identified: int | None = None
    meetings_requested: int | None = None


def _breakdown(counts: Counter[str], mode: str) -> list[tuple[str, int | None]]:
    if mode == STANDARD:
        return [(k, suppress(n)) for k, n in sorted(counts.items())]
    shown = [(k, n) for k, n in sorted(counts.items()) if n >= SUPPRESS_BELOW]
    pooled = sum(n for n in counts.values() if n < SUPPRESS_BELOW)
    rows: list[tuple[str, int | None]] = [(k, n) for k, n in shown]
    if pooled:
        rows.append((OTHER, suppress(pooled)))
    return rows


def _rate(part: int, whole: int) -> float | None:
    return round(100 * part / whole, 1) if whole >= SUPPRESS_BELOW else None


def annual_report(lines: list[Any], year: int, mode: str = STANDARD) -> AnnualReport:
    """The year's figures from the register's lines (deleted cases included, so the report
    counts every report the year received)."""
    from whistle.inbox import deadlines

    if mode not in MODES:
        raise ValueError(f"the mode is one of {', '.join(MODES)}")
    year_lines = [line for line in lines if line.received.year == year]
    total = len(year_lines)
    on_time_ack = sum(
        1
        for line in year_lines
        if (line.acknowledged or line.acknowledgement_withheld)
        and min(d for d in (line.acknowledged, line.acknowledgement_withheld) if d)
        <= line.acknowledgement_due
    )
    answered = sum(
        1
        for line in year_lines
        if line.feedback_given is not None
        and line.feedback_given <= deadlines.feedback_due(line.received, False)
    )
    return AnnualReport(
        year=year,
        mode=mode,
        total=suppress(total) if mode == STANDARD else (total if total >= SUPPRESS_BELOW else None),
        by_category=_breakdown(Counter(line.category or "" for line in year_lines), mode),
        by_desk=_breakdown(Counter(line.desk for line in year_lines), mode),
        by_outcome=_breakdown(Counter(line.outcome or "" for line in year_lines), mode),
        acknowledged_within_7_days=_rate(on_time_ack, total),
        answered_within_3_months=_rate(answered, total),
        extended=_rate(sum(1 for line in year_lines if line.extended), total),
        referred=_rate(
            sum(1 for line in year_lines if line.referred_to or line.outcome == "referred"),
            total,
        ),
        deleted=suppress(sum(1 for line in year_lines if line.purged is not None)),
        identified=suppress(sum(1 for line in year_lines if line.identified)),
        meetings_requested=suppress(
            sum(1 for line in year_lines if line.meeting_requested is not None)
        ),
    )


def annual_report_csv(report: AnnualReport, names: dict[str, str]) -> str:
    """The report as CSV rows (section, item, value); suppressed counts read "<5"."""
    import csv
    import io

    from whistle.inbox.register import escape_cell

    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(["section", "item", "value"])

    def cell(value: float | int | None) -> str:
        return f"<{SUPPRESS_BELOW}" if value is None else str(value)

    writer.writerow(["year", str(report.year), report.mode])
    writer.writerow(["total", "cases", cell(report.total)])
    for section, rows in (
        ("category", report.by_category),
        ("desk", report.by_desk),
        ("outcome", report.by_outcome),
    ):
        for key, count in rows:
            writer.writerow([section, escape_cell(names.get(key, key) or "-"), cell(count)])
    for item, value in (
        ("acknowledged within 7 days (%)", report.acknowledged_within_7_days),
        ("answered within 3 months (%)", report.answered_within_3_months),
        ("extended (%)", report.extended),
        ("referred (%)", report.referred),
    ):
        writer.writerow(["rate", item, "-" if value is None else str(value)])
    writer.writerow(["total", "deleted", cell(report.deleted)])
    writer.writerow(["total", "identified", cell(report.identified)])
    writer.writerow(["total", "meetings requested", cell(report.meetings_requested)])
    return out.getvalue()
