"""Officers joining and leaving: add, remove, roles, reset with the recovery key (the core)."""

import pytest
from sqlalchemy import select

from whistle.inbox.cases import case_detail
from whistle.inbox.errors import (
    InboxError,
    LastManagerError,
    LoginError,
    NoSuchOfficerError,
    PermissionDeniedError,
    RecoveryKeyError,
)
from whistle.inbox.models import AuditEvent, Officer
from whistle.inbox.officers import (
    change_roles,
    enrol_officer,
    open_with_recovery_key,
    remove_officer,
    reset_password,
)

from .conftest import PASSWORD, do_import, incoming, make_submission

NEW_PASSWORD = "another long passphrase here"


def _enrol(office, by, name, roles=("officer",), custodian=None):  # type: ignore[no-untyped-def]
    with office.session() as session:
        return enrol_officer(
            session,
            office.config,
            by_officer_id=by.officer_id,
            keyring=by.keyring,
            custodian_keyring=custodian if custodian is not None else by.custodian_keyring,
            name=name,
            password=NEW_PASSWORD,
            roles=roles,
        ).id


def _events(office, action):  # type: ignore[no-untyped-def]
    with office.session() as session:
        return list(session.scalars(select(AuditEvent).where(AuditEvent.action == action)))


def _officer_row(office, name):  # type: ignore[no-untyped-def]
    with office.session() as session:
        return session.scalar(select(Officer).where(Officer.name == name))


def test_added_officer_signs_in_and_decrypts_a_case(office) -> None:
    source, envelope = make_submission(office, subject="Tender rigged")
    do_import(office, [incoming("submission", source.case_id, envelope)])
    admin = office.sign_in()
    _enrol(office, admin, "berta")
    berta = office.sign_in("berta", NEW_PASSWORD)
    assert berta.roles == ("officer",)
    assert berta.keyring.signing_seed == admin.keyring.signing_seed
    assert berta.keyring.personal_secret != admin.keyring.personal_secret  # her own
    with office.session() as session:
        view = case_detail(session, berta.keyring, source.case_id, today=office.config.today())
    assert view.entries[0].form[0]["value"] == "Tender rigged"
    [event] = _events(office, "officer-added")[1:]
    assert event.officer_id == admin.officer_id
    assert event.detail == "berta: officer"


def test_non_manager_cannot_add_remove_or_change(office) -> None:
    admin = office.sign_in()
    _enrol(office, admin, "berta")
    berta = office.sign_in("berta", NEW_PASSWORD)
    with pytest.raises(PermissionDeniedError):
        _enrol(office, berta, "carles")
    with office.session() as session, pytest.raises(PermissionDeniedError):
        remove_officer(session, office.config, by_officer_id=berta.officer_id, name="admin")
    with office.session() as session, pytest.raises(PermissionDeniedError):
        change_roles(
            session,
            office.config,
            by_officer_id=berta.officer_id,
            name="berta",
            roles=("officer", "manager"),
        )
    assert _officer_row(office, "carles") is None
    assert not _officer_row(office, "admin").is_removed


def test_removed_officer_password_unlocks_nothing(office) -> None:
    admin = office.sign_in()
    _enrol(office, admin, "berta")
    with office.session() as session:
        remove_officer(session, office.config, by_officer_id=admin.officer_id, name="berta")
    with pytest.raises(LoginError, match="Wrong name or password"):
        office.sign_in("berta", NEW_PASSWORD)
    row = _officer_row(office, "berta")
    assert row.is_removed
    assert row.wrapped_keyring == b""
    assert row.wrapped_custodian_keyring is None
    assert row.password_hash == ""
    assert row.roles == ()
    [event] = _events(office, "officer-removed")
    assert event.officer_id == admin.officer_id
    assert event.detail.startswith("berta (was: officer)")
    # A removed name is not handed out again, and cannot be removed twice.
    with pytest.raises(InboxError, match="removed"):
        _enrol(office, admin, "berta")
    with office.session() as session, pytest.raises(NoSuchOfficerError):
        remove_officer(session, office.config, by_officer_id=admin.officer_id, name="berta")


def test_removed_manager_loses_their_rights_at_once(office) -> None:
    admin = office.sign_in()
    _enrol(office, admin, "marta", roles=("officer", "manager"))
    marta = office.sign_in("marta", NEW_PASSWORD)
    with office.session() as session:
        remove_officer(session, office.config, by_officer_id=admin.officer_id, name="marta")
    # Still holding keys from before the removal (a stale session) gives no right to act.
    with pytest.raises(PermissionDeniedError):
        _enrol(office, marta, "ghost")


def test_last_manager_cannot_be_removed_or_demoted(office) -> None:
    admin = office.sign_in()
    with office.session() as session, pytest.raises(LastManagerError):
        remove_officer(session, office.config, by_officer_id=admin.officer_id, name="admin")
    with office.session() as session, pytest.raises(LastManagerError):
        change_roles(
            session, office.config, by_officer_id=admin.officer_id, name="admin", roles=("officer",)
        )
    assert office.sign_in().roles == ("officer", "manager")
    assert _events(office, "officer-removed") == []
    # With a second manager, the first may go (even themselves).
    _enrol(office, admin, "marta", roles=("manager",))
    with office.session() as session:
        remove_officer(session, office.config, by_officer_id=admin.officer_id, name="admin")
    marta = office.sign_in("marta", NEW_PASSWORD)
    with office.session() as session, pytest.raises(LastManagerError):
        remove_officer(session, office.config, by_officer_id=marta.officer_id, name="marta")


def test_custodian_key_only_from_a_custodian_or_the_recovery_key(office) -> None:
    admin = office.sign_in()
    with pytest.raises(PermissionDeniedError):
        _enrol(office, admin, "carla", roles=("custodian",))
    with office.session() as session:
        recovered = open_with_recovery_key(session, office.created.recovery_key)
    _enrol(
        office,
        admin,
        "carla",
        roles=("officer", "custodian"),
        custodian=recovered.custodian_keyring,
    )
    carla = office.sign_in("carla", NEW_PASSWORD)
    assert carla.custodian_keyring == recovered.custodian_keyring


def test_roles_change_and_custodian_only_taken_away(office) -> None:
    admin = office.sign_in()
    with office.session() as session:
        recovered = open_with_recovery_key(session, office.created.recovery_key)
    _enrol(
        office,
        admin,
        "carla",
        roles=("officer", "custodian"),
        custodian=recovered.custodian_keyring,
    )
    _enrol(office, admin, "berta")
    with office.session() as session:
        change_roles(
            session,
            office.config,
            by_officer_id=admin.officer_id,
            name="berta",
            roles=("officer", "manager"),
        )
        change_roles(
            session, office.config, by_officer_id=admin.officer_id, name="carla", roles=("officer",)
        )
    assert office.sign_in("berta", NEW_PASSWORD).roles == ("officer", "manager")
    carla = office.sign_in("carla", NEW_PASSWORD)
    assert carla.roles == ("officer",)
    assert carla.custodian_keyring is None
    assert _officer_row(office, "carla").wrapped_custodian_keyring is None
    with office.session() as session, pytest.raises(PermissionDeniedError):
        change_roles(
            session,
            office.config,
            by_officer_id=admin.officer_id,
            name="berta",
            roles=("officer", "custodian"),
        )
    details = [e.detail for e in _events(office, "officer-roles-changed")]
    assert details == ["berta: officer -> officer, manager", "carla: officer, custodian -> officer"]


def test_reset_with_the_recovery_key(office) -> None:
    admin = office.sign_in()
    with office.session() as session:
        reset_password(
            session,
            office.config,
            name="admin",
            recovery_key=office.created.recovery_key.lower().replace(" ", "-"),
            new_password=NEW_PASSWORD,
        )
    with pytest.raises(LoginError):
        office.sign_in()
    reset = office.sign_in(password=NEW_PASSWORD).keyring
    assert reset.storage_secret == admin.keyring.storage_secret
    assert reset.personal_secret != admin.keyring.personal_secret  # a new one, not the recovery's
    [event] = _events(office, "password-reset-with-recovery-key")
    assert event.officer_id == admin.officer_id


def test_reset_gives_a_custodian_their_custodian_key_back(office) -> None:
    admin = office.sign_in()
    with office.session() as session:
        recovered = open_with_recovery_key(session, office.created.recovery_key)
    _enrol(office, admin, "carla", roles=("custodian",), custodian=recovered.custodian_keyring)
    with office.session() as session:
        reset_password(
            session,
            office.config,
            name="carla",
            recovery_key=office.created.recovery_key,
            new_password=PASSWORD,
        )
    assert office.sign_in("carla", PASSWORD).custodian_keyring == recovered.custodian_keyring


def _mistype(key: str) -> str:
    first = key[0]
    return ("B" if first != "B" else "C") + key[1:]


@pytest.mark.parametrize(
    ("which", "message"),
    [
        ("mistyped", "not a recovery key"),
        ("other-office", "does not open this office's keys"),
    ],
)
def test_wrong_recovery_key_refused_and_nothing_changes(office, which, message) -> None:
    from whistle.crypto import generate_recovery_key

    key = _mistype(office.created.recovery_key) if which == "mistyped" else generate_recovery_key()
    before = _officer_row(office, "admin")
    events = len(_events(office, "signed-in"))
    with office.session() as session, pytest.raises(RecoveryKeyError, match=message):
        reset_password(
            session, office.config, name="admin", recovery_key=key, new_password=NEW_PASSWORD
        )
    after = _officer_row(office, "admin")
    assert (after.password_hash, after.wrapped_keyring) == (
        before.password_hash,
        before.wrapped_keyring,
    )
    assert _events(office, "password-reset-with-recovery-key") == []
    assert len(_events(office, "signed-in")) == events
    office.sign_in()  # the old password still works


def test_reset_for_unknown_or_removed_officer_refused(office) -> None:
    admin = office.sign_in()
    _enrol(office, admin, "berta")
    with office.session() as session:
        remove_officer(session, office.config, by_officer_id=admin.officer_id, name="berta")
    for name in ("nobody", "berta"):
        with office.session() as session, pytest.raises(NoSuchOfficerError):
            reset_password(
                session,
                office.config,
                name=name,
                recovery_key=office.created.recovery_key,
                new_password=NEW_PASSWORD,
            )
    with pytest.raises(LoginError):
        office.sign_in("berta", NEW_PASSWORD)
