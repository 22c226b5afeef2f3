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


def encode_base32(value: int, chars: int) -> str:
    """``value`` as exactly ``chars`` Crockford base32 characters, most significant first."""
    if value < 0 or value >> (5 * chars):
        raise ValueError("value does not fit")
    return "".join(ALPHABET[(value >> (5 * i)) & 31] for i in reversed(range(chars)))


def group(text: str) -> str:
    """Groups of four characters, as people read and write codes and fingerprints."""
    return " ".join(text[i : i + 4] for i in range(0, len(text), 4))


def generate_code(randbytes: Callable[[int], bytes] = os.urandom) -> str:
    """A new code in canonical form, from 100 bits of the given CSPRNG."""
    raw = randbytes(CODE_BYTES)
    if len(raw) != CODE_BYTES:
        raise ValueError("randbytes returned the wrong number of bytes")
    data = encode_base32(int.from_bytes(raw, "big") & ((1 << CODE_BITS) - 1), DATA_CHARS)
    return data + check_symbol(data)


def normalize_checked(text: str, data_chars: int, what: str = "code") -> str:
    """The canonical form of ``data_chars`` characters plus a check symbol, as typed by a person.

    Raises ``CodeFormatError`` when it cannot be one and ``CodeChecksumError``
    when it has the right shape but the check symbol says it was mistyped.
    """
    if not isinstance(text, str):
        raise TypeError(f"a {what} is text")
    if len(text) > 4 * data_chars:
        raise CodeFormatError(f"too long to be a {what}")
    compact = text.translate(_SEPARATORS).upper()
    if len(compact) != data_chars + 1:
        raise CodeFormatError(f"a {what} has {data_chars + 1} characters")
    data = compact[:data_chars].translate(_LOOKALIKES)
    check = compact[data_chars:]
    if check in "OIL":
        check = check.translate(_LOOKALIKES)
    if any(c not in _VALUES for c in data) or check not in CHECK_ALPHABET:
        raise CodeFormatError(f"a {what} uses only the letters and digits it was given with")
    if check_symbol(data) != check:
        raise CodeChecksumError(f"the {what} was mistyped")
    return data + check


def decode_checked(canonical: str) -> int:
    """The value of a canonical checked string (its data characters)."""
    value = 0
    for char in canonical[:-1]:
        value = value * 32 + _VALUES[char]
    return value


def normalize_code(text: str) -> str:
    """The canonical form of a code a person typed (see ``normalize_checked``)."""
    if isinstance(text, str) and len(text) > MAX_INPUT_CHARS:
        raise CodeFormatError("too long to be a code")
    return normalize_checked(text, DATA_CHARS)


def format_code(code: str) -> str:
    """The canonical code in groups of four, as people read and write it."""
    return group(normalize_code(code))


def code_bits(code: str) -> bytes:
    """The code's 100-bit value as 13 big-endian bytes (the input to key derivation)."""
    return decode_checked(normalize_code(code)).to_bytes(CODE_BYTES, "big")
