"""The officers' desk without HTTP: case references, what is new for whom, the dashboard's
"nothing waits", search hits, sorting, and the suggested next step."""

from dataclasses import replace
from datetime import date, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

from sqlalchemy import select, text

from tests.inbox.conftest import (
    Office,
    do_import,
    incoming,
    make_followup,
    make_submission,
)
from whistle.inbox import case_refs, db, deadlines, naming, news, next_step, replies
from whistle.inbox import cases as cases_module
from whistle.inbox.cases import CaseFilters, list_cases, mark, snippet
from whistle.inbox.context import OfficerContext
from whistle.inbox.dashboard import dashboard
from whistle.inbox.models import Case, Reply

TODAY = date(2026, 11, 2)


def _import(office: Office, n: int, day: date = date(2026, 11, 1), **kw) -> list:  # type: ignore[no-untyped-def]
    sources = []
    for _ in range(n):
        source, envelope = make_submission(office, **kw)
        record = replace(incoming("submission", source.case_id, envelope), received_day=day)
        do_import(office, [record])
        sources.append(source)
    return sources


def _refs(office: Office) -> dict[str, str]:
    with office.session() as session:
        return {c.id: c.ref for c in session.scalars(select(Case))}


def test_cases_are_numbered_per_year_in_arrival_order(office: Office) -> None:
    first, second = _import(office, 2)
    (next_year,) = _import(office, 1, day=date(2027, 1, 3))
    refs = _refs(office)
    assert refs[first.case_id] == "2026-0001"
    assert refs[second.case_id] == "2026-0002"
    assert refs[next_year.case_id] == "2027-0001"


def test_a_reference_is_found_however_it_is_typed(office: Office) -> None:
    _, second = _import(office, 2)
    assert case_refs.parse_ref(" 2026/02 ") == (2026, 2)
    assert case_refs.parse_ref("2026-0002") == (2026, 2)
    assert case_refs.parse_ref("invoices 2026") is None
    signed = office.sign_in()
    with office.session() as session:
        page = list_cases(
            session, signed.keyring, CaseFilters(query="2026-2"), today=TODAY, page_size=20
        )
    assert [c.id for c in page.cases] == [second.case_id]


def test_the_migration_numbers_existing_cases_in_arrival_order(tmp_path: Path) -> None:
    engine = db.make_engine(tmp_path / "inbox.sqlite")
    db.upgrade(engine, "0007_desks")
    rows = [
        ("cc" * 16, "2026-03-01", datetime(2026, 3, 2)),
        ("aa" * 16, "2026-05-01", datetime(2026, 5, 1)),
        ("bb" * 16, "2026-03-01", datetime(2026, 3, 1)),
        ("dd" * 16, "2025-12-31", datetime(2026, 1, 1)),
    ]
    with engine.begin() as connection:
        for case_id, day, at in rows:
            connection.execute(
                text(
                    'INSERT INTO "case" (id, desk_id, status, received_day, last_activity_day,'
                    " imported_at, extended) VALUES (:id, 'antifraud', 'new', :d, :d, :t, 0)"
                ),
                {"id": case_id, "d": day, "t": at},
            )
    db.upgrade(engine)
    with engine.connect() as connection:
        found = dict(
            connection.execute(text("SELECT id, ref_year || '-' || ref_number FROM \"case\"")).all()
        )
    assert found == {
        "bb" * 16: "2026-1",
        "cc" * 16: "2026-2",
        "aa" * 16: "2026-3",
        "dd" * 16: "2025-1",
    }
    db.downgrade(engine, "0007_desks")
    db.upgrade(engine)
    engine.dispose()


def _acknowledged(office: Office, source) -> None:  # type: ignore[no-untyped-def]
    """The case acknowledged and its acknowledgement delivered: no clock presses."""
    signed = office.sign_in()
    with office.session() as session:
        replies.acknowledge(
            session,
            signed.keyring,
            source.case_id,
            ctx=OfficerContext(
                officer_id=signed.officer_id, now=office.config.clock(), today=TODAY
            ),
        )
        case = session.get(Case, source.case_id)
        case.ack_delivered_day = TODAY  # type: ignore[union-attr]


def _board(office: Office, today: date = TODAY):  # type: ignore[no-untyped-def]
    signed = office.sign_in()
    with office.session() as session:
        return dashboard(session, signed.keyring, today=today, officer_id=signed.officer_id)


def _seen(office: Office, case_id: str) -> None:
    signed = office.sign_in()
    with office.session() as session:
        news.mark_seen(session, signed.officer_id, case_id, now=office.config.clock())


def test_a_new_case_waits_even_when_no_clock_presses(office: Office) -> None:
    # The review's finding: "Nothing is due" while new reports waited (7 days to acknowledge).
    (source,) = _import(office, 1)
    board = _board(office)
    assert board.waiting
    assert board.counts["new"] == 1
    assert board.counts["soon"] == board.counts["today"] == board.counts["overdue"] == 0
    assert [(r.case_id, r.new) for r in board.rows] == [(source.case_id, True)]
    assert board.rows[0].subject == "Invoices inflated"


def test_a_message_from_the_source_waits_until_the_officer_opens_the_case(
    office: Office, clock
) -> None:  # type: ignore[no-untyped-def]
    (source,) = _import(office, 1)
    _acknowledged(office, source)
    _seen(office, source.case_id)
    assert not _board(office).waiting
    clock.advance(hours=1)
    do_import(office, [incoming("followup", source.case_id, make_followup(office, source, "More"))])
    board = _board(office)
    assert board.waiting
    assert board.counts["unread"] == 1
    assert board.rows[0].fresh.unread == 1
    clock.advance(hours=1)
    _seen(office, source.case_id)
    assert not _board(office).waiting


def test_news_is_per_officer(office: Office, clock) -> None:  # type: ignore[no-untyped-def]
    (source,) = _import(office, 1)
    do_import(office, [incoming("followup", source.case_id, make_followup(office, source, "More"))])
    clock.advance(hours=1)
    _seen(office, source.case_id)
    signed = office.sign_in()
    with office.session() as session:
        assert news.news(session, signed.officer_id) == {}
        assert news.news(session, signed.officer_id + 1)[source.case_id].unread == 1


def test_a_reply_the_source_read_is_news_once(office: Office, clock) -> None:  # type: ignore[no-untyped-def]
    (source,) = _import(office, 1)
    _acknowledged(office, source)
    _seen(office, source.case_id)
    with office.session() as session:
        reply = session.scalar(select(Reply).where(Reply.case_id == source.case_id))
        reply.read_day = TODAY  # type: ignore[union-attr]
    board = _board(office)
    assert board.waiting
    assert board.counts["read_replies"] == 1
    _seen(office, source.case_id)
    assert not _board(office).waiting


def test_nothing_waits_only_when_nothing_does(office: Office) -> None:
    (source,) = _import(office, 1)
    _acknowledged(office, source)
    _seen(office, source.case_id)
    board = _board(office)
    assert not board.waiting
    assert board.rows == []
    # 88 days on, the feedback clock is due soon: the dashboard says so again.
    later = _board(office, TODAY + timedelta(days=88))
    assert later.waiting
    assert later.rows[0].deadline.kind == deadlines.FEEDBACK


def test_the_dashboard_per_desk_and_mine(office: Office) -> None:
    (anti,) = _import(office, 1)
    (ethics,) = _import(office, 1, desk="ethics")
    signed = office.sign_in()
    with office.session() as session:
        by_desk = dashboard(session, signed.keyring, today=TODAY, desk="ethics")
        mine = dashboard(session, signed.keyring, today=TODAY, assignee=signed.officer_id)
        names = naming.desk_names(session)
    assert [r.case_id for r in by_desk.rows] == [ethics.case_id]
    assert mine.rows == []
    assert names == {"antifraud": "Anti-fraud office", "ethics": "Ethics desk"}
    assert names["removed-since"] == "removed-since"  # an id the card no longer has
    assert anti.case_id != ethics.case_id


def test_newest_first_is_arrival_order_within_a_day(office: Office) -> None:
    sources = _import(office, 5)
    signed = office.sign_in()
    with office.session() as session:
        for sort, expected in (
            ("received-desc", sources[::-1]),
            ("received-asc", sources),
        ):
            page = list_cases(
                session, signed.keyring, CaseFilters(sort=sort), today=TODAY, page_size=20
            )
            assert [c.id for c in page.cases] == [s.case_id for s in expected]
            assert [c.ref for c in page.cases] == [_refs(office)[s.case_id] for s in expected]


def _page_ids(office: Office, filters: CaseFilters) -> list[str]:
    signed = office.sign_in()
    with office.session() as session:
        page = list_cases(session, signed.keyring, filters, today=TODAY, page_size=2)
    return [c.id for c in page.cases]


def test_pages_cut_by_the_database_follow_each_order_without_gaps(
    office: Office,
    monkeypatch,  # type: ignore[no-untyped-def]
) -> None:
    sources = _import(office, 3) + _import(office, 2, day=date(2026, 10, 30))
    _acknowledged(office, sources[1])
    with office.session() as session:
        rows = {c.id: c for c in session.scalars(select(Case))}

    def arrival(case_id: str) -> tuple[date, int, int]:
        c = rows[case_id]
        return (c.received_day, c.ref_year, c.ref_number)

    def status(case_id: str) -> int:
        return ("new", "acknowledged").index(rows[case_id].status)

    newest = sorted(rows, key=arrival, reverse=True)
    expected = {
        "received-asc": newest[::-1],
        "received-desc": newest,
        "activity-desc": sorted(
            rows, key=lambda c: (rows[c].last_activity_day, *arrival(c)), reverse=True
        ),
        "status": sorted(newest, key=status),
    }
    for sort, order in expected.items():
        pages = [_page_ids(office, CaseFilters(sort=sort, page=n)) for n in (1, 2, 3, 4)]
        assert [c for page in pages[:3] for c in page] == order, sort
        assert pages[3] == pages[2]  # past the end: the last page
    # Many search hits are filtered here rather than bound as ids: the same pages.
    hits = [_page_ids(office, CaseFilters(query="invoices", page=n)) for n in (1, 2, 3)]
    assert [c for page in hits for c in page] == newest
    monkeypatch.setattr(cases_module, "MAX_BOUND_IDS", 0)
    assert hits == [_page_ids(office, CaseFilters(query="invoices", page=n)) for n in (1, 2, 3)]


def test_the_overdue_filter_keeps_exactly_the_cases_whose_clock_ran_out(office: Office) -> None:
    late, answered = _import(office, 2, day=date(2026, 10, 1))  # 7-day clock long gone
    _acknowledged(office, answered)
    (fresh,) = _import(office, 1)
    signed = office.sign_in()
    with office.session() as session:
        page = list_cases(
            session, signed.keyring, CaseFilters(overdue=True), today=TODAY, page_size=20
        )
        assert [c.id for c in page.cases] == [late.case_id]
        assert [c.overdue for c in page.cases] == [True]
        everything = list_cases(session, signed.keyring, CaseFilters(), today=TODAY, page_size=20)
    assert {c.id for c in everything.cases if c.overdue} == {late.case_id}
    assert fresh.case_id in {c.id for c in everything.cases}


def test_search_hits_are_marked_and_stay_text(office: Office) -> None:
    _import(office, 1, description="Paid <b>twice</b> to Acme & Co for one ledger.")
    signed = office.sign_in()
    with office.session() as session:
        page = list_cases(
            session, signed.keyring, CaseFilters(query="LEDGER"), today=TODAY, page_size=20
        )
    (found,) = page.cases
    assert ("ledger", True) in found.snippet
    assert "".join(t for t, _ in found.snippet) == "Paid <b>twice</b> to Acme & Co for one ledger."
    assert found.subject_marked == [("Invoices inflated", False)]
    assert mark("Straße STRASSE", "strasse") == [
        ("strasse", True),
        (" ", False),
        ("strasse", True),
    ]
    assert snippet(["x" * 100 + "hit" + "y" * 100], "hit", 5)[0] == ("… ", False)


def test_the_new_only_filter(office: Office, clock) -> None:  # type: ignore[no-untyped-def]
    first, second = _import(office, 2)
    _acknowledged(office, first)
    _seen(office, first.case_id)
    signed = office.sign_in()
    with office.session() as session:
        page = list_cases(
            session,
            signed.keyring,
            CaseFilters(news=True),
            today=TODAY,
            page_size=20,
            officer_id=signed.officer_id,
        )
    assert [c.id for c in page.cases] == [second.case_id]


def _case(**kw):  # type: ignore[no-untyped-def]
    fields = {"status": "new", "acknowledged_day": None}
    fields.update(kw)
    return SimpleNamespace(**fields)


def _clock(kind: str, state: str, due: date = TODAY) -> deadlines.Deadline:
    return deadlines.Deadline(kind, due, state, (due - TODAY).days)


def test_the_next_step_follows_state_and_clocks() -> None:
    ack = _clock(deadlines.ACKNOWLEDGEMENT, deadlines.PENDING)
    assert next_step.suggest(_case(), [ack], []).kind == next_step.ACKNOWLEDGE
    acked = _case(status="acknowledged", acknowledged_day=TODAY)
    met = _clock(deadlines.ACKNOWLEDGEMENT, deadlines.MET)
    draft = SimpleNamespace(state="draft", purpose="reply", created_at=datetime(2026, 11, 2))
    assert next_step.suggest(acked, [met], [draft]).kind == next_step.SEND_DRAFT
    assert next_step.suggest(acked, [met], []).kind == next_step.TRIAGE
    soon = _clock(deadlines.FEEDBACK, deadlines.SOON)
    assert next_step.suggest(acked, [met, soon], []).kind == next_step.FEEDBACK
    followup = SimpleNamespace(kind="followup", received_day=TODAY, error=None)
    assert next_step.suggest(acked, [met], [], [followup]).kind == next_step.ANSWER
    sent = SimpleNamespace(state="ready", purpose="reply", created_at=datetime(2026, 11, 2))
    assert next_step.suggest(acked, [met], [sent], [followup]).kind == next_step.TRIAGE
    closed = _case(status="closed", acknowledged_day=TODAY)
    assert next_step.suggest(closed, [met], []).kind == next_step.DONE


MOUNTS = """\
/dev/sda1 / ext4 rw,relatime 0 0
proc /proc proc rw,nosuid 0 0
/dev/sdb1 /media/ana/CLAU\\040USB vfat rw,nosuid,nodev,uid=1000 0 0
/dev/sdc1 /run/media/ana/ARXIU ext4 ro,nosuid 0 0
/dev/sdd1 /mnt/backup ext4 rw 0 0
tmpfs /media tmpfs rw 0 0
"""


def test_removable_media_come_from_the_mount_table(tmp_path: Path) -> None:
    from whistle.inbox.media import Medium, mounted_media, parse_mounts

    assert parse_mounts(MOUNTS) == [
        Medium("/run/media/ana/ARXIU", "ARXIU", writable=False),
        Medium("/media/ana/CLAU USB", "CLAU USB", writable=True),
    ]
    assert mounted_media(tmp_path / "no-such-file") == []


def test_the_conversation_shows_each_message_once_in_the_order_seen() -> None:
    from whistle.inbox.case_page import conversation

    at = datetime(2026, 11, 2, 9, 0)
    report = SimpleNamespace(kind="submission", record_id="r1", received_day=TODAY, imported_at=at)
    echoed = SimpleNamespace(
        kind="reply", record_id="out-1", received_day=TODAY, imported_at=at + timedelta(hours=3)
    )
    foreign = SimpleNamespace(
        kind="reply", record_id="old", received_day=TODAY, imported_at=at + timedelta(hours=3)
    )
    answer = SimpleNamespace(
        kind="followup", record_id="f1", received_day=TODAY, imported_at=at + timedelta(hours=4)
    )
    reply = SimpleNamespace(state="ready", outgoing_id="out-1", created_at=at + timedelta(hours=1))
    draft = SimpleNamespace(state="draft", outgoing_id=None, created_at=at + timedelta(hours=2))
    shown = conversation([report, echoed, foreign, answer], [reply, draft])
    assert [m.item for m in shown] == [report, reply, foreign, answer]


def test_a_small_offices_statistics_are_counted_by_quarter(office: Office) -> None:
    from whistle.inbox import stats

    sources = _import(office, 12)
    with office.session() as session:
        for n, source in enumerate(sources):
            case = session.get(Case, source.case_id)
            case.received_day = date(2026, 7 + n // 2, 1)  # type: ignore[union-attr]
    with office.session() as session:
        figures = stats.statistics(session)
    # Month by month every count would read "<5"; by quarter they show.
    assert figures.period == "quarter"
    assert figures.months == ["2026-Q3", "2026-Q4"]
    assert figures.by_month[("2026-Q3", "new")] == 6
    svg = stats.chart_svg(figures, {}, "t", ("Days to close (median): —",))
    assert 'width="460"' in svg
