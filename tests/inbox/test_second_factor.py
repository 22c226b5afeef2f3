"""The second factor without a browser: the wrap (password and factor together), the keys'
lifecycle at the level of officers.py, the recovery path, and sign-in Argon2id at the stated
strength, upgraded at the next sign-in. The WebAuthn side runs in a real browser
(test_browser_security_keys.py)."""

import json
from dataclasses import replace

import pytest
from argon2 import PasswordHasher

from whistle.crypto import (
    DEFAULT_PARAMS,
    KdfParams,
    MalformedError,
    SecondFactorNeededError,
    WrongPassphraseError,
    passphrase_params,
    prf_wrapping_key,
    unwrap_with_key,
)
from whistle.inbox.audit import verify_chain
from whistle.inbox.config import PasswordHashParams
from whistle.inbox.errors import (
    LastSecurityKeyError,
    LoginError,
    SecondFactorRequiredError,
    SecurityKeyLabelError,
    SecurityKeyNotEnrolledError,
    SecurityKeyRefusedError,
)
from whistle.inbox.keyring import OfficeKeyring, unwrap_office, wrap_for_password
from whistle.inbox.models import AuditEvent, Officer, SecurityKey
from whistle.inbox.officers import (
    add_officer,
    change_password,
    check_password,
    enrol_security_key,
    hasher,
    list_security_keys,
    open_with_recovery_key,
    remove_own_security_key,
    remove_security_key_with_recovery,
    reset_password,
    sign_in,
    unlock,
)
from whistle.inbox.security_keys import CheckedKey

from .conftest import PASSWORD

KEYRING = OfficeKeyring(b"\x03" * 32, b"\x01" * 32)
FACTOR = b"\x07" * 32
PRF_A = b"\x0a" * 32
PRF_B = b"\x0b" * 32


def _checked(credential: bytes, prf: bytes) -> CheckedKey:
    """A key as ``check_enrolment`` returns it once WebAuthn verified it."""
    return CheckedKey(credential, b"cose-public-key", 1, b"\x05" * 32, prf_wrapping_key(prf))


def _enrol(office, label: str, credential: bytes, prf: bytes, factor: bytes | None) -> bytes:
    with office.session() as session:
        admin = check_password(session, office.config, "admin", PASSWORD)
        return enrol_security_key(
            session,
            office.config,
            officer_id=admin.id,
            password=PASSWORD,
            factor=factor,
            label=label,
            checked=_checked(credential, prf),
        )


def _officer(office, name: str = "admin") -> Officer:
    with office.session() as session:
        officer = session.query(Officer).filter_by(name=name).one()
        session.expunge(officer)
        return officer


def _factor_from_key(office, credential: bytes, prf: bytes) -> bytes:
    with office.session() as session:
        key = session.query(SecurityKey).filter_by(credential_id=credential).one()
        return unwrap_with_key(key.wrapped_factor, prf_wrapping_key(prf))


# --- The wrap -----------------------------------------------------------------------------


def test_password_alone_does_not_unwrap_a_keyring_wrapped_with_a_factor(
    insecure_kdf_params,
) -> None:
    wrapped = wrap_for_password(KEYRING, PASSWORD, insecure_kdf_params, FACTOR)
    with pytest.raises(SecondFactorNeededError):
        unwrap_office(wrapped, PASSWORD)
    with pytest.raises(WrongPassphraseError):
        unwrap_office(wrapped, PASSWORD, b"\x08" * 32)
    with pytest.raises(WrongPassphraseError):
        unwrap_office(wrapped, "another password here", FACTOR)
    assert unwrap_office(wrapped, PASSWORD, FACTOR) == KEYRING


def test_the_factor_cannot_be_stripped_by_editing_the_key_file(insecure_kdf_params) -> None:
    """Renaming the derivation to the password-only one changes the additional data."""
    wrapped = wrap_for_password(KEYRING, PASSWORD, insecure_kdf_params, FACTOR)
    document = json.loads(wrapped)
    assert document["kdf"]["name"] == "argon2id13+factor"
    document["kdf"]["name"] = "argon2id13"
    with pytest.raises(WrongPassphraseError):
        unwrap_office(json.dumps(document).encode(), PASSWORD)


def test_a_prf_answer_is_32_bytes() -> None:
    for wrong in (b"", b"\x01" * 31, b"\x01" * 33):
        with pytest.raises(MalformedError):
            prf_wrapping_key(wrong)
    assert prf_wrapping_key(PRF_A) != prf_wrapping_key(PRF_B)


# --- Keys at the level of officers.py ------------------------------------------------------


def test_enrolled_officer_needs_the_key_and_a_stolen_disk_with_the_password_is_not_enough(
    office,
) -> None:
    expected = office.sign_in().keyring
    factor = _enrol(office, "blue key", b"cred-a", PRF_A, None)
    with pytest.raises(SecondFactorRequiredError):
        office.sign_in()
    officer = _officer(office)
    # Everything on disk, and the password: no keyring.
    with pytest.raises(WrongPassphraseError):
        unwrap_office(officer.wrapped_keyring, PASSWORD)
    # The key's PRF answer gives the factor, which with the password opens it.
    assert _factor_from_key(office, b"cred-a", PRF_A) == factor
    with pytest.raises(WrongPassphraseError):
        _factor_from_key(office, b"cred-a", PRF_B)
    with office.session() as session:
        signed = unlock(session, office.config, session.get(Officer, officer.id), PASSWORD, factor)
    assert signed.keyring == expected
    assert signed.second_factor == factor


def test_a_second_key_carries_the_same_factor_and_removing_keys_goes_back_to_password(
    office,
) -> None:
    expected = office.sign_in().keyring
    factor = _enrol(office, "blue key", b"cred-a", PRF_A, None)
    assert _enrol(office, "spare key", b"cred-b", PRF_B, factor) == factor
    assert _factor_from_key(office, b"cred-b", PRF_B) == factor
    with office.session() as session:
        keys = list_security_keys(session, "admin")
        assert [k.label for k in keys] == ["blue key", "spare key"]
        admin_id = keys[0].officer_id
        first, second = keys[0].id, keys[1].id
    with office.session() as session:
        assert not remove_own_security_key(
            session,
            office.config,
            officer_id=admin_id,
            key_id=first,
            password=PASSWORD,
            factor=factor,
        )
    with pytest.raises(SecondFactorRequiredError):
        office.sign_in()
    with office.session() as session:
        assert remove_own_security_key(
            session,
            office.config,
            officer_id=admin_id,
            key_id=second,
            password=PASSWORD,
            factor=factor,
        )
    assert office.sign_in().keyring == expected
    with office.session() as session:
        kinds = [e.action for e in session.query(AuditEvent).order_by(AuditEvent.id)]
        verify_chain(session)
    assert kinds.count("security-key-enrolled") == 2
    assert kinds.count("security-key-removed") == 2


def test_enrolment_with_a_wrong_password_changes_nothing(office) -> None:
    before = _officer(office)
    with office.session() as session, pytest.raises(LoginError):
        enrol_security_key(
            session,
            office.config,
            officer_id=before.id,
            password="not the password at all",
            factor=None,
            label="blue key",
            checked=_checked(b"cred-a", PRF_A),
        )
    after = _officer(office)
    assert after.wrapped_keyring == before.wrapped_keyring
    with office.session() as session:
        assert session.query(SecurityKey).count() == 0


def test_change_password_keeps_the_factor(office) -> None:
    factor = _enrol(office, "blue key", b"cred-a", PRF_A, None)
    admin = _officer(office)
    new = "a brand new long password"
    with office.session() as session, pytest.raises(SecondFactorRequiredError):
        change_password(session, office.config, admin.id, PASSWORD, new)
    with office.session() as session:
        change_password(session, office.config, admin.id, PASSWORD, new, factor)
    with pytest.raises(WrongPassphraseError):
        unwrap_office(_officer(office).wrapped_keyring, new)
    assert unwrap_office(_officer(office).wrapped_keyring, new, factor).signing_seed


def test_recovery_key_removes_a_lost_key_but_not_the_last_one(office) -> None:
    recovery = office.created.recovery_key
    factor = _enrol(office, "blue key", b"cred-a", PRF_A, None)
    _enrol(office, "spare key", b"cred-b", PRF_B, factor)
    with office.session() as session:
        first, second = (k.id for k in list_security_keys(session, "admin"))
    with office.session() as session:
        remove_security_key_with_recovery(
            session, office.config, name="admin", recovery_key=recovery, key_id=first
        )
    before = _officer(office)
    with office.session() as session, pytest.raises(LastSecurityKeyError):
        remove_security_key_with_recovery(
            session, office.config, name="admin", recovery_key=recovery, key_id=second
        )
    with office.session() as session, pytest.raises(SecurityKeyNotEnrolledError):
        remove_security_key_with_recovery(
            session, office.config, name="admin", recovery_key=recovery, key_id=first
        )
    assert _officer(office).wrapped_keyring == before.wrapped_keyring
    with office.session() as session:
        assert [k.label for k in list_security_keys(session, "admin")] == ["spare key"]


def test_reset_password_with_the_recovery_key_removes_the_second_factor(office) -> None:
    _enrol(office, "blue key", b"cred-a", PRF_A, None)
    new = "a brand new long password"
    with office.session() as session:
        reset_password(
            session,
            office.config,
            name="admin",
            recovery_key=office.created.recovery_key,
            new_password=new,
        )
    assert office.sign_in("admin", new).keyring.signing_seed
    with office.session() as session:
        assert session.query(SecurityKey).count() == 0
        event = session.query(AuditEvent).filter_by(action="password-reset-with-recovery-key").one()
    assert "security keys removed: 1" in (event.detail or "")


# --- Sign-in Argon2id ----------------------------------------------------------------------


def test_production_sign_in_hash_is_argon2id_256_mib() -> None:
    """docs/threat-model.md promises Argon2id at 256 MiB for sign-in and for the wraps."""
    params = PasswordHashParams()
    assert params.memory_cost_kib == 256 * 1024
    assert params.time_cost >= 3
    assert DEFAULT_PARAMS.memlimit == 256 * 1024 * 1024
    assert DEFAULT_PARAMS.opslimit >= 3
    ph = PasswordHasher(
        time_cost=params.time_cost, memory_cost=params.memory_cost_kib, parallelism=1
    )
    encoded = ph.hash("x")
    assert encoded.startswith("$argon2id$")
    assert "m=262144," in encoded


def test_weaker_hash_and_wraps_are_upgraded_at_the_next_sign_in(office) -> None:
    """The office was made with the weakest parameters; the inbox now runs with stronger ones
    (still small, to keep the test fast): the next sign-in redoes the hash and both wraps."""
    with office.session() as session:
        recovered = open_with_recovery_key(session, office.created.recovery_key)
        add_officer(
            session,
            office.config,
            name="carla",
            password=PASSWORD,
            roles=("officer", "custodian"),
            keyring=recovered.keyring,
            custodian_keyring=recovered.custodian_keyring,
        )
    stronger = replace(
        office.config,
        kdf_params=KdfParams(opslimit=2, memlimit=16 * 1024 * 1024),
        password_hash=PasswordHashParams(time_cost=2, memory_cost_kib=16 * 1024, parallelism=1),
    )
    before = _officer(office, "carla")
    assert hasher(stronger).check_needs_rehash(before.password_hash)
    assert passphrase_params(before.wrapped_keyring) == office.config.kdf_params
    with office.session() as session:
        signed = sign_in(session, stronger, "carla", PASSWORD)
    after = _officer(office, "carla")
    assert not hasher(stronger).check_needs_rehash(after.password_hash)
    assert after.wrapped_custodian_keyring is not None
    for wrapped in (after.wrapped_keyring, after.wrapped_custodian_keyring):
        assert passphrase_params(wrapped) == stronger.kdf_params
    assert signed.keyring == unwrap_office(after.wrapped_keyring, PASSWORD)
    assert signed.custodian_keyring == recovered.custodian_keyring
    # Signing in again with the old, weaker configuration weakens nothing.
    with office.session() as session:
        sign_in(session, office.config, "carla", PASSWORD)
    again = _officer(office, "carla")
    assert again.password_hash == after.password_hash
    assert passphrase_params(again.wrapped_keyring) == stronger.kdf_params


# --- The sign-in pages, without a browser ---------------------------------------------------


def _client(office, host: str = "localhost"):  # type: ignore[no-untyped-def]
    from whistle.inbox import create_app

    app = create_app(office.config)
    return app.test_client(), f"http://{host}:8470"


def test_password_step_of_an_officer_with_a_key_asks_for_it(office) -> None:
    _enrol(office, "blue key", b"cred-a", PRF_A, None)
    client, base = _client(office)
    page = client.post(f"{base}/login", data={"name": "admin", "password": PASSWORD})
    assert page.status_code == 200
    assert 'id="key-sign-in"' in page.text
    assert "script-src 'self'" in page.headers["Content-Security-Policy"]
    assert client.get(f"{base}/dashboard").status_code == 303  # not signed in yet


@pytest.mark.parametrize(
    "form",
    [
        {},
        {"assertion": "", "prf": ""},
        {"assertion": "not json", "prf": "AAAA"},
        {"assertion": json.dumps({"rawId": "Y3JlZC1h", "id": "Y3JlZC1h"}), "prf": "A" * 43},
        {"assertion": "x" * 20000, "prf": "A" * 43},
    ],
    ids=["absent", "empty", "malformed", "no-signature", "huge"],
)
def test_bad_security_key_answers_are_refused_and_change_nothing(office, form) -> None:
    _enrol(office, "blue key", b"cred-a", PRF_A, None)
    before = _officer(office)
    client, base = _client(office)
    client.post(f"{base}/login", data={"name": "admin", "password": PASSWORD})
    answer = client.post(f"{base}/login/security-key", data=form)
    assert answer.status_code == 401
    assert "answer was refused" in answer.text
    assert client.get(f"{base}/dashboard").status_code == 303
    # The challenge is gone: the same page cannot be answered again.
    again = client.post(f"{base}/login/security-key", data=form)
    assert again.status_code == 401
    after = _officer(office)
    assert after.wrapped_keyring == before.wrapped_keyring
    with office.session() as session:
        [key] = session.query(SecurityKey).all()
        assert key.sign_count == 1
        assert key.last_used_at is None
        # Counted once: the second post had no pending sign-in, so no officer to count against.
        assert session.query(AuditEvent).filter_by(action="sign-in-failed").count() == 1


def test_security_keys_need_localhost_not_an_ip_address(office) -> None:
    _enrol(office, "blue key", b"cred-a", PRF_A, None)
    client, base = _client(office, "127.0.0.1")
    page = client.post(f"{base}/login", data={"name": "admin", "password": PASSWORD})
    assert page.status_code == 400
    assert "http://localhost:8470/login" in page.text


def test_enrolment_without_a_security_key_answer_changes_nothing(office) -> None:
    client, base = _client(office)
    client.post(f"{base}/login", data={"name": "admin", "password": PASSWORD})
    page = client.get(f"{base}/account/security-keys")
    assert 'id="key-enrol"' in page.text
    csrf = page.text.split('name="csrf" value="', 1)[1].split('"', 1)[0]
    before = _officer(office)
    answer = client.post(
        f"{base}/account/security-keys",
        data={"csrf": csrf, "label": "blue key", "password": PASSWORD, "attestation": "{}"},
    )
    assert answer.status_code == 400
    assert "answer was refused" in answer.text
    assert _officer(office).wrapped_keyring == before.wrapped_keyring
    with office.session() as session:
        assert session.query(SecurityKey).count() == 0


def test_a_manager_can_require_security_keys_for_every_officer(office) -> None:
    client, base = _client(office)
    client.post(f"{base}/login", data={"name": "admin", "password": PASSWORD})
    page = client.get(f"{base}/account/security-keys")
    assert "For the whole office" in page.text
    csrf = page.text.split('name="csrf" value="', 1)[1].split('"', 1)[0]
    assert client.get(f"{base}/dashboard").status_code == 200
    saved = client.post(
        f"{base}/account/security-keys/policy", data={"csrf": csrf, "required": "1"}
    )
    assert saved.status_code == 200
    # Signed in without a key: only the page that adds one (and locking) is reachable.
    for path in ("/dashboard", "/cases", "/officers", "/account/password"):
        answer = client.get(f"{base}{path}")
        assert answer.status_code == 303, path
        assert answer.headers["Location"].endswith("/account/security-keys")
    keys_page = client.get(f"{base}/account/security-keys")
    assert "requires every officer to sign in with a security key" in keys_page.text
    assert client.post(f"{base}/lock", data={"csrf": csrf}).status_code == 303
    with office.session() as session:
        event = session.query(AuditEvent).filter_by(action="setting-changed").one()
    assert event.detail == "require_security_keys=1"


def test_only_a_manager_sets_the_requirement(office) -> None:
    with office.session() as session:
        admin = check_password(session, office.config, "admin", PASSWORD)
        recovered = open_with_recovery_key(session, office.created.recovery_key)
        add_officer(
            session,
            office.config,
            name="dani",
            password=PASSWORD,
            roles=("officer",),
            keyring=recovered.keyring,
            custodian_keyring=None,
            by_officer_id=admin.id,
        )
    client, base = _client(office)
    client.post(f"{base}/login", data={"name": "dani", "password": PASSWORD})
    page = client.get(f"{base}/account/security-keys")
    assert "For the whole office" not in page.text
    csrf = page.text.split('name="csrf" value="', 1)[1].split('"', 1)[0]
    refused = client.post(
        f"{base}/account/security-keys/policy", data={"csrf": csrf, "required": "1"}
    )
    assert refused.status_code == 403
    with office.session() as session:
        assert session.query(AuditEvent).filter_by(action="setting-changed").count() == 0


@pytest.mark.parametrize("label", ["", "   ", "k" * 65])
def test_a_bad_key_name_is_refused_and_changes_nothing(office, label) -> None:
    before = _officer(office)
    with office.session() as session, pytest.raises(SecurityKeyLabelError):
        enrol_security_key(
            session,
            office.config,
            officer_id=before.id,
            password=PASSWORD,
            factor=None,
            label=label,
            checked=_checked(b"cred-a", PRF_A),
        )
    assert _officer(office).wrapped_keyring == before.wrapped_keyring
    with office.session() as session:
        assert session.query(SecurityKey).count() == 0


def test_a_challenge_is_used_once_and_expires(clock) -> None:
    from whistle.inbox.security_keys import Ceremonies, PendingSignIn

    ceremonies = Ceremonies(clock)
    for key in ("a", "b"):
        pending = PendingSignIn(1, PASSWORD, key.encode() * 32, ceremonies.expiry(), None)
        ceremonies.put(key, pending)
    assert ceremonies.take_sign_in("a").challenge == b"a" * 32
    with pytest.raises(SecurityKeyRefusedError):
        ceremonies.take_sign_in("a")  # a replay of the same page
    with pytest.raises(SecurityKeyRefusedError):
        ceremonies.take_enrolment("b")  # a sign-in's challenge is not an enrolment's
    ceremonies.put("c", PendingSignIn(1, PASSWORD, b"c" * 32, ceremonies.expiry(), None))
    clock.advance(minutes=5, seconds=1)
    with pytest.raises(SecurityKeyRefusedError):
        ceremonies.take_sign_in("c")
