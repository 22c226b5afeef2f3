"""Padmé padding (Nikitin et al., PETS 2019) with a floor.

Padmé rounds a length up so that at most O(log log L) bits of it are revealed,
costing at most 12 % overhead. Below the floor every envelope has the same size,
so short reports and replies are indistinguishable.
"""

MIN_PADDED = 4096


def padme(length: int) -> int:
    """The Padmé bucket of ``length`` (lengths under 2 are their own bucket)."""
    if length < 0:
        raise ValueError("a length is not negative")
    if length < 2:
        return length
    exponent = length.bit_length() - 1
    size_bits = exponent.bit_length()
    mask = (1 << (exponent - size_bits)) - 1
    return (length + mask) & ~mask


def padded_size(length: int) -> int:
    """The padded length of a plaintext of ``length`` bytes."""
    return max(MIN_PADDED, padme(length))


def is_padded_size(length: int) -> bool:
    """Whether ``length`` is a size that padding can produce."""
    return length >= MIN_PADDED and padded_size(length) == length
