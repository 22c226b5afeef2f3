"""The workflow over HTTP: dashboard, state changes with reasons, replies, register, statistics,
purge, export; bad input refused with a message."""

import io

from sqlalchemy import select

from whistle.inbox import export
from whistle.inbox.models import Case, Outgoing, Reply

from .conftest import do_import, incoming, make_submission
from .test_web import app, client, csrf, login  # noqa: F401 - fixtures


def _case(office) -> str:
    source, envelope = make_submission(office)
    do_import(office, [incoming("submission", source.case_id, envelope)])
    return source.case_id


def _token(client, case_id: str) -> str:  # noqa: F811
    return csrf(client.get(f"/cases/{case_id}").get_data(as_text=True))


def test_work_a_case_from_new_to_closed(office, client) -> None:  # noqa: F811
    case = _case(office)
    office.config.clock.advance(days=5)  # the acknowledgement is due in 2 days
    login(client)
    board = client.get("/dashboard")
    assert board.status_code == 200
    assert "Invoices inflated" in board.get_data(as_text=True)
    token = _token(client, case)
    assert client.post(f"/cases/{case}/acknowledge", data={"csrf": token}).status_code == 303
    second = client.post(f"/cases/{case}/acknowledge", data={"csrf": token})
    assert second.status_code == 400
    assert "already acknowledged" in second.get_data(as_text=True)
    no_reason = client.post(
        f"/cases/{case}/status", data={"csrf": token, "to": "investigating", "reason": ""}
    )
    assert no_reason.status_code == 400
    assert "Give a reason" in no_reason.get_data(as_text=True)
    assert 'aria-invalid="true"' in no_reason.get_data(as_text=True)
    ok = client.post(
        f"/cases/{case}/status",
        data={"csrf": token, "to": "investigating", "reason": "Within our remit."},
    )
    assert ok.status_code == 303
    no_ext = client.post(f"/cases/{case}/extend", data={"csrf": token, "reason": " "})
    assert no_ext.status_code == 400
    draft = client.post(
        f"/cases/{case}/replies",
        data={
            "csrf": token,
            "text": "We opened an investigation.",
            "purpose": "reply",
            "ready": "0",
        },
    )
    assert draft.status_code == 303
    with office.session() as session:
        reply_id = session.scalar(select(Reply.id).where(Reply.state == "draft"))
    assert (
        client.post(f"/cases/{case}/replies/{reply_id}/ready", data={"csrf": token}).status_code
        == 303
    )
    closed = client.post(
        f"/cases/{case}/status",
        data={"csrf": token, "to": "closed", "outcome": "substantiated", "reason": "Proven."},
    )
    assert closed.status_code == 303
    page = client.get(f"/cases/{case}").get_data(as_text=True)
    assert "Substantiated" in page
    assert "Within our remit." in page
    with office.session() as session:
        assert session.get(Case, case).status == "closed"
        assert len(session.scalars(select(Outgoing).where(Outgoing.kind == "reply")).all()) == 2


def test_meeting_record_with_a_file(office, client) -> None:  # noqa: F811
    case = _case(office)
    login(client)
    token = _token(client, case)
    missing = client.post(
        f"/cases/{case}/replies",
        data={"csrf": token, "text": "Minutes attached.", "purpose": "meeting"},
    )
    assert missing.status_code == 400
    big = b"x" * (2 * 1024 * 1024)  # over the app's 1 MiB default: replies take more
    done = client.post(
        f"/cases/{case}/replies",
        data={
            "csrf": token,
            "text": "Minutes attached.",
            "purpose": "meeting",
            "ready": "1",
            "files": (io.BytesIO(big), "minutes.txt"),
        },
        content_type="multipart/form-data",
    )
    assert done.status_code == 303
    assert "minutes.txt" in client.get(f"/cases/{case}").get_data(as_text=True)


def test_register_statistics_and_export(office, client) -> None:  # noqa: F811
    case = _case(office)
    login(client)
    register_page = client.get("/register").get_data(as_text=True)
    assert "2026-0001" in register_page  # the office's reference, not the server's id
    csv = client.post("/register.csv", data={"csrf": csrf(register_page)})
    assert csv.mimetype == "text/csv"
    assert case in csv.get_data(as_text=True)
    page = client.get("/statistics").get_data(as_text=True)
    assert "&lt;5" in page
    chart = client.get("/statistics/chart.svg")
    assert chart.mimetype == "image/svg+xml"
    assert b"<script" not in chart.data
    token = _token(client, case)
    short = client.post(
        f"/cases/{case}/export", data={"csrf": token, "passphrase": "x", "passphrase2": "x"}
    )
    assert short.status_code == 400
    package = client.post(
        f"/cases/{case}/export",
        data={
            "csrf": token,
            "passphrase": "long enough phrase",
            "passphrase2": "long enough phrase",
        },
    )
    assert package.status_code == 200
    assert export.open_package(io.BytesIO(package.data), "long enough phrase")[0] == case


def test_purge_and_reply_to_a_purged_case(office, client) -> None:  # noqa: F811
    case = _case(office)
    login(client)
    token = _token(client, case)
    unconfirmed = client.post(f"/cases/{case}/purge", data={"csrf": token, "reason": "Spam."})
    assert unconfirmed.status_code == 400
    assert "cannot be undone" in unconfirmed.get_data(as_text=True)
    no_reason = client.post(f"/cases/{case}/purge", data={"csrf": token, "confirm": "1"})
    assert no_reason.status_code == 400
    done = client.post(
        f"/cases/{case}/purge", data={"csrf": token, "confirm": "1", "reason": "Spam, obviously."}
    )
    assert done.status_code == 200
    assert "tombstone" in done.get_data(as_text=True)
    gone = client.post(f"/cases/{case}/replies", data={"csrf": token, "text": "Hello?"})
    assert gone.status_code == 410
    assert "purged" in gone.get_data(as_text=True)
    assert client.get(f"/cases/{case}").status_code == 410


def test_extension_tells_the_reporter_and_is_refused_once_late(office, client) -> None:  # noqa: F811
    late = _case(office)
    on_time = _case(office)
    with office.session() as session:  # investigated: no deletion due at the sign-in below
        for case in (late, on_time):
            session.get(Case, case).investigation_day = session.get(Case, case).received_day
    # Received 1 Nov 2026: the first feedback deadline is 1 Feb 2027.
    office.config.clock.now = office.config.clock.now.replace(year=2027, month=2, day=2)
    login(client)
    token = _token(client, late)
    refused = client.post(f"/cases/{late}/extend", data={"csrf": token, "reason": "Complex."})
    assert refused.status_code == 400
    assert "can no longer be extended" in refused.get_data(as_text=True)
    with office.session() as session:
        assert not session.get(Case, late).extended
        assert session.scalars(select(Reply).where(Reply.case_id == late)).all() == []
    office.config.clock.now = office.config.clock.now.replace(day=1, hour=22, minute=59)
    ok = client.post(f"/cases/{on_time}/extend", data={"csrf": token, "reason": "Complex."})
    assert ok.status_code == 303
    with office.session() as session:
        notice = session.scalar(select(Reply).where(Reply.case_id == on_time))
        assert (notice.purpose, notice.state) == ("extension", "ready")
    page = client.get(f"/cases/{on_time}").get_data(as_text=True)
    # 1 Feb + 3 months (22:59 UTC on 1 Feb is still 1 Feb in the office's UTC).
    assert "2027-05-01" in page
    assert "Extend the deadline" not in page  # once only


def test_closing_prompts_to_tell_the_reporter(office, client) -> None:  # noqa: F811
    case = _case(office)
    login(client)
    token = _token(client, case)
    closed = client.post(
        f"/cases/{case}/status",
        data={"csrf": token, "to": "closed", "outcome": "inadmissible", "reason": "Not ours."},
    )
    assert closed.status_code == 303
    assert "done=closed-tell" in closed.headers["Location"]
    page = client.get(closed.headers["Location"]).get_data(as_text=True)
    assert "Closing is not the feedback the law requires" in page
    assert "Stopped: the case is closed" in page
    assert "days late" not in page
    with office.session() as session:
        draft = session.scalar(select(Reply).where(Reply.case_id == case))
        assert (draft.purpose, draft.state) == ("feedback", "draft")


def test_withholding_the_acknowledgement_over_http(office, client) -> None:  # noqa: F811
    case = _case(office)
    login(client)
    token = _token(client, case)
    empty = client.post(f"/cases/{case}/withhold-acknowledgement", data={"csrf": token})
    assert empty.status_code == 400
    assert "Give a reason" in empty.get_data(as_text=True)
    ok = client.post(
        f"/cases/{case}/withhold-acknowledgement",
        data={"csrf": token, "reason": "The accused reads the office mail."},
    )
    assert ok.status_code == 303
    again = client.post(
        f"/cases/{case}/withhold-acknowledgement", data={"csrf": token, "reason": "Again."}
    )
    assert again.status_code == 400
    assert "already withheld" in again.get_data(as_text=True)
    with office.session() as session:
        assert session.get(Case, case).ack_withheld_day is not None


def test_the_inbox_deletes_a_case_itself_at_the_art_32_4_deadline(office, client) -> None:  # noqa: F811
    from whistle.inbox.models import PurgedCase

    kept = _case(office)
    doomed = _case(office)
    with office.session() as session:
        session.get(Case, kept).investigation_day = session.get(Case, kept).received_day
    # Received 1 Nov 2026: deletion due 1 Feb 2027, in the office's time zone; the inbox
    # deletes at sign-in.
    office.config.clock.now = office.config.clock.now.replace(
        year=2027, month=1, day=31, hour=23, minute=59
    )
    login(client)
    assert client.get("/dashboard").status_code == 200
    with office.session() as session:
        assert session.get(Case, doomed) is not None  # one minute before midnight: kept
    office.config.clock.advance(minutes=2)
    assert client.get("/dashboard").status_code == 200  # a page view deletes nothing
    with office.session() as session:
        assert session.get(Case, doomed) is not None
    lock_token = csrf(client.get("/dashboard").get_data(as_text=True))
    assert client.post("/lock", data={"csrf": lock_token}).status_code == 303
    signed_in = login(client)
    assert signed_in.status_code == 303, signed_in.get_data(as_text=True)[:300]
    with office.session() as session:
        assert session.get(Case, doomed) is None
        assert session.get(Case, kept) is not None
        gone = session.get(PurgedCase, doomed)
        assert (gone.grounds, gone.officer_id) == ("no-investigation", None)
        orders = session.scalars(select(Outgoing.case_id).where(Outgoing.kind == "purge")).all()
        assert orders == [doomed]


def test_deleting_one_file_or_field_over_http(office, client) -> None:  # noqa: F811
    from whistle.inbox.models import Deletion, Record
    from whistle.inbox.store import record_meta

    source, envelope = make_submission(office, files=[("health.pdf", b"%PDF x"), ("ok.txt", b"ok")])
    do_import(office, [incoming("submission", source.case_id, envelope)])
    case = source.case_id
    login(client)
    token = _token(client, case)
    with office.session() as session:
        record_id = session.scalar(select(Record.id).where(Record.case_id == case))
    bad = client.post(
        f"/cases/{case}/delete-part",
        data={"csrf": token, "part": f"file:{record_id}:7", "grounds": "other", "reason": "x y z"},
    )
    assert bad.status_code == 400
    assert "Choose a message, file or field" in bad.get_data(as_text=True)
    no_grounds = client.post(
        f"/cases/{case}/delete-part",
        data={"csrf": token, "part": f"file:{record_id}:0", "grounds": "", "reason": "x y z"},
    )
    assert no_grounds.status_code == 400
    with office.session() as session:
        assert session.scalars(select(Deletion)).all() == []
    ok = client.post(
        f"/cases/{case}/delete-part",
        data={
            "csrf": token,
            "part": f"file:{record_id}:0",
            "grounds": "special-category",
            "reason": "A medical report of a third person.",
        },
    )
    assert ok.status_code == 303
    page = client.get(f"/cases/{case}").get_data(as_text=True)
    assert "health.pdf" not in page
    assert "ok.txt" in page
    with office.session() as session:
        signed = office.sign_in()
        meta = record_meta(signed.keyring, session.get(Record, record_id))
        assert [f["name"] for f in meta["files"]] == ["ok.txt"]
        (entry,) = session.scalars(select(Deletion)).all()
        assert (entry.target, entry.grounds, entry.item) == (
            "file",
            "special-category",
            f"{record_id}/0",
        )


def test_postponing_the_deletion_needs_a_future_day_and_a_reason(office, client) -> None:  # noqa: F811
    case = _case(office)
    login(client)
    token = _token(client, case)
    past = client.post(
        f"/cases/{case}/postpone-deletion",
        data={"csrf": token, "until": "2026-11-01", "reason": "Court order 12/2026."},
    )
    assert past.status_code == 400
    assert "a day after today" in past.get_data(as_text=True)
    garbage = client.post(
        f"/cases/{case}/postpone-deletion",
        data={"csrf": token, "until": "soon", "reason": "Court order 12/2026."},
    )
    assert garbage.status_code == 400
    ok = client.post(
        f"/cases/{case}/postpone-deletion",
        data={"csrf": token, "until": "2027-06-01", "reason": "Court order 12/2026."},
    )
    assert ok.status_code == 303
    with office.session() as session:
        from datetime import date

        assert session.get(Case, case).deletion_postponed_to == date(2027, 6, 1)


def test_categories_the_responsable_and_the_annual_report_over_http(office, client) -> None:  # noqa: F811
    case = _case(office)
    login(client)
    board = client.get("/dashboard").get_data(as_text=True)
    assert "No Responsable del Sistema is recorded" in board
    page = client.get("/office")
    token = csrf(page.get_data(as_text=True))
    bad = client.post("/office/categories", data={"csrf": token, "categories": "Bad Key = x"})
    assert bad.status_code == 400
    assert "one category a line" in bad.get_data(as_text=True)
    ok = client.post(
        "/office/categories",
        data={"csrf": token, "categories": "contractacio = Contractació\nurbanisme = Urbanisme"},
    )
    assert ok.status_code == 303
    future = client.post(
        "/office/responsable", data={"csrf": token, "name": "Anna Puig", "day": "2030-01-01"}
    )
    assert future.status_code == 400
    assert (
        client.post(
            "/office/responsable", data={"csrf": token, "name": "Anna Puig", "day": "2026-10-30"}
        ).status_code
        == 303
    )
    board = client.get("/dashboard").get_data(as_text=True)
    assert "by 2026-11-13" in board  # 10 working days after Friday 30 Oct
    token = _token(client, case)
    unknown = client.post(f"/cases/{case}/category", data={"csrf": token, "category": "sport"})
    assert unknown.status_code == 400
    assert (
        client.post(
            f"/cases/{case}/category", data={"csrf": token, "category": "contractacio"}
        ).status_code
        == 303
    )
    referral = client.post(
        f"/cases/{case}/steps",
        data={
            "csrf": token,
            "kind": "referral",
            "day": "2026-11-02",
            "recipient": "Fiscalía Provincial de Barcelona",
            "immediate": "1",
            "note": "Possible crime of embezzlement.",
        },
    )
    assert referral.status_code == 303
    no_recipient = client.post(
        f"/cases/{case}/steps",
        data={"csrf": token, "kind": "referral", "day": "2026-11-02", "note": "Sent."},
    )
    assert no_recipient.status_code == 400
    assert "Name the recipient" in no_recipient.get_data(as_text=True)
    register_page = client.get("/register").get_data(as_text=True)
    assert "Contractació" in register_page
    assert "Fiscalía Provincial de Barcelona" in register_page
    with office.session() as session:
        from whistle.inbox.models import AuditEvent

        assert session.scalar(select(AuditEvent).where(AuditEvent.action == "register-viewed"))
    report = client.get("/office/annual-report?year=2026&mode=small-office")
    assert report.status_code == 200
    assert "Annual report 2026" in report.get_data(as_text=True)
    exported = client.get("/office/annual-report.csv?year=2026")
    assert exported.headers["Content-Type"].startswith("text/csv")
    assert "rate,referred (%),-" in exported.get_data(as_text=True)  # one case: no rates
