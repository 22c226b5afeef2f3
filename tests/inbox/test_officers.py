"""Officers: roles, wrapped keys, sign-in throttling, password change, idle lock."""

import pytest
from sqlalchemy import select

from whistle.inbox.compartments import wire_keys
from whistle.inbox.errors import InboxError, LoginError, PermissionDeniedError, ThrottledError
from whistle.inbox.keystore import KeyStore
from whistle.inbox.models import Officer
from whistle.inbox.officers import add_officer, change_password

from .conftest import PASSWORD


def test_sign_in_unwraps_the_office_keys(office) -> None:
    signed = office.sign_in()
    with office.session() as session:  # the desk keys open through the desks' compartments
        assert set(wire_keys(session, signed.keyring)[0].desks) == {"antifraud", "ethics"}
    assert signed.custodian_keyring is None
    assert signed.roles == ("officer", "manager")


def test_wrong_password_and_unknown_name_say_the_same(office) -> None:
    with pytest.raises(LoginError) as wrong_password:
        office.sign_in(password="not the password at all")
    with pytest.raises(LoginError) as unknown_name:
        office.sign_in(name="nobody")
    assert str(wrong_password.value) == str(unknown_name.value) == "Wrong name or password."


def test_throttled_per_account_then_free_again(office, clock) -> None:
    for _ in range(3):
        with pytest.raises(LoginError):
            office.sign_in(password="wrong password here")
    # Even the right password is refused while throttled: guessing gains nothing.
    with pytest.raises(ThrottledError, match="Too many failed sign-ins"):
        office.sign_in()
    clock.advance(minutes=16)
    assert office.sign_in().name == "admin"


def test_failures_under_other_names_never_lock_an_officer_out(office) -> None:
    """Attack review finding 8: 20 made-up names locked every officer out for 15 minutes."""
    for i in range(50):
        with pytest.raises(LoginError):
            office.sign_in(name=f"guess{i}", password="wrong password here")
    for near in ("Admin", "admin2", "admi"):  # wrong names close to the right one
        for _ in range(3):
            with pytest.raises(LoginError):
                office.sign_in(name=near, password="wrong password here")
    assert office.sign_in().name == "admin"


def test_a_made_up_name_is_throttled_like_a_real_one(office) -> None:
    """Counting by the name typed: throttling still says nothing about which names exist."""
    for name in ("admin", "nobody"):
        for _ in range(3):
            with pytest.raises(LoginError):
                office.sign_in(name=name, password="wrong password here")
        with pytest.raises(ThrottledError):
            office.sign_in(name=name)


def test_success_resets_the_account_count(office) -> None:
    for _ in range(2):
        with pytest.raises(LoginError):
            office.sign_in(password="wrong password here")
    office.sign_in()
    for _ in range(2):
        with pytest.raises(LoginError):
            office.sign_in(password="wrong password here")
    office.sign_in()


def test_custodian_gets_the_custodian_key_only_from_a_custodian(office) -> None:
    from whistle.crypto import recovery_wrapping_key
    from whistle.inbox.keyring import unwrap_custodian_recovery
    from whistle.inbox.models import Office

    admin = office.sign_in()
    with office.session() as session, pytest.raises(PermissionDeniedError):
        add_officer(
            session,
            office.config,
            name="carla",
            password=PASSWORD,
            roles=("custodian",),
            keyring=admin.keyring,
            custodian_keyring=None,
        )
    with office.session() as session:
        row = session.scalar(select(Office))
        custodian = unwrap_custodian_recovery(
            row.recovery_custodian_keyring, recovery_wrapping_key(office.created.recovery_key)
        )
        add_officer(
            session,
            office.config,
            name="carla",
            password=PASSWORD,
            roles=("custodian",),
            keyring=admin.keyring,
            custodian_keyring=custodian,
        )
        add_officer(
            session,
            office.config,
            name="olga",
            password=PASSWORD,
            roles=("officer",),
            keyring=admin.keyring,
            custodian_keyring=custodian,
        )
    carla = office.sign_in("carla")
    assert carla.custodian_keyring == custodian
    olga = office.sign_in("olga")
    assert olga.custodian_keyring is None
    with office.session() as session:
        assert (
            session.scalar(select(Officer).where(Officer.name == "olga")).wrapped_custodian_keyring
            is None
        )


def test_duplicate_name_and_weak_password_refused(office) -> None:
    admin = office.sign_in()
    for name, password in (("admin", PASSWORD), ("new", "short")):
        with office.session() as session, pytest.raises(InboxError):
            add_officer(
                session,
                office.config,
                name=name,
                password=password,
                roles=("officer",),
                keyring=admin.keyring,
                custodian_keyring=None,
            )


def test_change_password_rewraps(office) -> None:
    admin = office.sign_in()
    new = "a different long passphrase"
    with office.session() as session, pytest.raises(LoginError):
        change_password(session, office.config, admin.officer_id, "wrong old one", new)
    with office.session() as session:
        change_password(session, office.config, admin.officer_id, PASSWORD, new)
    with pytest.raises(LoginError):
        office.sign_in()
    assert office.sign_in(password=new).keyring == admin.keyring  # the same keys, rewrapped


def test_idle_lock_drops_keys(office, clock) -> None:
    admin = office.sign_in()
    store = KeyStore(idle_seconds=600, clock=clock)
    entry = store.open(admin.officer_id, admin.name, admin.roles, admin.keyring, None)
    clock.advance(seconds=599)
    assert store.get(entry.session_id) is entry  # touching keeps it alive
    clock.advance(seconds=599)
    assert store.get(entry.session_id) is entry
    clock.advance(seconds=601)
    assert store.get(entry.session_id) is None
    assert len(store) == 0


def test_idle_sessions_of_others_are_swept(office, clock) -> None:
    admin = office.sign_in()
    store = KeyStore(idle_seconds=60, clock=clock)
    store.open(admin.officer_id, admin.name, admin.roles, admin.keyring, None)
    clock.advance(seconds=61)
    fresh = store.open(admin.officer_id, admin.name, admin.roles, admin.keyring, None)
    assert len(store) == 1
    assert store.get(fresh.session_id) is fresh


def test_old_attempts_are_pruned(office, clock) -> None:
    from whistle.inbox.models import LoginAttempt

    with pytest.raises(LoginError):
        office.sign_in(password="wrong password here")
    clock.advance(minutes=16)
    office.sign_in()
    with office.session() as session:
        rows = list(session.scalars(select(LoginAttempt)))
    assert [r.succeeded for r in rows] == [True]
