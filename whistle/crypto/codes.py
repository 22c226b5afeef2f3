"""Source codes: 100 random bits as 20 Crockford base32 characters plus a check symbol.

A source writes the code down at the receipt and types it again at check-in.
The check symbol (Crockford's mod-37) catches every single wrong character and
every swap of two adjacent characters, so a typo is reported as a typo before
any lookup happens; the symbol is public, so checking it first tells an
attacker nothing.

The canonical form is 21 upper-case characters; people see it in groups of four.
Input is forgiving: case, spaces, dashes and the look-alikes O/0 and I/L/1.
"""

import os
from collections.abc import Callable

from whistle.crypto.errors import CodeChecksumError, CodeFormatError

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
CHECK_ALPHABET = ALPHABET + "*~$=U"
DATA_CHARS = 20
CODE_BITS = 100
CODE_BYTES = 13  # the 100-bit value, big-endian, top four bits zero
MAX_INPUT_CHARS = 80  # anything longer is not a code; refuse before looking at it

_VALUES = {c: i for i, c in enumerate(ALPHABET)}
_LOOKALIKES = str.maketrans({"O": "0", "I": "1", "L": "1"})
_SEPARATORS = str.maketrans("", "", " -\t\r\n\u00a0")


def check_symbol(data: str) -> str:
    """Crockford's mod-37 check symbol of a string of data characters."""
    remainder = 0
    for char in data:
        remainder = (remainder * 32 + _VALUES[char]) % 37
    return CHECK_ALPHABET[remainder]


def generate_code(randbytes: Callable[[int], bytes] = os.urandom) -> str:
    """A new code in canonical form, from 100 bits of the given CSPRNG."""
    raw = randbytes(CODE_BYTES)
    if len(raw) != CODE_BYTES:
        raise ValueError("randbytes returned the wrong number of bytes")
    value = int.from_bytes(raw, "big") & ((1 << CODE_BITS) - 1)
    data = "".join(ALPHABET[(value >> (5 * i)) & 31] for i in reversed(range(DATA_CHARS)))
    return data + check_symbol(data)


def normalize_code(text: str) -> str:
    """The canonical form of what a person typed.

    Raises ``CodeFormatError`` when it cannot be a code and ``CodeChecksumError``
    when it has the shape of a code but the check symbol says it was mistyped.
    """
    if not isinstance(text, str):
        raise TypeError("a code is text")
    if len(text) > MAX_INPUT_CHARS:
        raise CodeFormatError("too long to be a code")
    compact = text.translate(_SEPARATORS).upper()
    if len(compact) != DATA_CHARS + 1:
        raise CodeFormatError(f"a code has {DATA_CHARS + 1} characters")
    data = compact[:DATA_CHARS].translate(_LOOKALIKES)
    check = compact[DATA_CHARS:]
    if check in "OIL":
        check = check.translate(_LOOKALIKES)
    if any(c not in _VALUES for c in data) or check not in CHECK_ALPHABET:
        raise CodeFormatError("a code uses only the letters and digits it was given with")
    if check_symbol(data) != check:
        raise CodeChecksumError("the code was mistyped")
    return data + check


def format_code(code: str) -> str:
    """The canonical code in groups of four, as people read and write it."""
    canonical = normalize_code(code)
    return " ".join(canonical[i : i + 4] for i in range(0, len(canonical), 4))


def code_bits(code: str) -> bytes:
    """The code's 100-bit value as 13 big-endian bytes (the input to key derivation)."""
    canonical = normalize_code(code)
    value = 0
    for char in canonical[:DATA_CHARS]:
        value = value * 32 + _VALUES[char]
    return value.to_bytes(CODE_BYTES, "big")
