"""The office's private keys as the inbox holds them: two keyrings, each wrapped.

    office keyring     the office signing seed and the inbox storage secret key —
                       every officer has a copy
    custodian keyring  the identity custodian's X25519 secret key — custodians only

Serialised as JSON (``{"format": "whistle-keyring", "version": 2, …}``, keys in
hex) and wrapped with ``whistle.crypto.wrap_with_passphrase`` (each officer's
password) or ``wrap_with_key`` (the recovery key). Unwrapped keyrings live only
in the memory of the running inbox (``keystore.py``).

Version 2 (key epochs) no longer carries the desk and bundle secret keys: they
rotate, and a rotating officer cannot rewrap the others' copies, so they live in
the database sealed to the storage key (``epochs.py``). A version 1 office
keyring (desks and bundle key inside) is still read: its keys come back as
``legacy``, are moved into the database at the next sign-in, and that officer's
copy is rewrapped as version 2 then (``officers.sign_in``). Until then a v1
keyring is written back as v1, so nothing is lost on the way.
"""

import json
from dataclasses import dataclass
from typing import Any

from whistle.crypto import (
    KdfParams,
    MalformedError,
    box_keypair_from_secret,
    signing_keypair_from_seed,
    unwrap_with_key,
    unwrap_with_passphrase,
    wrap_with_key,
    wrap_with_passphrase,
)

VERSION = 2
#: Office keyrings of version 1 carried the desk and bundle secret keys themselves.
LEGACY_VERSION = 1


@dataclass(frozen=True, repr=False)
class LegacyKeys:
    """The desk and bundle secret keys a version 1 office keyring carried."""

    desks: dict[str, bytes]
    bundle_secret: bytes

    def __repr__(self) -> str:
        return f"LegacyKeys(desks={sorted(self.desks)})"


@dataclass(frozen=True, repr=False)
class OfficeKeyring:
    signing_seed: bytes
    storage_secret: bytes
    legacy: LegacyKeys | None = None
    #: The holder's own X25519 key: desk compartment keys are sealed to it (``compartments``).
    #: None in a keyring wrapped before desks; one is made at the next sign-in.
    personal_secret: bytes | None = None

    def __repr__(self) -> str:
        return "OfficeKeyring()" if self.legacy is None else "OfficeKeyring(version 1)"

    @property
    def storage_public(self) -> bytes:
        return box_keypair_from_secret(self.storage_secret).public_key

    @property
    def signing_public(self) -> bytes:
        """The office signing key (the card's ``signing_key``): it signs every reply."""
        return signing_keypair_from_seed(self.signing_seed).public_key

    @property
    def personal_public(self) -> bytes | None:
        if self.personal_secret is None:
            return None
        return box_keypair_from_secret(self.personal_secret).public_key

    def without_legacy(self) -> "OfficeKeyring":
        return OfficeKeyring(self.signing_seed, self.storage_secret, None, self.personal_secret)

    def with_personal(self, personal_secret: bytes) -> "OfficeKeyring":
        """The same office keys with another holder's own key (a new officer, the recovery)."""
        return OfficeKeyring(self.signing_seed, self.storage_secret, self.legacy, personal_secret)

    def to_bytes(self) -> bytes:
        body: dict[str, Any] = {
            "signing_seed": self.signing_seed.hex(),
            "storage_secret": self.storage_secret.hex(),
        }
        if self.personal_secret is not None:
            body["personal_secret"] = self.personal_secret.hex()
        if self.legacy is None:
            return _dump("office", body)
        body["desks"] = {k: v.hex() for k, v in self.legacy.desks.items()}
        body["bundle_secret"] = self.legacy.bundle_secret.hex()
        return _dump("office", body, LEGACY_VERSION)

    @classmethod
    def from_bytes(cls, raw: bytes) -> "OfficeKeyring":
        body = _load(raw, "office", (VERSION, LEGACY_VERSION))
        try:
            legacy = None
            if body["version"] == LEGACY_VERSION:
                legacy = LegacyKeys(
                    {str(k): _key(v) for k, v in body["desks"].items()},
                    _key(body["bundle_secret"]),
                )
            personal = body.get("personal_secret")
            return cls(
                _key(body["signing_seed"]),
                _key(body["storage_secret"]),
                legacy,
                None if personal is None else _key(personal),
            )
        except (KeyError, AttributeError, TypeError) as exc:
            raise MalformedError("the office keyring is malformed") from exc


@dataclass(frozen=True, repr=False)
class CustodianKeyring:
    custodian_secret: bytes

    def __repr__(self) -> str:
        return "CustodianKeyring()"

    def to_bytes(self) -> bytes:
        return _dump("custodian", {"custodian_secret": self.custodian_secret.hex()}, 1)

    @classmethod
    def from_bytes(cls, raw: bytes) -> "CustodianKeyring":
        body = _load(raw, "custodian", (1,))  # the custodian keyring is still version 1
        try:
            return cls(_key(body["custodian_secret"]))
        except (KeyError, TypeError) as exc:
            raise MalformedError("the custodian keyring is malformed") from exc


def _key(value: Any) -> bytes:
    if not isinstance(value, str) or len(value) != 64:
        raise MalformedError("a keyring key is 32 bytes in hex")
    try:
        return bytes.fromhex(value)
    except ValueError as exc:
        raise MalformedError("a keyring key is 32 bytes in hex") from exc


def _dump(kind: str, body: dict[str, Any], version: int = VERSION) -> bytes:
    document = {"format": "whistle-keyring", "version": version, "kind": kind, **body}
    return json.dumps(document, sort_keys=True).encode("ascii")


def _load(
    raw: bytes, kind: str, versions: tuple[int, ...] = (VERSION, LEGACY_VERSION)
) -> dict[str, Any]:
    try:
        document = json.loads(raw.decode("ascii"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise MalformedError("not a Whistle keyring") from exc
    if (
        not isinstance(document, dict)
        or document.get("format") != "whistle-keyring"
        or type(document.get("version")) is not int
        or document.get("version") not in versions
        or document.get("kind") != kind
    ):
        raise MalformedError(f"not a Whistle {kind} keyring")
    return document


Keyring = OfficeKeyring | CustodianKeyring


def wrap_for_password(keyring: Keyring, password: str, params: KdfParams) -> bytes:
    return wrap_with_passphrase(keyring.to_bytes(), password, params)


def wrap_for_recovery(keyring: Keyring, recovery_key: bytes) -> bytes:
    return wrap_with_key(keyring.to_bytes(), recovery_key)


def unwrap_office(wrapped: bytes, password: str) -> OfficeKeyring:
    return OfficeKeyring.from_bytes(unwrap_with_passphrase(wrapped, password))


def unwrap_custodian(wrapped: bytes, password: str) -> CustodianKeyring:
    return CustodianKeyring.from_bytes(unwrap_with_passphrase(wrapped, password))


def unwrap_office_recovery(wrapped: bytes, recovery_key: bytes) -> OfficeKeyring:
    return OfficeKeyring.from_bytes(unwrap_with_key(wrapped, recovery_key))


def unwrap_custodian_recovery(wrapped: bytes, recovery_key: bytes) -> CustodianKeyring:
    return CustodianKeyring.from_bytes(unwrap_with_key(wrapped, recovery_key))
