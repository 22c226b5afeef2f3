"""Records held back and the migration's interim copies, in the web inbox: the Bundles page
files what the signed-in officer's desks open and lists what waits for other desks; the Desks
page shows the interim copies and a manager ends them."""

from sqlalchemy import select

from whistle.crypto import seal_grant
from whistle.inbox import compartments, held_back
from whistle.inbox.models import AuditEvent, Case, DeskGrant, Office
from whistle.inbox.store import import_records

from .conftest import add_officer_in as _add
from .conftest import incoming, make_submission
from .test_web import app, csrf, login  # noqa: F401 - fixtures


def test_the_bundles_page_lists_what_waits_and_files_it_for_a_member(office, app) -> None:  # noqa: F811
    ana = _add(office, "ana", ["antifraud"])
    _add(office, "berta", ["ethics"])
    source, envelope = make_submission(office, desk="ethics", description="ethics matter")
    with office.session() as session:
        report = import_records(
            session,
            ana.keyring,
            [incoming("submission", source.case_id, envelope)],
            store_dir=office.config.store_dir,
            now=office.config.clock(),
        )
    assert report.held == [report.held[0]]
    client = app.test_client()
    login(client, "ana")
    page = client.get("/bundles/").get_data(as_text=True)
    assert "Waiting for another desk" in page
    assert "1 report(s) and 0 follow-up(s) for the desk Ethics desk" in page
    with office.session() as session:
        assert held_back.count(session) == 1
        assert session.scalar(select(Case.id)) is None

    berta = app.test_client()
    login(berta, "berta")  # the sign-in files it already
    with office.session() as session:
        assert held_back.count(session) == 0
        case = session.get(Case, source.case_id)
        assert case is not None
        assert case.desk_id == "ethics"
    assert "Waiting for another desk" not in berta.get("/bundles/").get_data(as_text=True)


def _interim_copy(office, desk_id: str) -> None:  # type: ignore[no-untyped-def]
    """The state ``desks migrate`` leaves: the desk's key also sealed to the storage key."""
    admin = office.sign_in()
    with office.session() as session:
        generation = compartments.newest_generation(session, desk_id)
        secret = compartments.open_desks(session, admin.keyring).desks[(desk_id, generation)]
        storage = session.get(Office, 1).storage_public_key
        session.add(
            DeskGrant(
                desk_id=desk_id,
                generation=generation,
                holder=compartments.STORAGE,
                grant=seal_grant(secret, storage, f"desk/{desk_id}/{generation}"),
            )
        )


def test_a_manager_ends_the_interim_copies_from_the_desks_page(office, app) -> None:  # noqa: F811
    admin = app.test_client()
    login(admin)
    page = admin.get("/desks").get_data(as_text=True)
    assert "None remain" in page
    _interim_copy(office, "ethics")
    page = admin.get("/desks").get_data(as_text=True)
    assert "Interim copies of the desk keys" in page
    assert "every member holds it" in page
    # Not confirmed: refused, nothing changed.
    refused = admin.post("/desks/interim", data={"csrf": csrf(page)})
    assert refused.status_code == 400
    with office.session() as session:
        assert compartments.interim(session)
    done = admin.post("/desks/interim", data={"csrf": csrf(page), "confirm": "yes"})
    assert done.status_code == 303
    with office.session() as session:
        assert compartments.interim(session) == []
        actions = [e.action for e in session.scalars(select(AuditEvent))]
    assert "desk-interim-keys-deleted" in actions
    assert "None remain" in admin.get("/desks").get_data(as_text=True)


def test_only_a_manager_ends_the_interim_copies(office, app) -> None:  # noqa: F811
    _add(office, "ana", ["antifraud"])
    ana = app.test_client()
    login(ana, "ana")
    page = ana.get("/bundles/").get_data(as_text=True)
    _interim_copy(office, "ethics")  # after her sign-in (which drops copies nobody waits for)
    response = ana.post("/desks/interim", data={"csrf": csrf(page), "confirm": "yes"})
    assert response.status_code == 403
    with office.session() as session:
        assert compartments.interim(session)


def test_the_keys_page_asks_for_a_rotation_after_someone_left_a_desk(office, app) -> None:  # noqa: F811
    from whistle.inbox import epochs

    _add(office, "ana", ["antifraud"])
    admin = app.test_client()
    login(admin)
    notice = "someone left a desk"
    assert notice not in admin.get("/keys/").get_data(as_text=True)
    page = admin.get("/desks").get_data(as_text=True)
    removed = admin.post(
        "/desks/members",
        data={"csrf": csrf(page), "desk": "antifraud", "name": "ana", "action": "remove"},
    )
    assert removed.status_code == 303
    assert notice in admin.get("/keys/").get_data(as_text=True)
    office.config.clock.advance(hours=1)
    with office.session() as session:
        epochs.rotate(session, office.sign_in().keyring, office.config.clock())
        assert epochs.left_since_rotation(session) == 0
    assert notice not in admin.get("/keys/").get_data(as_text=True)
