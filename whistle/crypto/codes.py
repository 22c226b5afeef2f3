"""Source codes: 100 random bits as 20 Crockford base32 characters plus two check characters.

A source writes the code down at the receipt and types it again at check-in.
The two check characters make the 22 characters a codeword of a Reed-Solomon-like
code over GF(32) (each character is a field element): the sum of the characters
and the sum of each character times α^position are both zero. Any two columns of
that check are independent, so every pair of wrong characters is detected — every
single substitution and every adjacent swap among them — and a single wrong
character can be located, so the page can point at it. The check characters are
letters and digits like the rest, so what people are told ("letters and digits")
is what they see. They are public: checking them first tells an attacker nothing.

Codes issued before (20 characters plus Crockford's mod-37 check symbol, 21 in all,
its last possibly ``* ~ $ = U``) keep working: the length tells the two apart, and
both carry the same 100 bits.

The canonical form is upper case; people see it in groups of four.
Input is forgiving: case, spaces, dashes and the look-alikes O/0 and I/L/1.
"""

import os
from collections.abc import Callable

from whistle.crypto.errors import CodeChecksumError, CodeFormatError

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
CHECK_ALPHABET = ALPHABET + "*~$=U"  # mod-37 symbols: recovery keys and codes issued before
DATA_CHARS = 20
CHECK_CHARS = 2
CODE_CHARS = DATA_CHARS + CHECK_CHARS
LEGACY_CODE_CHARS = DATA_CHARS + 1
CODE_BITS = 100
CODE_BYTES = 13  # the 100-bit value, big-endian, top four bits zero
MAX_INPUT_CHARS = 80  # anything longer is not a code; refuse before looking at it

_VALUES = {c: i for i, c in enumerate(ALPHABET)}
_LOOKALIKES = str.maketrans({"O": "0", "I": "1", "L": "1"})
_SEPARATORS = str.maketrans("", "", " -\t\r\n\u00a0")

# GF(32) = GF(2)[x] / (x^5 + x^2 + 1); α = x is primitive (order 31 > 22 positions).
_EXP = [0] * 62
_LOG = [0] * 32
_value = 1
for _power in range(31):
    _EXP[_power] = _EXP[_power + 31] = _value
    _LOG[_value] = _power
    _value <<= 1
    if _value & 32:
        _value ^= 0b100101


def _mul(a: int, b: int) -> int:
    return 0 if a == 0 or b == 0 else _EXP[_LOG[a] + _LOG[b]]


def _div(a: int, b: int) -> int:
    return 0 if a == 0 else _EXP[_LOG[a] - _LOG[b] + 31]


def _syndromes(values: list[int]) -> tuple[int, int]:
    """(Σ v_j, Σ v_j·α^j) over GF(32): both zero exactly for a codeword."""
    s0 = s1 = 0
    for position, value in enumerate(values):
        s0 ^= value
        s1 ^= _mul(value, _EXP[position])
    return s0, s1


def check_characters(data: str) -> str:
    """The two GF(32) check characters that follow 20 data characters."""
    s0, s1 = _syndromes([_VALUES[c] for c in data])
    # Solve c20 + c21 = s0 and c20·α^20 + c21·α^21 = s1 (addition is XOR).
    c20 = _div(s1 ^ _mul(s0, _EXP[21]), _EXP[20] ^ _EXP[21])
    return ALPHABET[c20] + ALPHABET[c20 ^ s0]


def locate_typo(canonical: str) -> tuple[str, int | None] | None:
    """What went wrong in a 22-character string that fails the check, when that can be known.

    ``("wrong", i)``: one character differs from a codeword, the one at i.
    ``("swapped", i)``: exchanging characters i and i+1 gives a codeword, and no
    other adjacent swap does; ``("swapped", None)``: several adjacent swaps would
    (about half of all swaps). ``None``: more went wrong (or it is a codeword).
    A single substitution has s0 ≠ 0 and an adjacent swap s0 = 0, so one is
    never reported as the other.
    """
    values = [_VALUES[c] for c in canonical]
    s0, s1 = _syndromes(values)
    if s0 and s1:
        position = _LOG[_div(s1, s0)]
        return ("wrong", position) if position < len(values) else None
    if s0 or not s1:
        return None
    swaps = []
    for i in range(len(values) - 1):
        swapped = [*values[:i], values[i + 1], values[i], *values[i + 2 :]]
        if _syndromes(swapped) == (0, 0):
            swaps.append(i)
    if not swaps:
        return None
    return "swapped", swaps[0] if len(swaps) == 1 else None


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
    return data + check_characters(data)


def _compact(text: str, what: str) -> str:
    if not isinstance(text, str):
        raise TypeError(f"a {what} is text")
    return text.translate(_SEPARATORS).upper()


def normalize_checked(text: str, data_chars: int, what: str = "code") -> str:
    """The canonical form of ``data_chars`` characters plus a mod-37 check symbol, as typed.

    Raises ``CodeFormatError`` when it cannot be one and ``CodeChecksumError``
    when it has the right shape but the check symbol says it was mistyped.
    """
    if isinstance(text, str) and len(text) > 4 * data_chars:
        raise CodeFormatError(f"too long to be a {what}")
    compact = _compact(text, what)
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
    """The canonical form of a code a person typed: 22 characters, or 21 for a code issued before.

    Raises ``CodeFormatError`` (with ``position`` set to the first character
    outside the alphabet, when that is what is wrong) or ``CodeChecksumError``
    (with ``position`` and ``kind`` set when the check can locate the typo).
    Positions count characters without spaces and dashes, from 0.
    """
    if isinstance(text, str) and len(text) > MAX_INPUT_CHARS:
        raise CodeFormatError("too long to be a code")
    compact = _compact(text, "code")
    if len(compact) == LEGACY_CODE_CHARS:
        return normalize_checked(compact, DATA_CHARS)
    if len(compact) != CODE_CHARS:
        raise CodeFormatError(f"a code has {CODE_CHARS} characters")
    canonical = compact.translate(_LOOKALIKES)
    for position, char in enumerate(canonical):
        if char not in _VALUES:
            error = CodeFormatError("a code uses only the letters and digits it was given with")
            error.position = position
            raise error
    if _syndromes([_VALUES[c] for c in canonical]) != (0, 0):
        mistyped = CodeChecksumError("the code was mistyped")
        found = locate_typo(canonical)
        if found is not None:
            mistyped.kind, mistyped.position = found
        raise mistyped
    return canonical


def format_code(code: str) -> str:
    """The canonical code in groups of four, as people read and write it."""
    return group(normalize_code(code))


def code_bits(code: str) -> bytes:
    """The code's 100-bit value as 13 big-endian bytes (the input to key derivation)."""
    canonical = normalize_code(code)
    value = 0
    for char in canonical[:DATA_CHARS]:
        value = value * 32 + _VALUES[char]
    return value.to_bytes(CODE_BYTES, "big")
