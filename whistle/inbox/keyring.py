"""The office's private keys as the inbox holds them: two keyrings, each wrapped.

    office keyring     every desk's X25519 secret key, the office signing seed,
                       the inbox storage secret key — every officer has a copy
    custodian keyring  the identity custodian's X25519 secret key — custodians only

Serialised as JSON (``{"format": "whistle-keyring", "version": 1, …}``, keys in
hex) and wrapped with ``whistle.crypto.wrap_with_passphrase`` (each officer's
password) or ``wrap_with_key`` (the recovery key). Unwrapped keyrings live only
in the memory of the running inbox (``keystore.py``).
"""

import json
from dataclasses import dataclass
from typing import Any

from whistle.crypto import (
    KdfParams,
    MalformedError,
    box_keypair_from_secret,
    unwrap_with_key,
    unwrap_with_passphrase,
    wrap_with_key,
    wrap_with_passphrase,
)

VERSION = 1


@dataclass(frozen=True, repr=False)
class OfficeKeyring:
    desks: dict[str, bytes]
    signing_seed: bytes
    storage_secret: bytes
    bundle_secret: bytes

    def __repr__(self) -> str:
        return f"OfficeKeyring(desks={sorted(self.desks)})"

    @property
    def desk_secrets(self) -> list[bytes]:
        return list(self.desks.values())

    @property
    def storage_public(self) -> bytes:
        return box_keypair_from_secret(self.storage_secret).public_key

    def to_bytes(self) -> bytes:
        return _dump(
            "office",
            {
                "desks": {k: v.hex() for k, v in self.desks.items()},
                "signing_seed": self.signing_seed.hex(),
                "storage_secret": self.storage_secret.hex(),
                "bundle_secret": self.bundle_secret.hex(),
            },
        )

    @classmethod
    def from_bytes(cls, raw: bytes) -> "OfficeKeyring":
        body = _load(raw, "office")
        try:
            desks = {str(k): _key(v) for k, v in body["desks"].items()}
            return cls(
                desks,
                _key(body["signing_seed"]),
                _key(body["storage_secret"]),
                _key(body["bundle_secret"]),
            )
        except (KeyError, AttributeError, TypeError) as exc:
            raise MalformedError("the office keyring is malformed") from exc


@dataclass(frozen=True, repr=False)
class CustodianKeyring:
    custodian_secret: bytes

    def __repr__(self) -> str:
        return "CustodianKeyring()"

    def to_bytes(self) -> bytes:
        return _dump("custodian", {"custodian_secret": self.custodian_secret.hex()})

    @classmethod
    def from_bytes(cls, raw: bytes) -> "CustodianKeyring":
        body = _load(raw, "custodian")
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


def _dump(kind: str, body: dict[str, Any]) -> bytes:
    document = {"format": "whistle-keyring", "version": VERSION, "kind": kind, **body}
    return json.dumps(document, sort_keys=True).encode("ascii")


def _load(raw: bytes, kind: str) -> dict[str, Any]:
    try:
        document = json.loads(raw.decode("ascii"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise MalformedError("not a Whistle keyring") from exc
    if (
        not isinstance(document, dict)
        or document.get("format") != "whistle-keyring"
        or document.get("version") != VERSION
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
