"""The browser tests' body scan (``leaks``) finds plaintext in every encoding it claims to,
wherever in a body it sits; otherwise "no plaintext reached the server" would prove less."""

import base64
import urllib.parse

import pytest

from tests.e2e.conftest import FLOW, leaks

CANARY = FLOW["canary"]
RAW = CANARY.encode()
HIDDEN = {
    "utf-8": RAW,
    "lower case": CANARY.lower().encode(),
    "utf-16-le": CANARY.encode("utf-16-le"),
    "utf-16-be": CANARY.encode("utf-16-be"),
    "hex": RAW.hex().encode(),
    "HEX": RAW.hex().upper().encode(),
    "url-encoded": urllib.parse.quote(CANARY, safe="").encode(),
    "base64": base64.b64encode(RAW),
    "base64 after 1 byte": base64.b64encode(b"x" + RAW),
    "base64 after 2 bytes": base64.b64encode(b"xy" + RAW),
    "url-safe base64 after 1 byte": base64.urlsafe_b64encode(b"\xff" + RAW),
    "base64 inside JSON": b'{"v":"' + base64.b64encode(b'{"m":"' + RAW + b'"}') + b'"}',
}


@pytest.mark.parametrize("encoding", sorted(HIDDEN))
def test_the_scan_finds_each_encoding(encoding: str) -> None:
    body = b"\x00prefix-" + HIDDEN[encoding] + b"-suffix"
    assert leaks([("POST", "/x", body)], [CANARY])


def test_the_scan_finds_nothing_in_ciphertext_like_bytes() -> None:
    assert leaks([("POST", "/x", bytes(range(256)) * 64)], [CANARY]) == []
