"""Codes: 100 bits, the check symbol catches every typo it promises to."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from whistle.crypto import CodeChecksumError, CodeFormatError, format_code, generate_code
from whistle.crypto.codes import ALPHABET, CODE_BITS, code_bits, normalize_code


def test_generated_codes_are_canonical_and_distinct():
    codes = {generate_code() for _ in range(200)}
    assert len(codes) == 200
    for code in codes:
        assert len(code) == 21
        assert normalize_code(code) == code


def test_code_carries_100_bits():
    all_ones = generate_code(lambda n: b"\xff" * n)
    assert int.from_bytes(code_bits(all_ones), "big") == (1 << CODE_BITS) - 1
    assert all_ones.startswith("Z" * 20)


def test_format_groups_by_four():
    code = generate_code()
    shown = format_code(code)
    assert shown.split(" ")[:5] == [code[i : i + 4] for i in range(0, 20, 4)]
    assert normalize_code(shown) == code


@settings(max_examples=300, deadline=None)
@given(st.binary(min_size=13, max_size=13), st.integers(0, 19), st.sampled_from(ALPHABET))
def test_every_single_substitution_is_caught(raw, index, replacement):
    code = generate_code(lambda n: raw)
    if code[index] == replacement:
        return
    typo = code[:index] + replacement + code[index + 1 :]
    with pytest.raises(CodeChecksumError):
        normalize_code(typo)


@settings(max_examples=300, deadline=None)
@given(st.binary(min_size=13, max_size=13), st.integers(0, 18))
def test_every_adjacent_transposition_is_caught(raw, index):
    code = generate_code(lambda n: raw)
    swapped = code[:index] + code[index + 1] + code[index] + code[index + 2 :]
    if swapped == code:
        return
    with pytest.raises(CodeChecksumError):
        normalize_code(swapped)


@settings(max_examples=100, deadline=None)
@given(st.binary(min_size=13, max_size=13))
def test_swapping_the_check_symbol_in_is_refused(raw):
    code = generate_code(lambda n: raw)
    swapped = code[:19] + code[20] + code[19]
    if swapped == code:
        return
    with pytest.raises((CodeChecksumError, CodeFormatError)):
        normalize_code(swapped)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=100))
def test_arbitrary_text_is_a_code_or_a_code_error(text):
    try:
        code = normalize_code(text)
    except (CodeFormatError, CodeChecksumError):
        return
    assert len(code) == 21
    assert normalize_code(code) == code


def test_non_text_is_a_caller_bug():
    with pytest.raises(TypeError):
        normalize_code(b"ABCD")  # type: ignore[arg-type]
