"""Secrets at rest: wrapped under a passphrase (Argon2id) or a 256-bit key (recovery key).

A key file is JSON:

    {"format": "whistle-keyfile", "version": 1,
     "kdf": {"name": "argon2id13" | "argon2id13+factor", "opslimit": 3,
             "memlimit": 268435456, "salt": hex}
            | {"name": "key"},
     "nonce": hex (24 bytes), "ciphertext": hex}

The secret is sealed with XChaCha20-Poly1305 (IETF AEAD); the additional data
binds the format, version and KDF parameters, so none of them can be edited
without the file failing to open. Reading refuses parameters outside sane
bounds before spending any memory on them.

"argon2id13+factor" (an officer with a security key) needs a second 32-byte secret besides
the passphrase: the wrapping key is keyed BLAKE2b over the purpose label and that secret,
keyed with the Argon2id output, so the passphrase alone opens nothing (docs/protocol.md).

Recovery keys are 256 random bits shown as 52 Crockford base32 characters and a
check symbol, in groups of four; a mistyped one is caught before any decryption.
"""

import json
import struct
from dataclasses import dataclass
from typing import Any

import nacl.exceptions
import nacl.pwhash
from nacl.bindings import (
    crypto_aead_xchacha20poly1305_ietf_decrypt,
    crypto_aead_xchacha20poly1305_ietf_encrypt,
)
from nacl.utils import random

from whistle.crypto.codes import (
    check_symbol,
    decode_checked,
    encode_base32,
    group,
    normalize_checked,
)
from whistle.crypto.errors import (
    CodeFormatError,
    MalformedError,
    SecondFactorNeededError,
    UnsupportedVersionError,
    WrongPassphraseError,
)
from whistle.crypto.hashing import generic_hash, kdf_derive

VERSION = 1
AD_DOMAIN = b"whistle/keyfile/v1"
SALT_BYTES = 16
MAX_OPSLIMIT = 20
MAX_MEMLIMIT = 2 * 1024**3
MIN_MEMLIMIT = 8 * 1024
RECOVERY_CHARS = 52
ARGON2ID = "argon2id13"
ARGON2ID_WITH_FACTOR = "argon2id13+factor"
FACTOR_LABEL = b"whistle/officer-factor/v1"
PRF_CONTEXT = b"wh-prf01"
MAX_KEYFILE_BYTES = 1024 * 1024


@dataclass(frozen=True)
class KdfParams:
    opslimit: int
    memlimit: int


#: What Whistle wraps officer keys with: Argon2id, 256 MiB, 3 passes (docs/threat-model.md).
DEFAULT_PARAMS = KdfParams(opslimit=3, memlimit=256 * 1024 * 1024)


def _ad(kdf: dict[str, Any]) -> bytes:
    if kdf["name"] in (ARGON2ID, ARGON2ID_WITH_FACTOR):
        return (
            AD_DOMAIN
            + (b"+factor" if kdf["name"] == ARGON2ID_WITH_FACTOR else b"")
            + struct.pack(">BIQ", VERSION, kdf["opslimit"], kdf["memlimit"])
            + bytes.fromhex(kdf["salt"])
        )
    return AD_DOMAIN + bytes([VERSION]) + b"key"


def _seal(secret: bytes, key: bytes, kdf: dict[str, Any]) -> bytes:
    nonce = random(24)
    ciphertext = crypto_aead_xchacha20poly1305_ietf_encrypt(secret, _ad(kdf), nonce, key)
    document = {
        "format": "whistle-keyfile",
        "version": VERSION,
        "kdf": kdf,
        "nonce": nonce.hex(),
        "ciphertext": ciphertext.hex(),
    }
    return (json.dumps(document, indent=2) + "\n").encode("ascii")


def _passphrase_key(passphrase: str, salt: bytes, params: KdfParams) -> bytes:
    return nacl.pwhash.argon2id.kdf(
        32, passphrase.encode("utf-8"), salt, opslimit=params.opslimit, memlimit=params.memlimit
    )


def _factor_key(passphrase_key: bytes, factor: bytes) -> bytes:
    if len(factor) != 32:
        raise ValueError("a second factor is 32 bytes")
    return generic_hash(FACTOR_LABEL + factor, key=passphrase_key, size=32)


def wrap_with_passphrase(
    secret: bytes, passphrase: str, params: KdfParams = DEFAULT_PARAMS
) -> bytes:
    """A key file holding ``secret``, opened by ``passphrase``."""
    return _wrap_passphrase(secret, passphrase, None, params)


def wrap_with_passphrase_and_factor(
    secret: bytes, passphrase: str, factor: bytes, params: KdfParams = DEFAULT_PARAMS
) -> bytes:
    """A key file holding ``secret`` that opens only with ``passphrase`` and ``factor`` (32
    bytes; an officer's security-key secret) together."""
    return _wrap_passphrase(secret, passphrase, factor, params)


def _wrap_passphrase(
    secret: bytes, passphrase: str, factor: bytes | None, params: KdfParams
) -> bytes:
    if not passphrase:
        raise ValueError("an empty passphrase protects nothing")
    salt = random(SALT_BYTES)
    kdf = {
        "name": ARGON2ID if factor is None else ARGON2ID_WITH_FACTOR,
        "opslimit": params.opslimit,
        "memlimit": params.memlimit,
        "salt": salt.hex(),
    }
    key = _passphrase_key(passphrase, salt, params)
    return _seal(secret, key if factor is None else _factor_key(key, factor), kdf)


def wrap_with_key(secret: bytes, key: bytes) -> bytes:
    """A key file holding ``secret``, opened by a 32-byte key (a recovery or storage key)."""
    if len(key) != 32:
        raise ValueError("a wrapping key is 32 bytes")
    return _seal(secret, key, {"name": "key"})


def _parse(data: bytes) -> dict[str, Any]:
    if len(data) > MAX_KEYFILE_BYTES:
        raise MalformedError("a key file is at most 1 MiB")
    try:
        document = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise MalformedError("not a Whistle key file") from exc
    if not isinstance(document, dict) or document.get("format") != "whistle-keyfile":
        raise MalformedError("not a Whistle key file")
    version = document.get("version")
    if version != VERSION:
        raise UnsupportedVersionError(
            "key file", version if isinstance(version, int) else 0, (VERSION,)
        )
    kdf = document.get("kdf")
    if not isinstance(kdf, dict) or kdf.get("name") not in (
        ARGON2ID,
        ARGON2ID_WITH_FACTOR,
        "key",
    ):
        raise MalformedError("the key file names no known key derivation")
    if kdf["name"] != "key":
        ops, mem, salt = kdf.get("opslimit"), kdf.get("memlimit"), kdf.get("salt")
        if not (isinstance(ops, int) and 1 <= ops <= MAX_OPSLIMIT):
            raise MalformedError("the key file's Argon2 pass count is out of bounds")
        if not (isinstance(mem, int) and MIN_MEMLIMIT <= mem <= MAX_MEMLIMIT):
            raise MalformedError("the key file's Argon2 memory is out of bounds")
        if not (isinstance(salt, str) and len(salt) == 2 * SALT_BYTES):
            raise MalformedError("the key file's salt is malformed")
    for field in ("nonce", "ciphertext"):
        if not isinstance(document.get(field), str):
            raise MalformedError(f"the key file has no {field}")
    try:
        document["_nonce"] = bytes.fromhex(document["nonce"])
        document["_ciphertext"] = bytes.fromhex(document["ciphertext"])
        if kdf["name"] != "key":
            bytes.fromhex(kdf["salt"])
    except ValueError as exc:
        raise MalformedError("the key file is not valid hex") from exc
    if len(document["_nonce"]) != 24:
        raise MalformedError("the key file's nonce is malformed")
    return document


def _open(document: dict[str, Any], key: bytes) -> bytes:
    try:
        return crypto_aead_xchacha20poly1305_ietf_decrypt(
            document["_ciphertext"], _ad(document["kdf"]), document["_nonce"], key
        )
    except nacl.exceptions.CryptoError as exc:
        raise WrongPassphraseError("wrong passphrase or key, or the file was altered") from exc


def unwrap_with_passphrase(data: bytes, passphrase: str) -> bytes:
    document = _parse(data)
    kdf = document["kdf"]
    if kdf["name"] == ARGON2ID_WITH_FACTOR:
        raise SecondFactorNeededError("this key file opens with a passphrase and a second factor")
    if kdf["name"] != ARGON2ID:
        raise WrongPassphraseError("this key file opens with a key, not a passphrase")
    params = KdfParams(kdf["opslimit"], kdf["memlimit"])
    return _open(document, _passphrase_key(passphrase, bytes.fromhex(kdf["salt"]), params))


def unwrap_with_passphrase_and_factor(data: bytes, passphrase: str, factor: bytes) -> bytes:
    """Open a key file of ``wrap_with_passphrase_and_factor``."""
    document = _parse(data)
    kdf = document["kdf"]
    if kdf["name"] != ARGON2ID_WITH_FACTOR:
        raise WrongPassphraseError("this key file does not open with a second factor")
    params = KdfParams(kdf["opslimit"], kdf["memlimit"])
    key = _passphrase_key(passphrase, bytes.fromhex(kdf["salt"]), params)
    return _open(document, _factor_key(key, factor))


def passphrase_params(data: bytes) -> KdfParams | None:
    """The Argon2id parameters a key file was wrapped with (``None``: it opens with a key), so
    a caller can rewrap one made with weaker parameters than today's."""
    kdf = _parse(data)["kdf"]
    return None if kdf["name"] == "key" else KdfParams(kdf["opslimit"], kdf["memlimit"])


def prf_wrapping_key(prf_output: bytes) -> bytes:
    """The key a security key's WebAuthn PRF output stands for (it wraps the officer's second
    factor); ``MalformedError`` for anything but the 32 bytes a PRF gives."""
    if len(prf_output) != 32:
        raise MalformedError("a PRF output is 32 bytes")
    return kdf_derive(prf_output, 1, PRF_CONTEXT)


def unwrap_with_key(data: bytes, key: bytes) -> bytes:
    document = _parse(data)
    if document["kdf"]["name"] != "key":
        raise WrongPassphraseError("this key file opens with a passphrase, not a key")
    return _open(document, key)


def generate_recovery_key() -> str:
    """A new recovery key, grouped for printing (shown once, at setup)."""
    data = encode_base32(int.from_bytes(random(32), "big"), RECOVERY_CHARS)
    return group(data + check_symbol(data))


def recovery_wrapping_key(text: str) -> bytes:
    """The 32-byte wrapping key a typed recovery key stands for (``CodeError`` if mistyped)."""
    canonical = normalize_checked(text, RECOVERY_CHARS, "recovery key")
    value = decode_checked(canonical)
    if value >> 256:
        raise CodeFormatError("this is not a recovery key")
    return kdf_derive(value.to_bytes(32, "big"), 1, b"wh-recov")
