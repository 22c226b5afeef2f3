"""The Python vectors re-checked from docs/protocol.md, without whistle.crypto.

tests/vectors/*.json are made by whistle.crypto itself (tests/vectors/generate.py): checked
against the same code, they catch changes, not mistakes (tests review, item 6). This module
recomputes what it can from the spec alone, with the standard library and PyNaCl's primitives
(never a whistle function): the code → keys derivation (§3), Padmé (§4), signed objects and
their purposes (§8), card fingerprints (§8) and the card's self-signature. The envelopes'
independent check is the browser's: tests/js/test_interop.py opens them with libsodium.js.
"""

import base64
import hashlib
import json
import math
import struct

import nacl.bindings
import nacl.exceptions
import nacl.signing
import pytest

from tests.crypto.vectors import load

CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def _code_bits(code: str) -> bytes:
    """The 100 code bits as 13 bytes big-endian (§2), from the 20 data characters."""
    value = 0
    for char in code[:20]:
        value = value * 32 + CROCKFORD.index(char)
    return value.to_bytes(13, "big")


def _kdf(master: bytes, subkey_id: int, context: bytes) -> bytes:
    """crypto_kdf_derive_from_key as §3 spells it: BLAKE2b keyed, salt and personalisation."""
    return hashlib.blake2b(
        b"",
        digest_size=32,
        key=master,
        salt=struct.pack("<Q", subkey_id) + bytes(8),
        person=context + bytes(8),
    ).digest()


@pytest.mark.parametrize("vector", load("derivation")["valid"], ids=lambda v: v["code"])
def test_derivation_from_the_spec(vector: dict) -> None:  # type: ignore[type-arg]
    salt = bytes.fromhex(vector["install_salt"])
    master = hashlib.blake2b(
        b"whistle-code-v1" + _code_bits(vector["code"]), key=salt, digest_size=32
    ).digest()
    assert master.hex() == vector["master"]
    token = _kdf(master, 1, b"wh-login")
    assert token.hex() == vector["login_token"]
    public, secret = nacl.bindings.crypto_box_seed_keypair(_kdf(master, 2, b"wh-reply"))
    assert public.hex() == vector["reply_public_key"]
    assert secret.hex() == vector["reply_secret_key"]
    lookup = hashlib.blake2b(
        b"whistle/login-lookup/v1" + token, key=bytes.fromhex(vector["pepper"]), digest_size=32
    ).digest()
    assert lookup.hex() == vector["lookup"]


def _padme(length: int) -> int:
    if length < 2:
        return length
    e = math.floor(math.log2(length))
    s = math.floor(math.log2(e)) + 1
    mask = (1 << (e - s)) - 1
    return (length + mask) & ~mask


@pytest.mark.parametrize("vector", load("padding")["valid"], ids=lambda v: str(v["length"]))
def test_padding_from_the_spec(vector: dict) -> None:  # type: ignore[type-arg]
    assert _padme(vector["length"]) == vector["padme"]
    assert max(4096, _padme(vector["length"])) == vector["padded"]


def _split_signed(blob: bytes) -> tuple[str, bytes, bytes, bytes]:
    """(purpose, message, signed part, signature) as §8 lays a signed object out."""
    assert blob[:5] == b"WHSIG"
    assert blob[5] == 1
    label_end = 7 + blob[6]
    (length,) = struct.unpack(">I", blob[label_end : label_end + 4])
    end = label_end + 4 + length
    assert len(blob) == end + 64
    return blob[7:label_end].decode("ascii"), blob[label_end + 4 : end], blob[:end], blob[end:]


def _verifies(public_key: bytes, signed: bytes, signature: bytes) -> bool:
    try:
        nacl.signing.VerifyKey(public_key).verify(signed, signature)
    except nacl.exceptions.BadSignatureError:
        return False
    return True


@pytest.mark.parametrize("vector", load("signatures")["valid"], ids=lambda v: v["purpose"])
def test_signatures_from_the_spec(vector: dict) -> None:  # type: ignore[type-arg]
    public = nacl.signing.SigningKey(bytes.fromhex(vector["seed"])).verify_key.encode()
    assert public.hex() == vector["public_key"]
    purpose, message, signed, signature = _split_signed(bytes.fromhex(vector["signed"]))
    assert purpose == vector["purpose"]
    assert message.hex() == vector["message"]
    assert _verifies(public, signed, signature)


@pytest.mark.parametrize("vector", load("signatures")["invalid"])
def test_invalid_signatures_from_the_spec(vector: dict) -> None:  # type: ignore[type-arg]
    blob = bytes.fromhex(vector["signed"])
    try:
        purpose, _message, signed, signature = _split_signed(blob)
    except (AssertionError, struct.error, IndexError, UnicodeDecodeError):
        return  # malformed: refused before any key is used
    public = bytes.fromhex(vector["public_key"])
    assert purpose != vector["purpose"] or not _verifies(public, signed, signature)


def _fingerprint(signing_key: bytes) -> str:
    # BLAKE2b with a 20-byte output: not the same bits as BLAKE2b-512 cut to 20 bytes.
    digest = hashlib.blake2b(b"whistle/fingerprint/v1" + signing_key, digest_size=20).digest()
    value = int.from_bytes(digest, "big")
    chars = "".join(CROCKFORD[(value >> (5 * (31 - i))) & 31] for i in range(32))
    return " ".join(chars[i : i + 4] for i in range(0, 32, 4))


def test_the_fingerprint_example_of_the_spec() -> None:
    assert _fingerprint(bytes(32)) == "BPH2 YMGH 25GT FJ2B W954 44AT KJ3Y G0XC"


@pytest.mark.parametrize("vector", load("cards")["valid"], ids=lambda v: v["kind"])
def test_cards_from_the_spec(vector: dict) -> None:  # type: ignore[type-arg]
    card = json.loads(vector["card"])
    purpose, message, signed, signature = _split_signed(base64.b64decode(card["signed"]))
    assert purpose == "whistle/card/v1"
    body = json.loads(message)
    assert body["kind"] == vector["kind"]
    signing_key = bytes.fromhex(body["signing_key"])
    assert _verifies(signing_key, signed, signature)  # self-signed
    assert _fingerprint(signing_key) == vector["fingerprint"]
