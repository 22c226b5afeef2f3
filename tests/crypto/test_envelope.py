"""Envelopes: round trips of every shape, sizes that reveal only the padded length, and
hostile input that always ends in the right specific exception with no plaintext released."""

import io

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from whistle import crypto
from whistle.crypto import (
    DecryptionError,
    EnvelopeWriter,
    MalformedError,
    PartKind,
    TamperedError,
    TruncatedError,
    UnsupportedVersionError,
    WrongKeyError,
    associated_data,
    boxed_to,
    generate_box_keypair,
    open_bytes,
    open_envelope,
    seal,
    sealed_to,
)
from whistle.crypto.envelope import ABYTES, CHUNK_BYTES
from whistle.crypto.padding import is_padded_size, padded_size

CASE = bytes(range(16))
AD = associated_data("submission", CASE)
DESK = generate_box_keypair()
OTHER = generate_box_keypair()
SOURCE = generate_box_keypair()


def make(parts, recipients=None, sender=None, ad=AD) -> bytes:
    return seal(parts, recipients or [sealed_to(DESK.public_key)], ad, sender_secret_key=sender)


#: fixed part, one sealed slot (type byte + 80), secretstream header
HEADER = 8 + 81 + 24
SMALL = make([(PartKind.TEXT, "message", "canary ☂".encode()), (PartKind.FILE, "a.txt", b"x")])
MULTI = make([(PartKind.FILE, "big.bin", bytes(range(256)) * 1000)])


@pytest.mark.parametrize("size", [0, 1, CHUNK_BYTES - 20, CHUNK_BYTES, 3 * CHUNK_BYTES + 7])
def test_round_trip_sizes(size):
    content = bytes((i * 7) % 251 for i in range(size))
    data = make([(PartKind.FILE, "f", content), (PartKind.TEXT, "t", b"hello")])
    message = open_bytes(data, DESK.secret_key, AD)
    assert [(p.kind, p.name, p.content) for p in message.parts] == [
        (PartKind.FILE, "f", content),
        (PartKind.TEXT, "t", b"hello"),
    ]
    assert message.sender_public_key is None


def test_streaming_writes_in_pieces_equal_one_write():
    out = io.BytesIO()
    writer = EnvelopeWriter(out, [sealed_to(DESK.public_key)], AD)
    writer.begin_file("pieces")
    for i in range(300):
        writer.write(bytes([i % 256]) * 1000)
    writer.end_part()
    total = writer.finish()
    assert total == len(out.getvalue())
    (part,) = open_bytes(out.getvalue(), DESK.secret_key, AD).parts
    assert part.content == b"".join(bytes([i % 256]) * 1000 for i in range(300))


def test_stored_size_reveals_only_the_padded_length():
    # Different contents, file counts and names with the same framed length bucket
    # give envelopes of exactly the same size.
    one = make([(PartKind.TEXT, "form", b"a" * 100)])
    two = make([(PartKind.TEXT, "form", b"a"), (PartKind.FILE, "x.pdf", b"b" * 30)])
    assert len(one) == len(two)
    opened = open_envelope(io.BytesIO(MULTI), DESK.secret_key, AD)
    assert opened.size == len(MULTI)
    body = len(MULTI) - HEADER
    chunks = -(-body // (CHUNK_BYTES + ABYTES))
    assert is_padded_size(body - chunks * ABYTES)


def test_padded_size_is_idempotent():
    for n in range(0, 300_000, 997):
        assert padded_size(padded_size(n)) == padded_size(n)


def test_boxed_slot_reports_the_sender_and_sealed_slot_does_not():
    data = make(
        [(PartKind.TEXT, "message", b"hi")],
        recipients=[boxed_to(DESK.public_key), sealed_to(SOURCE.public_key)],
        sender=SOURCE.secret_key,
    )
    assert open_bytes(data, DESK.secret_key, AD).sender_public_key == SOURCE.public_key
    assert open_bytes(data, SOURCE.secret_key, AD).sender_public_key is None


def test_sealed_slot_claiming_a_sender_is_not_authenticated():
    # A forger can put anyone's public key in the header, but without a boxed
    # slot the recipient never reports a sender.
    forged = make(
        [(PartKind.TEXT, "message", b"hi")],
        recipients=[sealed_to(DESK.public_key), boxed_to(OTHER.public_key)],
        sender=SOURCE.secret_key,
    )
    assert open_bytes(forged, DESK.secret_key, AD).sender_public_key is None


def test_wrong_key_and_wrong_associated_data():
    with pytest.raises(WrongKeyError):
        open_bytes(SMALL, OTHER.secret_key, AD)
    with pytest.raises(TamperedError):
        open_bytes(SMALL, DESK.secret_key, associated_data("followup", CASE))
    with pytest.raises(TamperedError):
        open_bytes(SMALL, DESK.secret_key, associated_data("submission", bytes(16)))


def test_any_of_several_keys_opens():
    message = open_bytes(SMALL, [OTHER.secret_key, DESK.secret_key], AD)
    assert message.part("message").text == "canary ☂"


def test_reordered_chunks_are_tampering():
    block = CHUNK_BYTES + ABYTES
    start = HEADER
    chunks = [MULTI[start + i : start + i + block] for i in range(0, len(MULTI) - start, block)]
    assert len(chunks) >= 3
    swapped = MULTI[:start] + chunks[1] + chunks[0] + b"".join(chunks[2:])
    with pytest.raises(TamperedError):
        open_bytes(swapped, DESK.secret_key, AD)
    dropped = MULTI[:start] + chunks[0] + b"".join(chunks[2:])
    with pytest.raises(TamperedError):
        open_bytes(dropped, DESK.secret_key, AD)


def test_cut_at_a_chunk_boundary_is_truncation():
    start = HEADER
    block = CHUNK_BYTES + ABYTES
    with pytest.raises(TruncatedError):
        open_bytes(MULTI[: start + block], DESK.secret_key, AD)
    with pytest.raises(TruncatedError):
        open_bytes(MULTI[:start], DESK.secret_key, AD)


def test_unknown_version_says_upgrade():
    data = bytearray(SMALL)
    data[5] = 9
    with pytest.raises(UnsupportedVersionError, match="upgrade"):
        open_bytes(bytes(data), DESK.secret_key, AD)


def test_no_plaintext_released_before_the_final_tag():
    # Flip a byte in the LAST chunk: open_envelope must fail before events() ever runs,
    # so a caller never holds a single byte of the earlier, valid chunks.
    damaged = bytearray(MULTI)
    damaged[-5] ^= 1
    with pytest.raises(TamperedError):
        open_envelope(io.BytesIO(bytes(damaged)), DESK.secret_key, AD)


def test_framing_errors_inside_a_valid_stream_are_malformed():
    # A writer bypassed: raw framing bytes with data outside any part.
    out = io.BytesIO()
    writer = EnvelopeWriter(out, [sealed_to(DESK.public_key)], AD)
    writer._emit(b"\x02\x00\x00\x00\x01x")  # data frame without a part
    writer._in_part = False
    writer.finish()
    with pytest.raises(MalformedError):
        open_bytes(out.getvalue(), DESK.secret_key, AD)


def test_writer_misuse_is_a_caller_bug():
    writer = EnvelopeWriter(io.BytesIO(), [sealed_to(DESK.public_key)], AD)
    with pytest.raises(ValueError, match="inside a part"):
        writer.write(b"x")
    writer.begin_file("a")
    with pytest.raises(ValueError, match="still open"):
        writer.finish()
    with pytest.raises(ValueError, match="sender"):
        EnvelopeWriter(io.BytesIO(), [boxed_to(DESK.public_key)], AD)
    with pytest.raises(ValueError, match="lower-case"):
        associated_data("Not A Type", CASE)


def expect_specific(data: bytes) -> None:
    """Opening hostile bytes raises a DecryptionError subclass or a version error, nothing else."""
    try:
        open_bytes(data, DESK.secret_key, AD)
    except (DecryptionError, UnsupportedVersionError):
        return
    # Opening can succeed only if the input is byte-identical to a valid envelope.
    assert data in (SMALL, MULTI)


HYPOTHESIS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@HYPOTHESIS
@given(st.sampled_from([SMALL, MULTI]), st.data())
def test_any_bit_flip_is_refused(envelope, data):
    index = data.draw(st.integers(0, len(envelope) - 1))
    bit = data.draw(st.integers(0, 7))
    damaged = bytearray(envelope)
    damaged[index] ^= 1 << bit
    with pytest.raises((DecryptionError, UnsupportedVersionError)):
        open_bytes(bytes(damaged), DESK.secret_key, AD)


@HYPOTHESIS
@given(st.sampled_from([SMALL, MULTI]), st.data())
def test_any_truncation_is_refused(envelope, data):
    cut = data.draw(st.integers(0, len(envelope) - 1))
    with pytest.raises((TruncatedError, TamperedError, MalformedError)):
        open_bytes(envelope[:cut], DESK.secret_key, AD)


@HYPOTHESIS
@given(st.sampled_from([SMALL, MULTI]), st.binary(min_size=1, max_size=200))
def test_any_extension_is_refused(envelope, extra):
    with pytest.raises((TamperedError, MalformedError)):
        open_bytes(envelope + extra, DESK.secret_key, AD)


@HYPOTHESIS
@given(st.binary(max_size=600))
def test_random_bytes_are_refused(data):
    with pytest.raises((DecryptionError, UnsupportedVersionError)):
        open_bytes(data, DESK.secret_key, AD)


@HYPOTHESIS
@given(st.binary(max_size=200))
def test_random_bytes_after_a_valid_header_are_refused(tail):
    expect_specific(SMALL[:HEADER] + tail)


def test_empty_input_is_truncated():
    with pytest.raises(TruncatedError):
        open_bytes(b"", DESK.secret_key, AD)
    with pytest.raises(MalformedError):
        open_bytes(b"GIF89a....", DESK.secret_key, AD)


def test_public_api_exports_the_writer():
    assert crypto.EnvelopeWriter is EnvelopeWriter
