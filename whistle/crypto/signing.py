"""Signatures that always say what they are for.

A signed object carries its purpose label in the clear and the Ed25519
signature covers it, so a key can never be made to sign one thing that passes
for another (a bundle for a courier challenge, say):

    magic "WHSIG" | version u8 = 1 | purpose length u8 | purpose (ASCII)
    | message length u32 BE | message | signature (64 bytes, over everything before it)

Verifying for a purpose other than the one carried raises ``WrongPurposeError``
before the signature is even checked; any other failure is ``BadSignatureError``.
"""

import re
import struct

import nacl.exceptions
from nacl.signing import SigningKey, VerifyKey

from whistle.crypto.errors import (
    BadSignatureError,
    MalformedError,
    UnsupportedVersionError,
    WrongPurposeError,
)

MAGIC = b"WHSIG"
VERSION = 1
SIGNATURE_BYTES = 64
MAX_MESSAGE_BYTES = 16 * 1024 * 1024

CARD = "whistle/card/v1"
BUNDLE = "whistle/bundle/v1"
COURIER_CHALLENGE = "whistle/courier-challenge/v1"
RECORD_REFUSAL = "whistle/record-refusal/v1"
RECORD_REMOVAL = "whistle/record-removal/v1"
#: Protocol 2 conversation records (conversation.py): office → source and source → office.
OFFICE_RECORD = "whistle/office-record/v2"
SOURCE_RECORD = "whistle/source-record/v2"
#: The inbox's list of deletions, kept beside its backups (whistle/inbox/deletions.py).
DELETIONS = "whistle/deletions/v1"
#: The office announces the key a case's follow-ups go to (case_keys.py).
CASE_KEY = "whistle/case-key/v1"
PURPOSES = frozenset(
    {
        CARD,
        BUNDLE,
        COURIER_CHALLENGE,
        RECORD_REFUSAL,
        RECORD_REMOVAL,
        OFFICE_RECORD,
        SOURCE_RECORD,
        DELETIONS,
        CASE_KEY,
    }
)
_PURPOSE_SHAPE = re.compile(r"whistle/[a-z][a-z-]{0,40}/v[1-9][0-9]{0,2}")


def _check_purpose(purpose: str) -> bytes:
    if purpose not in PURPOSES or not _PURPOSE_SHAPE.fullmatch(purpose):
        raise ValueError(f"unknown signature purpose {purpose!r}")
    return purpose.encode("ascii")


def sign(seed: bytes, purpose: str, message: bytes) -> bytes:
    """A signed object holding ``message``, signed for ``purpose`` with the key from ``seed``."""
    label = _check_purpose(purpose)
    if len(message) > MAX_MESSAGE_BYTES:
        raise ValueError("message too long to sign")
    signed = MAGIC + bytes([VERSION, len(label)]) + label + struct.pack(">I", len(message))
    signed += message
    return signed + SigningKey(seed).sign(signed).signature


def _split(blob: bytes) -> tuple[bytes, bytes, int]:
    """(purpose label, message, end of the signed part) of a well-formed signed object."""
    if len(blob) < len(MAGIC) + 2 or blob[: len(MAGIC)] != MAGIC:
        raise MalformedError("not a Whistle signed object")
    version, label_len = blob[5], blob[6]
    if version != VERSION:
        raise UnsupportedVersionError("signed object", version, (VERSION,))
    offset = 7 + label_len
    if len(blob) < offset + 4 + SIGNATURE_BYTES:
        raise MalformedError("the signed object is too short")
    (length,) = struct.unpack_from(">I", blob, offset)
    end = offset + 4 + length
    if len(blob) != end + SIGNATURE_BYTES:
        raise MalformedError("the signed object's length does not match its contents")
    return blob[7:offset], blob[offset + 4 : end], end


def unverified_message(blob: bytes) -> bytes:
    """The message of a signed object WITHOUT checking it.

    Only for self-signed objects (cards), to find the key that ``verify`` will
    then check the whole object with.
    """
    return _split(blob)[1]


def verify(public_key: bytes, purpose: str, blob: bytes) -> bytes:
    """The message inside ``blob`` once its purpose and signature check out."""
    expected = _check_purpose(purpose)
    label, message, end = _split(blob)
    if label != expected:
        shown = label.decode("ascii", "replace")
        raise WrongPurposeError(f"signed for {shown!r}, not for {purpose!r}")
    try:
        VerifyKey(public_key).verify(blob[:end], blob[end:])
    except (nacl.exceptions.BadSignatureError, nacl.exceptions.CryptoError, ValueError) as exc:
        raise BadSignatureError("the signature does not verify with the pinned key") from exc
    return message
