"""The backup format (whistle/crypto/backup.py): header bound to the content, maker checked,
and the worked example in docs/protocol.md §13."""

import io
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from whistle.crypto import (
    EnvelopeWriter,
    MalformedError,
    TruncatedError,
    UnsupportedVersionError,
    WrongKeyError,
    boxed_to,
    generate_box_keypair,
)
from whistle.crypto.backup import encode_header, open_backup, read_backup_header, start_backup


def test_the_format_binds_the_header_and_the_maker() -> None:
    storage = generate_box_keypair()
    out = io.BytesIO()
    writer = start_backup(out, {"note": "x"}, storage.secret_key)
    writer.add_bytes("inbox.sqlite", b"SQLite format 3\x00" + bytes(100))
    writer.finish()
    raw = out.getvalue()
    assert raw.startswith(b"WHBAK\x01")
    source = io.BytesIO(raw)
    header = read_backup_header(source)
    assert header.fields == {"format": "whistle-backup", "note": "x"}
    assert header.size == len(encode_header({"note": "x"}))
    opened = open_backup(source, header, storage.secret_key, max_parts=10)
    assert [p.name for p in opened.parts] == ["inbox.sqlite"]
    # Anyone may seal to the storage *public* key; a backup must come from the secret key.
    stranger = generate_box_keypair()
    forged = io.BytesIO()
    forged.write(encode_header({"note": "x"}))
    fake = EnvelopeWriter(
        forged,
        [boxed_to(storage.public_key)],
        header.associated_data,
        sender_secret_key=stranger.secret_key,
    )
    fake.add_bytes("inbox.sqlite", b"forged")
    fake.finish()
    forged.seek(0)
    with pytest.raises(WrongKeyError):
        open_backup(forged, read_backup_header(forged), storage.secret_key, max_parts=10)
    with pytest.raises(MalformedError):
        read_backup_header(io.BytesIO(b"WHENV\x01" + bytes(10)))
    with pytest.raises(UnsupportedVersionError):
        read_backup_header(io.BytesIO(b"WHBAK\x02" + raw[6:]))
    with pytest.raises(TruncatedError):
        read_backup_header(io.BytesIO(raw[:12]))


def test_the_worked_example_in_protocol_md() -> None:
    doc = (Path(__file__).parents[2] / "docs" / "protocol.md").read_text(encoding="utf-8")
    storage = generate_box_keypair()
    out = io.BytesIO()
    writer = start_backup(out, {}, storage.secret_key)
    assert out.getvalue()[:37] == b'WHBAK\x01\x00\x00\x00\x1b{"format":"whistle-backup"}'
    assert len(out.getvalue()) == 37 + 137  # the envelope's header is written at once
    writer.add_file("inbox.sqlite", io.BytesIO(bytes(4096)))
    writer.finish()
    assert len(out.getvalue()) == 4543
    assert "the whole file is **4,543 bytes**" in doc
    assert '`WHBAK 01 0000001b {"format":"whistle-backup"}`' in doc
    assert "`whistle/backup/v1`" in doc or '"whistle/backup/v1"' in doc


def test_a_changed_header_byte_fails_every_chunk() -> None:
    from whistle.crypto import TamperedError

    storage = generate_box_keypair()
    out = io.BytesIO()
    writer = start_backup(out, {"office": "A"}, storage.secret_key)
    writer.add_bytes("inbox.sqlite", bytes(70_000))
    writer.finish()
    raw = bytearray(out.getvalue())
    raw[raw.index(b'"A"') + 1] = ord("B")
    source = io.BytesIO(bytes(raw))
    header = read_backup_header(source)
    assert header.fields["office"] == "B"
    with pytest.raises(TamperedError):
        open_backup(source, header, storage.secret_key, max_parts=10)


@settings(max_examples=300)
@given(st.binary(max_size=300))
def test_any_bytes_are_a_header_or_a_crypto_error(data: bytes) -> None:
    from whistle.crypto import CryptoError

    for candidate in (data, b"WHBAK\x01" + data, b"WHBAK\x01\x00\x00\x00" + data[:1] + data):
        try:
            header = read_backup_header(io.BytesIO(candidate))
        except CryptoError:
            continue
        assert header.fields["format"] == "whistle-backup"


def test_a_deeply_nested_header_is_malformed_not_a_crash() -> None:
    body = b"[" * 200_000 + b"]" * 200_000
    raw = b"WHBAK\x01" + len(body).to_bytes(4, "big") + body
    with pytest.raises(MalformedError):
        read_backup_header(io.BytesIO(raw))
