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
    assert case[:8] in register_page
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
