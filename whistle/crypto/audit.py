"""The audit chain's key and the short head officers write on paper (review finding L6).

    audit key = crypto_kdf_derive_from_key(32, 1, "wh-audit", office storage secret key)
    seal      = HMAC-SHA256(audit key, "whistle/audit/v2" ‖ prev_hash ‖ event JSON)
    head      = the seal's first 50 bits as 10 Crockford base32 characters + mod-37 check

The storage secret key is in every officer's office keyring and nowhere else, so someone
who can write the inbox's database but holds no keyring cannot make a seal that verifies.
The head is short enough to copy by hand; its check symbol catches a mistyped character.
"""

import hashlib
import hmac

from whistle.crypto.codes import check_symbol, encode_base32, group, normalize_checked
from whistle.crypto.hashing import kdf_derive

AUDIT_SUBKEY = (1, b"wh-audit")
HEAD_CHARS = 10


def audit_key(storage_secret_key: bytes) -> bytes:
    """The key that seals the audit chain, derived from the office's storage secret key."""
    return kdf_derive(storage_secret_key, *AUDIT_SUBKEY)


def audit_seal(key: bytes, message: bytes) -> bytes:
    return hmac.new(key, message, hashlib.sha256).digest()


def same_seal(a: bytes, b: bytes) -> bool:
    return hmac.compare_digest(a, b)


def head_code(seal: bytes) -> str:
    """A seal as the head an officer writes down: 10 characters and a check symbol."""
    value = int.from_bytes(seal[:8], "big") >> (64 - 5 * HEAD_CHARS)
    data = encode_base32(value, HEAD_CHARS)
    return data + check_symbol(data)


def format_head(head: str) -> str:
    return group(head)


def normalize_head(text: str) -> str:
    """A head as typed (any case, spaces, look-alikes); ``CodeError`` if it cannot be one."""
    return normalize_checked(text, HEAD_CHARS, "head")
