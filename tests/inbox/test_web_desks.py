"""Desks in the web inbox: the pages follow the keys — another desk's case is not found, a
manager administers membership, an officer steps aside and the case leaves their list."""

from sqlalchemy import select

from whistle.inbox.models import AuditEvent, Case, DeskMember

from .conftest import add_officer_in, do_import, incoming, listed_cases, make_submission
from .test_web import app, csrf, login  # noqa: F401 - fixtures


def _cases(office):  # type: ignore[no-untyped-def]
    a, env_a = make_submission(office, description="antifraud matter")
    b, env_b = make_submission(office, desk="ethics", description="ethics matter")
    do_import(
        office,
        [incoming("submission", a.case_id, env_a), incoming("submission", b.case_id, env_b)],
    )
    return a.case_id, b.case_id


def test_another_desks_case_is_not_found_and_notlisted_cases(office, app) -> None:  # noqa: F811
    add_officer_in(office, "ana", ["antifraud"])
    a, b = _cases(office)
    ana = app.test_client()
    login(ana, "ana")
    listing = ana.get("/cases").get_data(as_text=True)
    assert a[:8] in listing
    assert b[:8] not in listing
    assert ana.get(f"/cases/{b}").status_code == 404
    assert ana.get(f"/cases/{a}").status_code == 200
    assert "ethics matter" not in ana.get("/cases?q=ethics").get_data(as_text=True)


def test_a_manager_adds_and_removes_members(office, app) -> None:  # noqa: F811
    add_officer_in(office, "ana", ["antifraud"])
    add_officer_in(office, "berta", ["antifraud"])
    _cases(office)
    admin = app.test_client()
    login(admin)
    page = admin.get("/desks").get_data(as_text=True)
    assert "ana" in page
    token = csrf(page)
    added = admin.post(
        "/desks/members", data={"csrf": token, "desk": "ethics", "name": "ana", "action": "add"}
    )
    assert added.status_code == 303
    removed = admin.post(
        "/desks/members",
        data={"csrf": token, "desk": "antifraud", "name": "ana", "action": "remove"},
    )
    assert removed.status_code == 303
    ana = office.sign_in("ana")
    with office.session() as session:
        desks = {
            m.desk_id
            for m in session.scalars(
                select(DeskMember).where(DeskMember.officer_id == ana.officer_id)
            )
        }
        actions = [e.action for e in session.scalars(select(AuditEvent))]
    assert desks == {"ethics"}
    assert "desk-member-added" in actions
    assert "desk-member-removed" in actions
    # An unknown officer: a clear refusal, nothing changed.
    bad = admin.post(
        "/desks/members", data={"csrf": token, "desk": "ethics", "name": "nobody", "action": "add"}
    )
    assert bad.status_code == 400
    assert "No officer has that name." in bad.get_data(as_text=True)


def test_an_officer_cannot_administer_desks(office, app) -> None:  # noqa: F811
    add_officer_in(office, "ana", ["antifraud"])
    ana = app.test_client()
    login(ana, "ana")
    assert ana.get("/desks").status_code == 403
    token = csrf(ana.get("/cases").get_data(as_text=True))
    refused = ana.post(
        "/desks/members", data={"csrf": token, "desk": "ethics", "name": "ana", "action": "add"}
    )
    assert refused.status_code == 403


def test_stepping_aside_in_the_page(office, app) -> None:  # noqa: F811
    add_officer_in(office, "ana", ["antifraud"])
    a, _b = _cases(office)
    ana = app.test_client()
    login(ana, "ana")
    page = ana.get(f"/cases/{a}").get_data(as_text=True)
    token = csrf(page)
    short = ana.post(f"/cases/{a}/step-aside", data={"csrf": token, "reason": "no"})
    assert short.status_code == 400
    assert ana.get(f"/cases/{a}").status_code == 200  # nothing changed
    done = ana.post(
        f"/cases/{a}/step-aside", data={"csrf": token, "reason": "I know the person reported."}
    )
    assert done.status_code == 303
    assert ana.get(f"/cases/{a}").status_code == 404
    assert a not in listed_cases(office, office.sign_in("ana"))
    assert a in listed_cases(office, office.sign_in())


def test_removing_a_desk_in_the_page(office, app) -> None:  # noqa: F811
    """The confirmation box says how many cases the desk holds; without the confirmation or
    with its cases left behind nothing changes; with both the cases move and the desk goes."""
    add_officer_in(office, "ana", ["antifraud"])
    _a, b = _cases(office)
    admin = app.test_client()
    login(admin)
    page = admin.get("/desks").get_data(as_text=True)
    assert "1 case, 1 open" in page
    assert "<summary>Remove Ethics desk</summary>" in page
    token = csrf(page)
    form = {"csrf": token, "desk": "ethics", "successor": "antifraud"}
    unconfirmed = admin.post("/desks/remove", data=form)
    assert unconfirmed.status_code == 400
    assert "Tick the confirmation" in unconfirmed.get_data(as_text=True)
    kept = admin.post("/desks/remove", data={**form, "confirm": "yes"})
    assert kept.status_code == 400
    assert "This desk holds 1 case (1 open)" in kept.get_data(as_text=True)
    with office.session() as session:
        assert session.scalar(select(Case.desk_id).where(Case.id == b)) == "ethics"
    done = admin.post("/desks/remove", data={**form, "confirm": "yes", "move": "yes"})
    assert done.status_code == 303
    after = admin.get(done.headers["Location"]).get_data(as_text=True)
    assert "The desk was removed." in after
    assert "Remove Ethics desk" not in after
    assert "This is the office's only desk" in after
    assert "Ethics desk, removed on " in after  # by its name, from the last card with it
    assert "a report still sent to it goes to Anti-fraud office. Its members keep" in after
    assert b in listed_cases(office, office.sign_in("ana"))
    with office.session() as session:
        actions = [e.action for e in session.scalars(select(AuditEvent))]
    assert "desk-removed" in actions
