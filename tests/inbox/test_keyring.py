"""Keyrings: serialised, wrapped under a password or the recovery key, refused when altered."""

import pytest

from whistle.crypto import (
    MalformedError,
    WrongPassphraseError,
    generate_recovery_key,
    recovery_wrapping_key,
)
from whistle.inbox.keyring import (
    CustodianKeyring,
    LegacyKeys,
    OfficeKeyring,
    unwrap_custodian,
    unwrap_office,
    unwrap_office_recovery,
    wrap_for_password,
    wrap_for_recovery,
)

KEYRING = OfficeKeyring(b"\x03" * 32, b"\x01" * 32)
#: A version 1 keyring (before key epochs) carried the desk and bundle keys too.
LEGACY = OfficeKeyring(
    b"\x03" * 32,
    b"\x04" * 32,
    LegacyKeys({"antifraud": b"\x01" * 32, "ethics": b"\x02" * 32}, b"\x05" * 32),
)


def test_password_roundtrip(insecure_kdf_params) -> None:
    wrapped = wrap_for_password(KEYRING, "long enough password", insecure_kdf_params)
    assert unwrap_office(wrapped, "long enough password") == KEYRING
    assert b"\x01" * 4 not in wrapped
    assert ("01" * 32).encode() not in wrapped


def test_wrong_password(insecure_kdf_params) -> None:
    wrapped = wrap_for_password(KEYRING, "long enough password", insecure_kdf_params)
    with pytest.raises(WrongPassphraseError):
        unwrap_office(wrapped, "another password")


def test_recovery_roundtrip() -> None:
    key = recovery_wrapping_key(generate_recovery_key())
    assert unwrap_office_recovery(wrap_for_recovery(KEYRING, key), key) == KEYRING
    with pytest.raises(WrongPassphraseError):
        unwrap_office_recovery(wrap_for_recovery(KEYRING, key), bytes(32))


def test_custodian_keyring_is_not_an_office_keyring(insecure_kdf_params) -> None:
    custodian = CustodianKeyring(b"\x05" * 32)
    wrapped = wrap_for_password(custodian, "long enough password", insecure_kdf_params)
    assert unwrap_custodian(wrapped, "long enough password") == custodian
    with pytest.raises(MalformedError):
        unwrap_office(wrapped, "long enough password")


def test_altered_wrapped_keyring_refused(insecure_kdf_params) -> None:
    wrapped = bytearray(wrap_for_password(KEYRING, "long enough password", insecure_kdf_params))
    position = wrapped.index(b'"ciphertext": "') + 20
    wrapped[position] = ord("0") if wrapped[position] != ord("0") else ord("1")
    with pytest.raises(WrongPassphraseError):
        unwrap_office(bytes(wrapped), "long enough password")


def test_repr_shows_no_secrets() -> None:
    assert "01" * 4 not in repr(KEYRING)
    assert "05" not in repr(CustodianKeyring(b"\x05" * 32))


def test_production_params_are_the_design_minimum() -> None:
    from whistle.crypto import DEFAULT_PARAMS
    from whistle.inbox.config import InboxConfig

    config = InboxConfig(data_dir=__import__("pathlib").Path("/nonexistent"))
    assert config.kdf_params == DEFAULT_PARAMS
    assert config.kdf_params.memlimit >= 256 * 1024 * 1024
    assert config.kdf_params.opslimit >= 3


def test_version_2_carries_no_desk_keys() -> None:
    raw = KEYRING.to_bytes()
    assert b'"version": 2' in raw
    assert b"desks" not in raw
    assert b"bundle_secret" not in raw


def test_version_1_is_read_and_written_back_as_version_1(insecure_kdf_params) -> None:
    raw = LEGACY.to_bytes()
    assert b'"version": 1' in raw
    assert b'"desks"' in raw
    wrapped = wrap_for_password(LEGACY, "long enough password", insecure_kdf_params)
    opened = unwrap_office(wrapped, "long enough password")
    assert opened == LEGACY
    assert opened.legacy is not None
    assert opened.legacy.desks["ethics"] == b"\x02" * 32
    assert (
        opened.without_legacy().to_bytes() == OfficeKeyring(b"\x03" * 32, b"\x04" * 32).to_bytes()
    )


def test_keyring_repr_shows_no_key() -> None:
    assert "01" not in repr(LEGACY)
    assert "antifraud" not in repr(KEYRING)
