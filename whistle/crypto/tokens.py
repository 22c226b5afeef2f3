"""Small secret values the server hands to a browser and gets back (cookies, form fields).

    token = base64url( version u8 = 1 ‖ nonce (24) ‖ XChaCha20-Poly1305(value) )

with additional data ``"whistle/token/v1" ‖ purpose``, so a value sealed for one
use (a session cookie) is refused for another (a CSRF field). The key is 32
bytes the caller keeps (the server's session key). Expiry is the caller's
business: put a date or time in the value.
"""

import base64
import binascii

import nacl.exceptions
from nacl.bindings import (
    crypto_aead_xchacha20poly1305_ietf_decrypt,
    crypto_aead_xchacha20poly1305_ietf_encrypt,
)
from nacl.utils import random

from whistle.crypto.errors import MalformedError, TamperedError, UnsupportedVersionError

VERSION = 1
MAX_TOKEN_CHARS = 8192


def _ad(purpose: str) -> bytes:
    if not purpose or len(purpose) > 64:
        raise ValueError("a token purpose is 1 to 64 characters")
    return b"whistle/token/v1" + purpose.encode("ascii")


def seal_token(key: bytes, value: bytes, purpose: str) -> str:
    """``value`` encrypted and authenticated under ``key`` for ``purpose``, as URL-safe text."""
    if len(key) != 32:
        raise ValueError("a token key is 32 bytes")
    nonce = random(24)
    sealed = crypto_aead_xchacha20poly1305_ietf_encrypt(value, _ad(purpose), nonce, key)
    return base64.urlsafe_b64encode(bytes([VERSION]) + nonce + sealed).decode("ascii").rstrip("=")


def open_token(keys: bytes | list[bytes], token: str, purpose: str) -> bytes:
    """The value inside ``token``; any of ``keys`` may open it (for key rotation).

    Raises ``MalformedError`` for something that is not a token and
    ``TamperedError`` when no key opens it for this purpose.
    """
    if not isinstance(token, str) or len(token) > MAX_TOKEN_CHARS:
        raise MalformedError("not a token")
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    except (binascii.Error, ValueError) as exc:
        raise MalformedError("not a token") from exc
    if len(raw) < 1 + 24 + 16:
        raise MalformedError("not a token")
    if raw[0] != VERSION:
        raise UnsupportedVersionError("token", raw[0], (VERSION,))
    for key in [keys] if isinstance(keys, bytes) else keys:
        try:
            return crypto_aead_xchacha20poly1305_ietf_decrypt(
                raw[25:], _ad(purpose), raw[1:25], key
            )
        except nacl.exceptions.CryptoError:
            continue
    raise TamperedError("the token was altered, has expired keys, or belongs elsewhere")
