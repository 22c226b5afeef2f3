"""What the source chose on the form reaches the case: anonymous or identified, the category
(pre-filled when it is one of the office's, changeable by an officer, audited), and a meeting
request (Ley 2/2023 art. 7.2) that starts its 7-day clock, shows on the case and in the
register."""

from datetime import date

from sqlalchemy import select

from whistle.inbox import deadlines, settings, workflow
from whistle.inbox.cases import case_deadlines
from whistle.inbox.context import OfficerContext
from whistle.inbox.models import AuditEvent, Case

from .conftest import Office, do_import, incoming, make_submission
from .test_web import app, client, login  # noqa: F401 - fixtures

RECEIVED = date(2026, 11, 1)  # conftest.incoming's day
CHOICES = {
    "identified": True,
    "category": {"key": "urbanisme", "label": "Urbanisme"},
    "meeting": True,
    "availability": "Dimarts a la tarda",
}


def _categories(office: Office) -> None:
    with office.session() as session:
        settings.set_categories(
            session,
            [("contractacio", "Contractació"), ("urbanisme", "Urbanisme")],
            officer_id=None,
            now=office.config.clock(),
        )


def _case(office: Office, choices: dict) -> str:  # type: ignore[type-arg]
    source, envelope = make_submission(office, choices=choices)
    do_import(office, [incoming("submission", source.case_id, envelope)])
    return source.case_id


def test_the_form_starts_the_case(office: Office) -> None:
    _categories(office)
    case_id = _case(office, CHOICES)
    with office.session() as session:
        case = session.get(Case, case_id)
        assert case is not None
        assert case.identified is True
        assert case.category == "urbanisme"
        assert case.meeting_requested_day == RECEIVED
        meeting = [d for d in case_deadlines(case, RECEIVED) if d.kind == deadlines.MEETING]
        assert [d.due for d in meeting] == [date(2026, 11, 8)]
        details = [
            (e.action, e.detail)
            for e in session.scalars(select(AuditEvent).where(AuditEvent.case_id == case_id))
        ]
    assert ("category-set", "urbanisme (the source)") in details
    assert ("meeting-requested", "on the form") in details
    with office.session() as session:  # the officer has the last word, audited
        workflow.set_category(
            session,
            case_id,
            "contractacio",
            ctx=OfficerContext(
                officer_id=1, now=office.config.clock(), today=office.config.clock().date()
            ),
        )
        assert session.get(Case, case_id).category == "contractacio"  # type: ignore[union-attr]


def test_a_category_the_office_does_not_have_is_shown_not_filed(office: Office, client) -> None:  # noqa: F811
    case_id = _case(office, {**CHOICES, "category": {"key": "foment", "label": "Foment"}})
    with office.session() as session:
        assert session.get(Case, case_id).category is None  # type: ignore[union-attr]
    login(client)
    page = client.get(f"/cases/{case_id}").get_data(as_text=True)
    assert "Category chosen by the reporter" in page
    assert "<dd>Foment</dd>" in page
    assert "The reporter asked for a meeting in person" in page
    assert "Dimarts a la tarda" in page
    assert "identified (identity sealed to the custodian)" in page


def test_an_anonymous_report_without_a_meeting(office: Office, client) -> None:  # noqa: F811
    case_id = _case(
        office, {"identified": False, "category": None, "meeting": False, "availability": ""}
    )
    with office.session() as session:
        case = session.get(Case, case_id)
        assert case is not None
        assert (case.identified, case.category, case.meeting_requested_day) == (False, None, None)
    login(client)
    page = client.get(f"/cases/{case_id}").get_data(as_text=True)
    assert "asked for a meeting in person" not in page
    assert "<dd>anonymous</dd>" in page


def test_a_report_from_before_the_choices_says_nothing(office: Office) -> None:
    case_id = _case(office, {})
    with office.session() as session:
        case = session.get(Case, case_id)
        assert case is not None
        assert (case.identified, case.meeting_requested_day) == (None, None)


def test_the_register_counts_the_meeting_request(office: Office, client) -> None:  # noqa: F811
    _case(office, CHOICES)
    login(client)
    page = client.get("/register").get_data(as_text=True)
    assert "Meeting asked / offered" in page
    assert "2026-11-01 / —" in page
    from .test_web import csrf

    csv = client.post("/register.csv", data={"csrf": csrf(page)}).get_data(as_text=True)
    header, row = csv.splitlines()[:2]
    columns = header.split(",")
    assert row.split(",")[columns.index("meeting_requested")] == "2026-11-01"
    assert row.split(",")[columns.index("identified")] == "yes"


def test_the_availability_text_can_be_deleted_like_a_field(office: Office, client) -> None:  # noqa: F811
    from whistle.inbox.models import Record
    from whistle.inbox.store import record_meta

    from .test_web import csrf

    case_id = _case(office, CHOICES)
    login(client)
    page = client.get(f"/cases/{case_id}").get_data(as_text=True)
    with office.session() as session:
        record_id = session.scalar(select(Record.id).where(Record.case_id == case_id))
    assert f'value="field:{record_id}:availability"' in page
    done = client.post(
        f"/cases/{case_id}/delete-part",
        data={
            "csrf": csrf(page),
            "part": f"field:{record_id}:availability",
            "grounds": "out-of-scope",
            "reason": "It named the reporter's workplace.",
        },
    )
    assert done.status_code == 303
    page = client.get(f"/cases/{case_id}").get_data(as_text=True)
    assert "Dimarts a la tarda" not in page
    assert "The reporter asked for a meeting in person" in page  # the request itself stays
    with office.session() as session:
        meta = record_meta(office.sign_in().keyring, session.get(Record, record_id))
    assert meta["form"]["availability"] == ""
    assert meta["form"]["meeting"] is True
