"""BLAKE2b, the one hash Whistle uses: plain, keyed, and as libsodium's ``crypto_kdf``.

PyNaCl has no ``crypto_kdf`` binding. ``crypto_kdf_derive_from_key`` is defined
as BLAKE2b with the subkey id (64-bit little-endian, zero-padded to 16 bytes) as
salt and the 8-byte context (zero-padded) as personalisation over an empty
message; computing it that way gives byte-identical output to libsodium.js,
pinned by ``tests/vectors/derivation.json``.
"""

import hashlib
import struct

from nacl.encoding import RawEncoder
from nacl.hash import blake2b

KDF_CONTEXT_BYTES = 8
HASH_BYTES = 32


def generic_hash(data: bytes, *, key: bytes = b"", size: int = HASH_BYTES) -> bytes:
    """libsodium ``crypto_generichash`` (BLAKE2b), optionally keyed."""
    return blake2b(data, digest_size=size, key=key, encoder=RawEncoder)


def kdf_derive(master: bytes, subkey_id: int, context: bytes, size: int = 32) -> bytes:
    """libsodium ``crypto_kdf_derive_from_key(size, subkey_id, context, master)``."""
    if len(master) != 32:
        raise ValueError("the KDF master key is 32 bytes")
    if len(context) != KDF_CONTEXT_BYTES:
        raise ValueError("a KDF context is exactly 8 bytes")
    if not 16 <= size <= 64:
        raise ValueError("a KDF subkey is 16 to 64 bytes")
    salt = struct.pack("<Q", subkey_id) + bytes(8)
    person = context + bytes(8)
    return blake2b(b"", digest_size=size, key=master, salt=salt, person=person, encoder=RawEncoder)


def record_hash(data: bytes) -> bytes:
    """The hash that names a stored record (envelope bytes) in manifests and acknowledgements."""
    return generic_hash(b"whistle/record/v1" + data)


class RecordHasher:
    """``record_hash`` computed over data that arrives in pieces."""

    def __init__(self) -> None:
        self._state = hashlib.blake2b(digest_size=HASH_BYTES)
        self._state.update(b"whistle/record/v1")

    def update(self, data: bytes) -> None:
        self._state.update(data)

    def digest(self) -> bytes:
        return self._state.digest()
