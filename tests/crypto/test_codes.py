"""Codes: 100 bits, the check characters catch every typo they promise to and point at it."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from whistle.crypto import CodeChecksumError, CodeFormatError, format_code, generate_code
from whistle.crypto.codes import (
    ALPHABET,
    CODE_BITS,
    CODE_CHARS,
    DATA_CHARS,
    check_symbol,
    code_bits,
    encode_base32,
    normalize_code,
)

RAW = st.binary(min_size=13, max_size=13)


def _legacy_code(raw: bytes) -> str:
    """A code as issued before: 20 data characters and Crockford's mod-37 check symbol."""
    data = encode_base32(int.from_bytes(raw, "big") & ((1 << CODE_BITS) - 1), DATA_CHARS)
    return data + check_symbol(data)


def test_generated_codes_are_canonical_letters_and_digits():
    codes = {generate_code() for _ in range(200)}
    assert len(codes) == 200
    for code in codes:
        assert len(code) == CODE_CHARS == 22
        assert set(code) <= set(ALPHABET)
        assert normalize_code(code) == code


def test_code_carries_100_bits():
    all_ones = generate_code(lambda n: b"\xff" * n)
    assert int.from_bytes(code_bits(all_ones), "big") == (1 << CODE_BITS) - 1
    assert all_ones.startswith("Z" * 20)


def test_format_groups_by_four():
    code = generate_code()
    shown = format_code(code)
    assert shown.split(" ") == [code[i : i + 4] for i in range(0, 22, 4)]
    assert normalize_code(shown) == code


@settings(max_examples=300, deadline=None)
@given(RAW, st.integers(0, 21), st.sampled_from(ALPHABET))
def test_every_single_substitution_is_caught_and_located(raw, index, replacement):
    code = generate_code(lambda n: raw)
    if code[index] == replacement:
        return
    typo = code[:index] + replacement + code[index + 1 :]
    with pytest.raises(CodeChecksumError) as caught:
        normalize_code(typo)
    assert (caught.value.kind, caught.value.position) == ("wrong", index)


@settings(max_examples=300, deadline=None)
@given(RAW, st.integers(0, 20))
def test_every_adjacent_swap_is_caught_as_a_swap(raw, index):
    code = generate_code(lambda n: raw)
    swapped = code[:index] + code[index + 1] + code[index] + code[index + 2 :]
    if swapped == code:
        return
    with pytest.raises(CodeChecksumError) as caught:
        normalize_code(swapped)
    assert caught.value.kind == "swapped"
    assert caught.value.position in (index, None)


@settings(max_examples=300, deadline=None)
@given(RAW, st.integers(0, 21), st.integers(0, 21), st.integers(1, 31), st.integers(1, 31))
def test_any_two_wrong_characters_are_caught(raw, first, second, delta1, delta2):
    # Minimum distance 3: no two substitutions turn one code into another.
    if first == second:
        return
    code = list(generate_code(lambda n: raw))
    for index, delta in ((first, delta1), (second, delta2)):
        code[index] = ALPHABET[ALPHABET.index(code[index]) ^ delta]
    with pytest.raises(CodeChecksumError):
        normalize_code("".join(code))


@settings(max_examples=200, deadline=None)
@given(RAW)
def test_codes_issued_before_keep_working(raw):
    legacy = _legacy_code(raw)
    assert normalize_code(legacy.lower()) == legacy
    assert code_bits(legacy) == code_bits(generate_code(lambda n: raw))


@settings(max_examples=200, deadline=None)
@given(RAW, st.integers(0, 19), st.sampled_from(ALPHABET))
def test_codes_issued_before_still_catch_substitutions(raw, index, replacement):
    legacy = _legacy_code(raw)
    if legacy[index] == replacement:
        return
    with pytest.raises(CodeChecksumError):
        normalize_code(legacy[:index] + replacement + legacy[index + 1 :])


def test_a_character_outside_the_alphabet_is_pointed_at():
    code = generate_code()
    with pytest.raises(CodeFormatError) as caught:
        normalize_code(code[:9] + "U" + code[10:])
    assert caught.value.position == 9


def test_dropping_the_last_character_is_not_a_code():
    with pytest.raises(CodeFormatError):
        normalize_code(generate_code()[:-1] + "!")


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=100))
def test_arbitrary_text_is_a_code_or_a_code_error(text):
    try:
        code = normalize_code(text)
    except (CodeFormatError, CodeChecksumError):
        return
    assert len(code) in (21, 22)
    assert normalize_code(code) == code


def test_non_text_is_a_caller_bug():
    with pytest.raises(TypeError):
        normalize_code(b"ABCD")  # type: ignore[arg-type]
