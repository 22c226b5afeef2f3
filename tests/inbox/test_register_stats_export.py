"""Register CSV (formula escaping), statistics (suppression, SVG), dashboard, referral export."""

import csv
import io
import zipfile
from datetime import date, timedelta

import pytest
from sqlalchemy import select

from whistle.crypto import KdfParams
from whistle.inbox import export, register, replies, stats, workflow
from whistle.inbox.context import OfficerContext
from whistle.inbox.dashboard import dashboard
from whistle.inbox.errors import BadPassphraseError, InboxError
from whistle.inbox.models import Case

from .conftest import Office, do_import, incoming, make_submission


def _cases(office: Office, n: int, **kw) -> list[str]:  # type: ignore[no-untyped-def]
    records, ids = [], []
    for _ in range(n):
        source, envelope = make_submission(office, **kw)
        records.append(incoming("submission", source.case_id, envelope))
        ids.append(source.case_id)
    do_import(office, records)
    return ids


@pytest.mark.parametrize("start", ["=", "+", "-", "@", "\t", "\r"])
def test_formula_cells_are_escaped(start: str) -> None:
    assert register.escape_cell(start + "HYPERLINK(1)") == "'" + start + "HYPERLINK(1)"
    assert register.escape_cell("plain") == "plain"


def test_register_csv(office: Office) -> None:
    (case,) = _cases(office, 1)
    signed = office.sign_in()
    now = office.config.clock()
    with office.session() as session:
        workflow.set_labels(
            session,
            signed.keyring,
            case,
            ["=cmd|' /C calc'!A0", "contracts"],
            ctx=OfficerContext(officer_id=1, now=now, today=now.date()),
        )
    with office.session() as session:
        text = register.register_csv(register.register_lines(session, signed.keyring))
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0] == list(register.COLUMNS)
    line = dict(zip(rows[0], rows[1], strict=True))
    assert line["case"] == case
    assert line["reference"] == "2026-0001"  # the office's own reference, first column
    assert line["received"] == "2026-11-01"
    assert line["acknowledgement_due"] == "2026-11-08"
    assert line["feedback_due"] == "2027-02-01"
    assert line["labels"].startswith("'=cmd")


def test_statistics_suppress_small_counts(office: Office) -> None:
    _cases(office, 6)
    with office.session() as session:
        one = session.scalars(select(Case)).first()
        assert one is not None
        one.status = "closed"
        one.closed_day = one.received_day + timedelta(days=10)
    with office.session() as session:
        figures = stats.statistics(session)
    assert figures.by_status["new"] == 5
    assert figures.by_status["closed"] is None  # 1 < 5: suppressed
    assert figures.by_month[("2026-11", "closed")] is None
    assert figures.days_to_close is None
    assert figures.total == 6
    svg = stats.chart_svg(figures, {"new": "New <b>"}, "Cases & months", ("Days: <5",))
    assert "Days: &lt;5" in svg
    assert svg.startswith("<svg")
    assert "New &lt;b&gt;" in svg
    assert "Cases &amp; months" in svg
    assert "<script" not in svg


def test_dashboard_puts_overdue_first(office: Office) -> None:
    first, second = _cases(office, 2)
    signed = office.sign_in()
    with office.session() as session:
        session.get(Case, second).received_day = date(2026, 11, 20)  # type: ignore[union-attr]
    with office.session() as session:
        board = dashboard(session, signed.keyring, today=date(2026, 11, 25))
    assert [r.case_id for r in board.rows] == [first, second]
    assert board.rows[0].deadline.state == "overdue"
    assert board.rows[0].subject == "Invoices inflated"
    assert board.rows[1].deadline.state == "soon"
    assert board.counts["overdue"] == 1
    with office.session() as session:
        later = dashboard(session, signed.keyring, today=date(2027, 2, 1))
    assert later.rows[0].deletion_due


def test_referral_package_round_trip(office: Office, insecure_kdf_params: KdfParams) -> None:
    source, envelope = make_submission(office, files=[("evidence.txt", b"ledger lines")])
    do_import(office, [incoming("submission", source.case_id, envelope)])
    signed = office.sign_in()
    out = io.BytesIO()
    with office.session() as session:
        with pytest.raises(BadPassphraseError):
            export.export_case(
                session,
                signed.keyring,
                source.case_id,
                "short",
                out,
                store_dir=office.config.store_dir,
                kdf_params=insecure_kdf_params,
            )
        export.export_case(
            session,
            signed.keyring,
            source.case_id,
            "a long passphrase here",
            out,
            store_dir=office.config.store_dir,
            kdf_params=insecure_kdf_params,
        )
    package = out.getvalue()
    assert b"ledger lines" not in package
    assert b"Invoices" not in package
    case_id, zipped = export.open_package(io.BytesIO(package), "a long passphrase here")
    assert case_id == source.case_id
    archive = zipfile.ZipFile(io.BytesIO(zipped))
    assert "Invoices inflated" in archive.read("summary.html").decode()
    assert "<h1>Case 2026-0001</h1>" in archive.read("summary.html").decode()  # its reference
    assert archive.read("files/001-evidence.txt") == b"ledger lines"
    with pytest.raises(InboxError, match="cannot be opened"):
        export.open_package(io.BytesIO(package), "the wrong passphrase")
    with pytest.raises(InboxError, match="not a Whistle"):
        export.open_package(io.BytesIO(b"junk"), "a long passphrase here")


def test_templates_cover_every_language() -> None:
    for texts in replies.TEMPLATES.values():
        assert set(texts) == {"ca", "es", "en"}


def test_the_register_keeps_a_deleted_cases_whole_line(office: Office) -> None:
    """Art. 26: every column of the line survives the case's deletion (labels excepted)."""
    import dataclasses

    from whistle.inbox import steps

    (case,) = _cases(office, 1)
    signed = office.sign_in()
    now = office.config.clock()
    today = now.date()
    with office.session() as session:
        row = session.get(Case, case)
        row.category = "contractacio"
        row.identified = False
        row.ack_delivered_day = date(2026, 11, 2)
        workflow.extend_feedback(
            session,
            signed.keyring,
            case,
            reason="Complex.",
            ctx=OfficerContext(officer_id=1, now=now, today=today),
        )
        for kind, recipient, immediate in (
            ("concerned-informed", "", False),
            ("referral", "Fiscalía Provincial de Barcelona", True),
            ("measure", "", False),
        ):
            steps.record_step(
                session,
                signed.keyring,
                case,
                kind,
                day=today,
                note="Contract suspended." if kind == "measure" else "Done in writing.",
                recipient=recipient,
                immediate=immediate,
                ctx=OfficerContext(officer_id=1, now=now, today=today),
            )
        workflow.set_labels(
            session,
            signed.keyring,
            case,
            ["mine"],
            ctx=OfficerContext(officer_id=1, now=now, today=now.date()),
        )
    with office.session() as session:
        (before,) = register.register_lines(session, signed.keyring)
        workflow.purge_case(
            session,
            signed.keyring,
            case,
            confirm=True,
            reason="Outside the law's scope.",
            officer_id=1,
            now=now,
            today=today,
            store_dir=office.config.store_dir,
        )
    with office.session() as session:
        (after,) = register.register_lines(session, signed.keyring)
        csv_text = register.register_csv([after])
    assert after == dataclasses.replace(before, labels=[], purged=today)
    assert before.reference == after.reference == "2026-0001"  # kept in the sealed line
    assert before.referred_to == ["Fiscalía Provincial de Barcelona"]
    assert before.referral_immediate
    assert before.measures == ["Contract suspended."]
    assert (before.category, before.identified, before.extended_on) == (
        "contractacio",
        False,
        today,
    )
    assert "Fiscalía Provincial de Barcelona" in csv_text
    assert "mine" not in csv_text


def test_a_referral_needs_its_recipient_and_a_past_day(office: Office) -> None:
    from whistle.inbox import steps
    from whistle.inbox.errors import StepRefusedError
    from whistle.inbox.models import Step

    (case,) = _cases(office, 1)
    signed = office.sign_in()
    now = office.config.clock()
    today = now.date()
    with office.session() as session:
        for kw, why in (
            ({"recipient": " ", "day": today}, "recipient"),
            ({"recipient": "EPPO", "day": today + timedelta(days=1)}, "day"),
            ({"recipient": "EPPO", "day": date(2020, 1, 1)}, "day"),
        ):
            with pytest.raises(StepRefusedError) as refused:
                steps.record_step(
                    session,
                    signed.keyring,
                    case,
                    "referral",
                    note="Sent.",
                    ctx=OfficerContext(officer_id=1, now=now, today=today),
                    **kw,
                )
            assert refused.value.why == why
        assert session.scalars(select(Step)).all() == []


def test_disclosure_to_a_third_party_tells_the_reporter_first(office: Office) -> None:
    from whistle.inbox import steps
    from whistle.inbox.errors import StepRefusedError
    from whistle.inbox.models import Reply

    (case,) = _cases(office, 1)
    signed = office.sign_in()
    now = office.config.clock()
    today = now.date()
    with office.session() as session:
        with pytest.raises(StepRefusedError) as refused:
            steps.disclose_to_third(
                session,
                signed.keyring,
                case,
                recipient="Juzgado nº 3",
                day=today - timedelta(1),
                reasons="The court asked.",
                ctx=OfficerContext(officer_id=1, now=now, today=today),
            )
        assert refused.value.why == "not-told"
        step = steps.disclose_to_third(
            session,
            signed.keyring,
            case,
            recipient="Juzgado nº 3",
            day=today,
            reasons="The court asked in case 12/2026.",
            ctx=OfficerContext(officer_id=1, now=now, today=today),
        )
        assert (step.reporter_told_day, step.exception) == (today, False)
        notice = session.scalar(select(Reply).where(Reply.case_id == case))
        assert (notice.purpose, notice.state) == ("disclosure", "ready")
        text = replies.open_draft(signed.keyring, notice).text
        assert "Juzgado nº 3" in text
        assert "12/2026" in text
        # The exception: nobody is told, and the reason is recorded with the reasons.
        secret = steps.disclose_to_third(
            session,
            signed.keyring,
            case,
            recipient="Fiscalía",
            day=today - timedelta(1),
            reasons="Ongoing search.",
            exception="Telling would warn the accused.",
            ctx=OfficerContext(officer_id=1, now=now, today=today),
        )
        assert (secret.reporter_told_day, secret.exception) == (None, True)
        assert len(session.scalars(select(Reply).where(Reply.case_id == case)).all()) == 1


@pytest.mark.parametrize(
    ("appointed", "due"),
    [
        (date(2026, 12, 4), date(2026, 12, 18)),  # a Friday: two weeks of Mondays to Fridays
        (date(2026, 12, 5), date(2026, 12, 18)),  # a Saturday: counting starts on Monday
        (date(2028, 2, 28), date(2028, 3, 13)),  # across a leap day
    ],
)
def test_the_responsable_must_be_notified_within_ten_working_days(
    office: Office, appointed: date, due: date
) -> None:
    from whistle.inbox import steps
    from whistle.inbox.errors import StepRefusedError

    now = office.config.clock()
    with office.session() as session:
        value = steps.designate_responsable(
            session, "Anna Puig", appointed, officer_id=1, now=now, today=date(2030, 1, 1)
        )
        assert value.notify_by == due
        with pytest.raises(StepRefusedError):
            steps.mark_responsable_notified(
                session, appointed - timedelta(1), officer_id=1, now=now, today=date(2030, 1, 1)
            )
        steps.mark_responsable_notified(session, due, officer_id=1, now=now, today=date(2030, 1, 1))
        assert steps.responsable(session).notified == due


def _line(**kw):  # type: ignore[no-untyped-def]
    received = kw.pop("received", date(2026, 3, 1))
    base = dict(
        reference=None,
        case="0" * 32,
        desk="antifraud",
        category=None,
        identified=None,
        received=received,
        acknowledgement_due=received + timedelta(days=7),
        acknowledged=None,
        acknowledgement_read=None,
        acknowledgement_withheld=None,
        investigation_opened=None,
        concerned_informed=None,
        concerned_heard=None,
        feedback_due=date(2026, 6, 1),
        feedback_given=None,
        feedback_read=None,
        extended=False,
        extended_on=None,
        closed=None,
        status="new",
        outcome=None,
        measures=[],
        referred_to=[],
        referred_on=None,
        referral_immediate=False,
        identity_disclosed_to=[],
        meeting_requested=None,
        meeting_offered=None,
        assignee=None,
        labels=[],
        deletion_due=None,
        purged=None,
    )
    base.update(kw)
    return register.RegisterLine(**base)


def test_the_annual_report_rates_and_its_two_suppression_modes() -> None:
    on_time = dict(acknowledged=date(2026, 3, 8), feedback_given=date(2026, 6, 1))
    lines = (
        [_line(category="contractacio", **on_time) for _ in range(5)]
        + [_line(category="urbanisme", acknowledged=date(2026, 3, 9), extended=True)]
        + [
            _line(
                category="foment", acknowledgement_withheld=date(2026, 3, 2), referred_to=["EPPO"]
            )
        ]
        + [_line(category="foment", feedback_given=date(2026, 6, 2), purged=date(2026, 6, 1))]
        + [_line(received=date(2025, 12, 31), category="contractacio")]  # another year
    )
    standard = stats.annual_report(lines, 2026)
    assert standard.total == 8
    assert standard.by_category == [("contractacio", 5), ("foment", None), ("urbanisme", None)]
    # 5 on the 8th day (received 1 Mar: due 8 Mar) + 1 withheld; 9 Mar is late.
    assert standard.acknowledged_within_7_days == 75.0
    # Feedback on 1 Jun is within 3 months of 1 Mar; 2 Jun is not.
    assert standard.answered_within_3_months == 62.5
    assert (standard.extended, standard.referred) == (12.5, 12.5)
    assert standard.deleted is None
    assert (standard.identified, standard.meetings_requested) == (0, 0)
    asked = [_line(identified=True, meeting_requested=date(2026, 3, 1)) for _ in range(5)]
    counted = stats.annual_report(lines + asked, 2026)
    assert (counted.identified, counted.meetings_requested) == (5, 5)
    assert "total,meetings requested,5" in stats.annual_report_csv(counted, {})
    small = stats.annual_report(lines, 2026, stats.SMALL_OFFICE)
    assert small.by_category == [("contractacio", 5), (stats.OTHER, None)]
    csv_text = stats.annual_report_csv(small, {"contractacio": "=Contractació"})
    assert "'=Contractació" in csv_text
    assert "acknowledged within 7 days (%),75.0" in csv_text
    # A year with fewer than 5 cases gives no rates at all.
    assert stats.annual_report(lines, 2025).acknowledged_within_7_days is None
    with pytest.raises(ValueError, match="mode"):
        stats.annual_report(lines, 2026, "loose")


def test_a_meeting_offered_must_follow_a_request(office: Office) -> None:
    from whistle.inbox import steps
    from whistle.inbox.errors import StepRefusedError

    (case,) = _cases(office, 1)
    signed = office.sign_in()
    now = office.config.clock()
    today = now.date()

    def step(kind: str) -> None:
        steps.record_step(
            session,
            signed.keyring,
            case,
            kind,
            day=today,
            note="By phone.",
            ctx=OfficerContext(officer_id=1, now=now, today=today),
        )

    with office.session() as session:
        with pytest.raises(StepRefusedError) as refused:
            step("meeting-offered")
        assert refused.value.why == "meeting"
    with office.session() as session:
        step("meeting-requested")
        row = session.get(Case, case)
        assert (row.meeting_requested_day, row.meeting_offered_day) == (today, None)
        step("meeting-offered")
        assert session.get(Case, case).meeting_offered_day == today
