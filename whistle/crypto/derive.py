"""From a source's code to the keys that code stands for (docs/protocol.md §3).

    m            = crypto_generichash(32, "whistle-code-v1" ‖ code bits, key = install salt)
    login token  = crypto_kdf_derive_from_key(32, 1, "wh-login", m)
    reply seed   = crypto_kdf_derive_from_key(32, 2, "wh-reply", m)
    reply keys   = crypto_box_seed_keypair(reply seed)
    signing seed = crypto_kdf_derive_from_key(32, 3, "wh-signk", m)   (Ed25519, protocol 2)
    copy seed    = crypto_kdf_derive_from_key(32, 4, "wh-scopy", m)   (the source's copy)
    copy keys    = crypto_box_seed_keypair(copy seed)
    lookup       = crypto_generichash(32, "whistle/login-lookup/v1" ‖ token, key = pepper)

The browser computes all but the last; only the server, which holds the pepper,
computes the lookup value it stores. A copy of the database without the pepper
gives nothing to test guesses against; with it, a guess still costs a search of
2^100 codes.
"""

from dataclasses import dataclass

from nacl.bindings import crypto_box_seed_keypair

from whistle.crypto.codes import code_bits
from whistle.crypto.hashing import generic_hash, kdf_derive
from whistle.crypto.keys import signing_keypair_from_seed

CODE_DOMAIN = b"whistle-code-v1"
LOOKUP_DOMAIN = b"whistle/login-lookup/v1"
LOGIN_SUBKEY = (1, b"wh-login")
REPLY_SUBKEY = (2, b"wh-reply")
SIGNING_SUBKEY = (3, b"wh-signk")
COPY_SUBKEY = (4, b"wh-scopy")
SALT_BYTES = 32
PEPPER_BYTES = 32


@dataclass(frozen=True, repr=False)
class SourceKeys:
    """What a code unlocks. Never logged: ``repr`` shows nothing secret."""

    login_token: bytes
    reply_secret_key: bytes
    reply_public_key: bytes
    #: Signs the source's follow-ups (protocol 2); its public key is inside the submission.
    signing_seed: bytes
    signing_public_key: bytes
    #: Seals and opens the source's own copy of what they sent (source_copy.py); the public
    #: half is never written anywhere, so only the code's holder can write a copy.
    copy_secret_key: bytes
    copy_public_key: bytes

    def __repr__(self) -> str:
        return "SourceKeys(<secret>)"


def code_master(code: str, install_salt: bytes) -> bytes:
    """``m``, from which every key of a code comes (raises ``CodeError`` for a bad code)."""
    if len(install_salt) != SALT_BYTES:
        raise ValueError("the install salt is 32 bytes")
    return generic_hash(CODE_DOMAIN + code_bits(code), key=install_salt)


def source_keys_from_master(master: bytes) -> SourceKeys:
    """The keys ``m`` stands for (a short-lived check-in carries ``m``, never the code)."""
    if len(master) != 32:
        raise ValueError("m is 32 bytes")
    seed = kdf_derive(master, *REPLY_SUBKEY)
    public, secret = crypto_box_seed_keypair(seed)
    signing_seed = kdf_derive(master, *SIGNING_SUBKEY)
    copy_public, copy_secret = crypto_box_seed_keypair(kdf_derive(master, *COPY_SUBKEY))
    return SourceKeys(
        login_token=kdf_derive(master, *LOGIN_SUBKEY),
        reply_secret_key=secret,
        reply_public_key=public,
        signing_seed=signing_seed,
        signing_public_key=signing_keypair_from_seed(signing_seed).public_key,
        copy_secret_key=copy_secret,
        copy_public_key=copy_public,
    )


def derive_source_keys(code: str, install_salt: bytes) -> SourceKeys:
    """The login token and reply key pair for a code (raises ``CodeError`` for a bad code)."""
    return source_keys_from_master(code_master(code, install_salt))


def login_lookup(login_token: bytes, pepper: bytes) -> bytes:
    """The value the server stores and looks up for a login token."""
    if len(pepper) != PEPPER_BYTES:
        raise ValueError("the pepper is 32 bytes")
    if len(login_token) != 32:
        raise ValueError("a login token is 32 bytes")
    return generic_hash(LOOKUP_DOMAIN + login_token, key=pepper)
