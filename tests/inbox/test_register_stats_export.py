"""Register CSV (formula escaping), statistics (suppression, SVG), dashboard, referral export."""

import csv
import io
import zipfile
from datetime import date, timedelta

import pytest
from sqlalchemy import select

from whistle.crypto import KdfParams
from whistle.inbox import export, register, replies, stats, workflow
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
            officer_id=1,
            now=now,
        )
    with office.session() as session:
        text = register.register_csv(register.register_lines(session, signed.keyring))
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0] == list(register.COLUMNS)
    line = dict(zip(rows[0], rows[1], strict=True))
    assert line["case"] == case
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
    assert archive.read("files/001-evidence.txt") == b"ledger lines"
    with pytest.raises(InboxError, match="cannot be opened"):
        export.open_package(io.BytesIO(package), "the wrong passphrase")
    with pytest.raises(InboxError, match="not a Whistle"):
        export.open_package(io.BytesIO(b"junk"), "a long passphrase here")


def test_templates_cover_every_language() -> None:
    for texts in replies.TEMPLATES.values():
        assert set(texts) == {"ca", "es", "en"}
