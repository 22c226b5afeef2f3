"""The Officers pages: managers add, change and remove officers; everyone else gets a 403."""

import re

import pytest
from sqlalchemy import select

from whistle.inbox import compartments, create_app
from whistle.inbox.errors import LoginError
from whistle.inbox.models import AuditEvent, Officer
from whistle.inbox.officers import change_roles, enrol_officer, remove_officer

from .conftest import PASSWORD, do_import, incoming, make_submission

NEW_PASSWORD = "another long passphrase here"


@pytest.fixture
def app(office):
    return create_app(office.config)


def csrf(html: str) -> str:
    match = re.search(r'name="csrf" value="([^"]+)"', html)
    assert match
    return match.group(1)


def signed_in(app, name="admin", password=PASSWORD):  # type: ignore[no-untyped-def]
    client = app.test_client()
    assert client.post("/login", data={"name": name, "password": password}).status_code == 303
    return client


def token(client) -> str:  # type: ignore[no-untyped-def]
    return csrf(client.get("/cases").get_data(as_text=True))


def add(client, name, password=NEW_PASSWORD, roles=("officer",), desks=None):  # type: ignore[no-untyped-def]
    """The add-officer form; an officer is ticked into both desks unless ``desks`` says."""
    if desks is None:
        desks = ["antifraud", "ethics"] if "officer" in roles else []
    data = {"csrf": token(client), "name": name, "password": password, "repeat": password}
    data.update({f"role-{r}": "yes" for r in roles})
    return client.post("/officers/add", data={**data, "desk": desks})


def officer_id(office, name) -> int:  # type: ignore[no-untyped-def]
    with office.session() as session:
        return session.scalar(select(Officer.id).where(Officer.name == name))


def test_manager_adds_an_officer_who_then_reads_cases(office, app) -> None:
    source, envelope = make_submission(office, subject="Subsidy fraud")
    do_import(office, [incoming("submission", source.case_id, envelope)])
    admin = signed_in(app)
    page = admin.get("/officers").get_data(as_text=True)
    assert "Add an officer" in page
    assert 'href="/officers"' in admin.get("/cases").get_data(as_text=True)
    response = add(admin, "berta")
    assert response.status_code == 303
    assert "berta was added" in admin.get(response.location).get_data(as_text=True)
    berta = signed_in(app, "berta", NEW_PASSWORD)
    assert "Subsidy fraud" in berta.get(f"/cases/{source.case_id}").get_data(as_text=True)


def test_add_form_errors_are_linked_to_fields(office, app) -> None:
    admin = signed_in(app)
    response = add(admin, "has space", password="short")
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert 'href="#name"' in html
    assert 'href="#password"' in html
    assert 'aria-invalid="true"' in html
    custodian = add(admin, "carla", roles=("custodian",))
    assert custodian.status_code == 400
    assert "--use-recovery-key" in custodian.get_data(as_text=True)
    assert add(admin, "admin").status_code == 400
    with office.session() as session:
        assert session.scalar(select(Officer).where(Officer.name == "carla")) is None


def test_non_manager_gets_403_everywhere(office, app) -> None:
    admin = office.sign_in()
    with office.session() as session:
        enrol_officer(
            session,
            office.config,
            by_officer_id=admin.officer_id,
            keyring=admin.keyring,
            custodian_keyring=None,
            name="berta",
            password=NEW_PASSWORD,
            roles=("officer",),
        )
    berta = signed_in(app, "berta", NEW_PASSWORD)
    assert 'href="/officers"' not in berta.get("/cases").get_data(as_text=True)
    admin_id = officer_id(office, "admin")
    t = token(berta)
    assert berta.get("/officers").status_code == 403
    assert berta.get(f"/officers/{admin_id}").status_code == 403
    assert add(berta, "carles").status_code == 403
    assert (
        berta.post(f"/officers/{admin_id}/remove", data={"csrf": t, "confirm": "yes"}).status_code
        == 403
    )
    assert (
        berta.post(
            f"/officers/{officer_id(office, 'berta')}/roles",
            data={"csrf": t, "role-manager": "yes"},
        ).status_code
        == 403
    )
    assert officer_id(office, "carles") is None
    assert office.sign_in().roles == ("officer", "manager")


def test_remove_recommends_rotation_and_locks_them_out(office, app) -> None:
    admin = signed_in(app)
    add(admin, "berta")
    berta = signed_in(app, "berta", NEW_PASSWORD)
    berta_id = officer_id(office, "berta")
    unconfirmed = admin.post(f"/officers/{berta_id}/remove", data={"csrf": token(admin)})
    assert unconfirmed.status_code == 400
    assert 'href="#confirm"' in unconfirmed.get_data(as_text=True)
    removed = admin.post(
        f"/officers/{berta_id}/remove", data={"csrf": token(admin), "confirm": "yes"}
    )
    assert removed.status_code == 200
    html = removed.get_data(as_text=True)
    assert "whistle inbox rotate-keys" in html
    assert "Rotating keys" in html
    assert "could have copied" in html
    # Her open session is gone, and her password opens nothing.
    assert berta.get("/cases").status_code == 303
    assert (
        app.test_client()
        .post("/login", data={"name": "berta", "password": NEW_PASSWORD})
        .status_code
        == 401
    )
    with pytest.raises(LoginError):
        office.sign_in("berta", NEW_PASSWORD)
    with office.session() as session:
        actions = [e.action for e in session.scalars(select(AuditEvent))]
    assert "officer-removed" in actions
    assert "Removed" in admin.get("/officers").get_data(as_text=True)


def test_last_manager_cannot_be_removed_in_the_ui(office, app) -> None:
    admin = signed_in(app)
    admin_id = officer_id(office, "admin")
    response = admin.post(
        f"/officers/{admin_id}/remove", data={"csrf": token(admin), "confirm": "yes"}
    )
    assert response.status_code == 400
    assert "last manager" in response.get_data(as_text=True)
    demote = admin.post(
        f"/officers/{admin_id}/roles", data={"csrf": token(admin), "role-officer": "yes"}
    )
    assert demote.status_code == 400
    assert office.sign_in().roles == ("officer", "manager")


def test_roles_change_signs_them_out(office, app) -> None:
    admin = signed_in(app)
    add(admin, "berta")
    berta = signed_in(app, "berta", NEW_PASSWORD)
    berta_id = officer_id(office, "berta")
    response = admin.post(
        f"/officers/{berta_id}/roles",
        data={"csrf": token(admin), "role-officer": "yes", "role-manager": "yes"},
    )
    assert response.status_code == 303
    assert berta.get("/cases").status_code == 303
    assert office.sign_in("berta", NEW_PASSWORD).roles == ("officer", "manager")


def test_login_page_explains_a_forgotten_password(app) -> None:
    html = app.test_client().get("/login").get_data(as_text=True)
    assert "whistle inbox reset-password" in html
    assert 'name="recovery' not in html


@pytest.mark.parametrize("lang", ["ca", "es", "en"])
def test_officer_pages_render_in_every_language(office, app, lang) -> None:
    admin = signed_in(app)
    admin_id = officer_id(office, "admin")
    for url in ("/officers", f"/officers/{admin_id}", "/login"):
        response = admin.get(url, headers={"Accept-Language": lang})
        assert response.status_code in (200, 302), url
        assert f'lang="{lang}"' in response.get_data(as_text=True) or response.status_code == 302


def test_unknown_or_removed_officer_page_is_404(office, app) -> None:
    admin = signed_in(app)
    add(admin, "berta")
    berta_id = officer_id(office, "berta")
    admin.post(f"/officers/{berta_id}/remove", data={"csrf": token(admin), "confirm": "yes"})
    assert admin.get(f"/officers/{berta_id}").status_code == 404
    assert admin.get("/officers/999").status_code == 404
    again = add(admin, "berta")
    assert again.status_code == 400
    assert "belonged to an officer who was removed" in again.get_data(as_text=True)


@pytest.mark.parametrize("change", ["remove", "roles"])
def test_a_change_made_elsewhere_ends_the_open_session(office, app, change) -> None:
    """A removal or role change from the command line locks the officer's open browser
    session at its next request, not at the idle lock."""
    admin = office.sign_in()
    with office.session() as session:
        enrol_officer(
            session,
            office.config,
            by_officer_id=admin.officer_id,
            keyring=admin.keyring,
            custodian_keyring=None,
            name="berta",
            password=NEW_PASSWORD,
            roles=("officer",),
        )
    berta = signed_in(app, "berta", NEW_PASSWORD)
    assert berta.get("/cases").status_code == 200
    with office.session() as session:
        if change == "remove":
            remove_officer(session, office.config, by_officer_id=admin.officer_id, name="berta")
        else:
            change_roles(
                session,
                office.config,
                by_officer_id=admin.officer_id,
                name="berta",
                roles=("officer", "manager"),
            )
    response = berta.get("/cases")
    assert response.status_code == 303
    assert "/login" in response.location
    assert len(app.extensions["whistle_inbox"].keystore) == 0


def test_the_add_form_offers_the_desks_and_says_what_no_desk_means(office, app) -> None:
    admin = signed_in(app)
    page = admin.get("/officers").get_data(as_text=True)
    assert 'name="desk" value="ethics"' in page
    assert "opens no case until a manager adds them to a desk" in page
    # Desks for someone who will not handle cases: refused, nobody added.
    refused = add(admin, "mar", roles=("manager",), desks=["ethics"])
    assert refused.status_code == 400
    assert "Only officers handle cases" in refused.get_data(as_text=True)
    assert officer_id(office, "mar") is None
    unknown = add(admin, "mar", desks=["nowhere"])
    assert unknown.status_code == 400
    assert "Choose desks of this office." in unknown.get_data(as_text=True)
    assert officer_id(office, "mar") is None
    # One desk: a member of it only, recorded.
    one = add(admin, "nuria", desks=["ethics"])
    assert one.status_code == 303
    with office.session() as session:
        assert compartments.desks_of(session, officer_id(office, "nuria")) == ["ethics"]
        details = [
            e.detail
            for e in session.scalars(
                select(AuditEvent).where(AuditEvent.action == "desk-member-added")
            )
        ]
    assert "nuria to ethics" in details
    # No desk: allowed, and the page says plainly what that means.
    none = add(admin, "oriol", desks=[])
    assert "oriol is in no desk: they open no case" in admin.get(none.location).get_data(
        as_text=True
    )
    with office.session() as session:
        assert compartments.desks_of(session, officer_id(office, "oriol")) == []
