"""Key pairs: X25519 for desks, the identity custodian and sources; Ed25519 for signing.

Keys travel through the rest of Whistle as plain 32-byte strings so that no
other module needs a libsodium type.
"""

from dataclasses import dataclass

from nacl.bindings import crypto_box_keypair, crypto_scalarmult_base, crypto_sign_seed_keypair
from nacl.utils import random

KEY_BYTES = 32


@dataclass(frozen=True, repr=False)
class BoxKeyPair:
    """An X25519 key pair (desk, custodian, storage, source reply key)."""

    public_key: bytes
    secret_key: bytes

    def __repr__(self) -> str:
        return f"BoxKeyPair(public_key={self.public_key.hex()})"


@dataclass(frozen=True, repr=False)
class SigningKeyPair:
    """An Ed25519 key pair kept as its 32-byte seed (office or server signing key)."""

    public_key: bytes
    seed: bytes

    def __repr__(self) -> str:
        return f"SigningKeyPair(public_key={self.public_key.hex()})"


def generate_box_keypair() -> BoxKeyPair:
    public, secret = crypto_box_keypair()
    return BoxKeyPair(public, secret)


def box_keypair_from_secret(secret_key: bytes) -> BoxKeyPair:
    if len(secret_key) != KEY_BYTES:
        raise ValueError("an X25519 secret key is 32 bytes")
    return BoxKeyPair(crypto_scalarmult_base(secret_key), secret_key)


def generate_signing_keypair() -> SigningKeyPair:
    return signing_keypair_from_seed(random(KEY_BYTES))


def signing_keypair_from_seed(seed: bytes) -> SigningKeyPair:
    if len(seed) != KEY_BYTES:
        raise ValueError("an Ed25519 seed is 32 bytes")
    public, _ = crypto_sign_seed_keypair(seed)
    return SigningKeyPair(public, seed)


def random_bytes(size: int) -> bytes:
    """Bytes from libsodium's CSPRNG (salts, peppers, ids)."""
    return random(size)
