"""Inbox backup files: a small plaintext header, then one envelope with the whole state.

Layout (docs/protocol.md §13 has the byte layout and a worked example):

    magic "WHBAK" | version u8 = 1 | header length u32 BE (2 … 1 MiB) | header
    envelope (§5), one boxed slot: from the office storage key to itself

The header is canonical JSON (UTF-8, sorted keys, no spaces) with
``"format": "whistle-backup"``; what else it holds is the inbox's business
(office fingerprint, date, the officers' already-wrapped keyrings). It carries no
secret and no report content. The envelope's associated data is

    BLAKE2b-256("whistle/backup/v1" ‖ magic ‖ version ‖ header length ‖ header)

so changing one header byte makes every chunk fail authentication. The slot is
``crypto_box`` from the storage secret key to the storage public key: only the
holder of the storage secret key can make a backup that opens (a sealed slot would
let anyone who learnt the storage *public* key forge one). ``open_backup`` checks
that the slot is that one.
"""

import io
import json
import struct
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, BinaryIO

from whistle.crypto.envelope import (
    EnvelopeWriter,
    OpenedEnvelope,
    boxed_to,
    check_envelope_shape,
    open_envelope,
)
from whistle.crypto.errors import (
    MalformedError,
    TruncatedError,
    UnsupportedVersionError,
    WrongKeyError,
)
from whistle.crypto.hashing import generic_hash
from whistle.crypto.keys import box_keypair_from_secret

MAGIC = b"WHBAK"
VERSION = 1
FORMAT = "whistle-backup"
AD_DOMAIN = b"whistle/backup/v1"
MAX_HEADER_BYTES = 1024 * 1024
PREFIX_BYTES = len(MAGIC) + 1 + 4


@dataclass(frozen=True)
class BackupHeader:
    """The parsed plaintext header and the associated data it binds the envelope to."""

    fields: Mapping[str, Any]
    associated_data: bytes
    size: int


def encode_header(fields: Mapping[str, Any]) -> bytes:
    """The header's bytes: prefix and canonical JSON (``ValueError`` if too large)."""
    document = {**fields, "format": FORMAT}
    body = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    raw = body.encode("utf-8")
    if len(raw) > MAX_HEADER_BYTES:
        raise ValueError("a backup header is at most 1 MiB")
    return MAGIC + bytes([VERSION]) + struct.pack(">I", len(raw)) + raw


def start_backup(
    out: BinaryIO, fields: Mapping[str, Any], storage_secret_key: bytes
) -> EnvelopeWriter:
    """Write the header to ``out`` and return the envelope writer for the content.

    Add the parts (``add_file``), then ``finish()``: until then ``out`` is no backup.
    """
    header = encode_header(fields)
    out.write(header)
    storage = box_keypair_from_secret(storage_secret_key)
    return EnvelopeWriter(
        out,
        [boxed_to(storage.public_key)],
        _associated_data(header),
        sender_secret_key=storage_secret_key,
    )


def read_backup_header(source: BinaryIO) -> BackupHeader:
    """Read and check the header; ``source`` is left at the envelope's first byte.

    Raises ``MalformedError`` (not a backup, broken header), ``TruncatedError`` and
    ``UnsupportedVersionError``. Nothing in the header is authenticated until
    ``open_backup`` succeeded.
    """
    prefix = source.read(PREFIX_BYTES)
    if len(prefix) >= len(MAGIC) and prefix[: len(MAGIC)] != MAGIC:
        raise MalformedError("not a Whistle backup")
    if len(prefix) < PREFIX_BYTES:
        raise TruncatedError("the backup ends inside its header")
    if prefix[5] != VERSION:
        raise UnsupportedVersionError("backup", prefix[5], (VERSION,))
    (length,) = struct.unpack(">I", prefix[6:])
    if not 2 <= length <= MAX_HEADER_BYTES:
        raise MalformedError("the backup header's length is out of bounds")
    raw = source.read(length)
    if len(raw) != length:
        raise TruncatedError("the backup ends inside its header")
    try:
        fields = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise MalformedError("the backup header is not JSON") from exc
    if not isinstance(fields, dict) or fields.get("format") != FORMAT:
        raise MalformedError("not a Whistle backup header")
    return BackupHeader(fields, _associated_data(prefix + raw), PREFIX_BYTES + length)


def open_backup(
    source: BinaryIO,
    header: BackupHeader,
    storage_secret_keys: bytes | Sequence[bytes],
    *,
    max_parts: int,
) -> OpenedEnvelope:
    """Authenticate the whole content (``source`` right after the header, seekable).

    Raises ``TruncatedError`` first when the content's length cannot be a whole envelope
    (cut short, or bytes added), ``WrongKeyError`` unless a storage key opens the slot
    *and* the slot was made by that same key, else what ``open_envelope`` raises
    (``TamperedError``, ``MalformedError``). Read the parts with ``events()``.
    """
    start = source.tell()
    head = source.read(512)
    size = source.seek(0, io.SEEK_END) - start
    source.seek(start)
    try:
        check_envelope_shape(head, size, sealed=0, boxed=1, sender=True)
    except MalformedError as exc:
        if "length" in str(exc):
            raise TruncatedError("the backup is cut short (or has bytes added)") from exc
        raise
    keys = (
        [storage_secret_keys]
        if isinstance(storage_secret_keys, bytes | bytearray)
        else list(storage_secret_keys)
    )
    opened = open_envelope(source, keys, header.associated_data, max_parts=max_parts)
    publics = {box_keypair_from_secret(k).public_key for k in keys}
    if opened.sender_public_key is None or opened.sender_public_key not in publics:
        raise WrongKeyError("the backup was not made with this office's storage key")
    return opened


def _associated_data(header: bytes) -> bytes:
    return generic_hash(AD_DOMAIN + header)
