"""Envelopes: one encrypted stream per record, readable only by its recipients.

Layout (all integers big-endian; docs/protocol.md §5 has the worked example):

    magic "WHENV" | version u8 = 1 | slot count u8 (1–16) | flags u8 (bit 0: sender key)
    [sender public key, 32 bytes]                      when flag bit 0 is set
    slots, each: type u8, then
        1 sealed:  crypto_box_seal(content key, recipient)                  80 bytes
        2 boxed:   nonce 24 ‖ crypto_box(content key, nonce, recipient, sender)  72 bytes
    secretstream header, 24 bytes
    chunks: crypto_secretstream_xchacha20poly1305, 64 KiB of plaintext each
            (the last 1 … 64 KiB, tagged FINAL), each with additional data
            AD = BLAKE2b-256("whistle/envelope/v1" ‖ header bytes ‖ caller's AD)

The plaintext is the framing of ``framing.py`` padded with zeros to a Padmé
size. The caller's associated data names the record (type and case), so a
server cannot move a record to another case or present one type as another.

A boxed slot proves the content key came from the holder of the sender's
secret key (the source's reply key, for follow-ups); opening reports the sender
only when a boxed slot was the one that opened.

Opening reads the stream twice: first to authenticate every chunk up to the
final tag and check the framing, releasing nothing; then to hand out the parts.
Memory stays flat whatever the size.
"""

import io
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import BinaryIO

import nacl.exceptions
import nacl.utils
from nacl.bindings import (
    crypto_box,
    crypto_box_open,
    crypto_box_seal,
    crypto_box_seal_open,
    crypto_scalarmult_base,
    crypto_secretstream_xchacha20poly1305_init_pull,
    crypto_secretstream_xchacha20poly1305_init_push,
    crypto_secretstream_xchacha20poly1305_pull,
    crypto_secretstream_xchacha20poly1305_push,
    crypto_secretstream_xchacha20poly1305_state,
    crypto_secretstream_xchacha20poly1305_TAG_FINAL,
    crypto_secretstream_xchacha20poly1305_TAG_MESSAGE,
)

from whistle.crypto import framing
from whistle.crypto.errors import (
    MalformedError,
    TamperedError,
    TruncatedError,
    UnsupportedVersionError,
    WrongKeyError,
)
from whistle.crypto.framing import FrameParser, PartData, PartEnd, PartKind, PartStart
from whistle.crypto.hashing import generic_hash
from whistle.crypto.padding import is_padded_size, padded_size

MAGIC = b"WHENV"
VERSION = 1
CHUNK_BYTES = 64 * 1024
ABYTES = 17
SS_HEADER_BYTES = 24
SLOT_SEALED = 1
SLOT_BOXED = 2
SLOT_BYTES = {SLOT_SEALED: 80, SLOT_BOXED: 72}
MAX_SLOTS = 16
FLAG_SENDER = 0x01
AD_DOMAIN = b"whistle/envelope/v1"
KEY_BYTES = 32
_RECORD_TYPE = re.compile(r"[a-z][a-z-]{0,31}")


def associated_data(record_type: str, case_id: bytes) -> bytes:
    """The associated data that binds an envelope to its record type and case.

    Types crossing the network are "submission", "followup" and "reply"; the
    inbox uses its own (stored copies, notes) for envelopes it keeps at rest.
    """
    if not _RECORD_TYPE.fullmatch(record_type):
        raise ValueError(f"a record type is lower-case ASCII, not {record_type!r}")
    if len(case_id) != 16:
        raise ValueError("a case id is 16 bytes")
    raw = record_type.encode("ascii")
    return bytes([len(raw)]) + raw + case_id


@dataclass(frozen=True)
class Recipient:
    """Who can open an envelope; ``authenticated`` means a boxed slot from the sender."""

    public_key: bytes
    authenticated: bool = False

    def __post_init__(self) -> None:
        if len(self.public_key) != KEY_BYTES:
            raise ValueError("a recipient public key is 32 bytes")


def sealed_to(public_key: bytes) -> Recipient:
    return Recipient(public_key, authenticated=False)


def boxed_to(public_key: bytes) -> Recipient:
    return Recipient(public_key, authenticated=True)


class EnvelopeWriter:
    """Streams parts into an envelope written to ``out``.

    Text and byte parts go in whole; a file part is ``begin_file`` then any
    number of ``write`` calls then ``end_part``. ``finish`` pads and writes the
    final chunk; until then the output is not a valid envelope.
    """

    def __init__(
        self,
        out: BinaryIO,
        recipients: Sequence[Recipient],
        associated_data: bytes,
        *,
        sender_secret_key: bytes | None = None,
    ) -> None:
        if not 1 <= len(recipients) <= MAX_SLOTS:
            raise ValueError(f"an envelope has 1 to {MAX_SLOTS} recipients")
        needs_sender = any(r.authenticated for r in recipients)
        sender_key = sender_secret_key or b""
        if needs_sender and len(sender_key) != KEY_BYTES:
            raise ValueError("authenticated recipients need the sender's 32-byte secret key")
        key = nacl.utils.random(KEY_BYTES)
        header = bytearray(MAGIC)
        header += bytes([VERSION, len(recipients), FLAG_SENDER if needs_sender else 0])
        if needs_sender:
            header += crypto_scalarmult_base(sender_key)
        for recipient in recipients:
            if recipient.authenticated:
                nonce = nacl.utils.random(24)
                boxed = crypto_box(key, nonce, recipient.public_key, sender_key)
                header += bytes([SLOT_BOXED]) + nonce + boxed
            else:
                header += bytes([SLOT_SEALED]) + crypto_box_seal(key, recipient.public_key)
        self._state = crypto_secretstream_xchacha20poly1305_state()
        header += crypto_secretstream_xchacha20poly1305_init_push(self._state, key)
        self._ad = _chunk_ad(bytes(header), associated_data)
        self._out = out
        self._plain = bytearray()
        self._length = 0
        self._in_part = False
        self._finished = False
        out.write(bytes(header))
        self._written = len(header)

    def add_text(self, name: str, value: str) -> None:
        self.add_bytes(name, value.encode("utf-8"), kind=PartKind.TEXT)

    def add_bytes(self, name: str, value: bytes, *, kind: PartKind = PartKind.BYTES) -> None:
        self._start(kind, name)
        self.write(value)
        self.end_part()

    def begin_file(self, name: str) -> None:
        self._start(PartKind.FILE, name)

    def write(self, data: bytes) -> None:
        if not self._in_part:
            raise ValueError("write() belongs inside a part")
        if data:
            for piece in framing.encode_data(data):
                self._emit(piece)

    def end_part(self) -> None:
        if not self._in_part:
            raise ValueError("no part is open")
        self._in_part = False
        self._emit(framing.PART_END)

    def add_file(self, name: str, source: BinaryIO) -> None:
        self.begin_file(name)
        while piece := source.read(CHUNK_BYTES):
            self.write(piece)
        self.end_part()

    def finish(self) -> int:
        """Pads, writes the final chunk; returns the envelope's total length in bytes."""
        if self._in_part:
            raise ValueError("a part is still open")
        if self._finished:
            raise ValueError("the envelope is already finished")
        self._emit(framing.END)
        padding = padded_size(self._length) - self._length
        zeros = bytes(min(padding, CHUNK_BYTES))
        while padding:
            step = min(padding, CHUNK_BYTES)
            self._emit(zeros[:step])
            padding -= step
        self._push(bytes(self._plain), crypto_secretstream_xchacha20poly1305_TAG_FINAL)
        self._plain.clear()
        self._finished = True
        return self._written

    def _start(self, kind: PartKind, name: str) -> None:
        if self._in_part:
            raise ValueError("a part is already open")
        if self._finished:
            raise ValueError("the envelope is already finished")
        self._emit(framing.encode_part_start(kind, name))
        self._in_part = True

    def _emit(self, data: bytes | memoryview) -> None:
        self._length += len(data)
        if len(self._plain) + len(data) <= CHUNK_BYTES:
            self._plain += data
            return
        # More than a chunk is pending: complete the buffered chunk, then push whole
        # chunks straight from ``data`` (one copy each), always keeping at least one
        # byte back, because the last chunk must be the FINAL one.
        view = memoryview(data)
        offset = CHUNK_BYTES - len(self._plain)
        self._plain += view[:offset]
        self._push(bytes(self._plain), _TAG_MESSAGE)
        self._plain.clear()
        while len(view) - offset > CHUNK_BYTES:
            self._push(bytes(view[offset : offset + CHUNK_BYTES]), _TAG_MESSAGE)
            offset += CHUNK_BYTES
        self._plain += view[offset:]
        view.release()

    def _push(self, chunk: bytes, tag: int) -> None:
        ciphertext = crypto_secretstream_xchacha20poly1305_push(self._state, chunk, self._ad, tag)
        self._out.write(ciphertext)
        self._written += len(ciphertext)


_TAG_MESSAGE = crypto_secretstream_xchacha20poly1305_TAG_MESSAGE


def _chunk_ad(header: bytes, caller_ad: bytes) -> bytes:
    return generic_hash(AD_DOMAIN + header + caller_ad)


@dataclass(frozen=True)
class PartInfo:
    kind: PartKind
    name: str
    size: int


@dataclass(frozen=True)
class Part:
    kind: PartKind
    name: str
    content: bytes

    @property
    def text(self) -> str:
        try:
            return self.content.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise MalformedError(f"part {self.name!r} is not UTF-8 text") from exc


@dataclass(frozen=True)
class _Header:
    raw: bytes
    sender_public_key: bytes | None
    slots: tuple[tuple[int, bytes], ...]
    stream_header: bytes


class OpenedEnvelope:
    """An envelope whose every chunk has been authenticated; its parts can now be read."""

    def __init__(
        self,
        source: BinaryIO,
        max_parts: int,
        body_offset: int,
        key: bytes,
        ad: bytes,
        stream_header: bytes,
        sender_public_key: bytes | None,
        parts: tuple[PartInfo, ...],
        size: int,
    ) -> None:
        self._source = source
        self._max_parts = max_parts
        self._body_offset = body_offset
        self._key = key
        self._ad = ad
        self._stream_header = stream_header
        self.sender_public_key = sender_public_key
        self.parts = parts
        self.size = size

    def events(self) -> Iterator[PartStart | PartData | PartEnd]:
        """The parts as a stream of events (start, data pieces, end), in order."""
        self._source.seek(self._body_offset)
        parser = FrameParser(self._max_parts)
        for plain in _decrypt_chunks(self._source, self._key, self._ad, self._stream_header):
            yield from parser.feed(plain)

    def read_all(self) -> list[Part]:
        """Every part in memory. For records known to be small (replies, forms)."""
        parts: list[Part] = []
        start: PartStart | None = None
        content = bytearray()
        for event in self.events():
            if isinstance(event, PartStart):
                start, content = event, bytearray()
            elif isinstance(event, PartData):
                content += event.data
            elif start is not None:
                parts.append(Part(start.kind, start.name, bytes(content)))
        return parts


def open_envelope(
    source: BinaryIO,
    secret_keys: bytes | Sequence[bytes],
    associated_data: bytes,
    *,
    max_parts: int = framing.MAX_PARTS,
) -> OpenedEnvelope:
    """Authenticate the whole envelope in ``source`` (seekable) and return it opened.

    Raises ``WrongKeyError`` when no key opens a slot, ``TamperedError`` when any
    chunk fails authentication (which includes the wrong associated data),
    ``TruncatedError`` when it is incomplete, ``MalformedError`` for a broken
    structure and ``UnsupportedVersionError`` for an unknown version.
    """
    keys = [secret_keys] if isinstance(secret_keys, bytes | bytearray) else list(secret_keys)
    start = source.tell()
    header = _read_header(source)
    key, sender = _find_content_key(header, keys)
    ad = _chunk_ad(header.raw, associated_data)
    body_offset = start + len(header.raw)
    parser = FrameParser(max_parts)
    parts: list[PartInfo] = []
    current: PartStart | None = None
    size = 0
    plain_total = 0
    for plain in _decrypt_chunks(source, key, ad, header.stream_header):
        plain_total += len(plain)
        for event in parser.feed(plain):
            if isinstance(event, PartStart):
                current, size = event, 0
            elif isinstance(event, PartData):
                size += len(event.data)
            elif current is not None:
                parts.append(PartInfo(current.kind, current.name, size))
    parser.finish()
    if not is_padded_size(plain_total):
        raise MalformedError("the padded length is not a padding size")
    total = len(header.raw) + source.tell() - body_offset
    return OpenedEnvelope(
        source, max_parts, body_offset, key, ad, header.stream_header, sender, tuple(parts), total
    )


def seal(
    parts: Iterable[tuple[PartKind, str, bytes]],
    recipients: Sequence[Recipient],
    associated_data: bytes,
    *,
    sender_secret_key: bytes | None = None,
) -> bytes:
    """A whole envelope in memory, for small records (replies, follow-ups without files)."""
    out = io.BytesIO()
    writer = EnvelopeWriter(out, recipients, associated_data, sender_secret_key=sender_secret_key)
    for kind, name, content in parts:
        writer.add_bytes(name, content, kind=kind)
    writer.finish()
    return out.getvalue()


@dataclass(frozen=True)
class Message:
    """An opened small envelope: its parts, and the sender when a boxed slot opened it."""

    parts: tuple[Part, ...]
    sender_public_key: bytes | None

    def part(self, name: str) -> Part:
        for part in self.parts:
            if part.name == name:
                return part
        raise MalformedError(f"the record has no part {name!r}")


def open_bytes(
    data: bytes, secret_keys: bytes | Sequence[bytes], associated_data: bytes
) -> Message:
    """``open_envelope`` for an envelope already in memory."""
    opened = open_envelope(io.BytesIO(data), secret_keys, associated_data)
    return Message(tuple(opened.read_all()), opened.sender_public_key)


def _read_exactly(source: BinaryIO, size: int, what: str) -> bytes:
    data = source.read(size)
    if len(data) != size:
        raise TruncatedError(f"the envelope ends inside its {what}")
    return data


def _read_header(source: BinaryIO) -> _Header:
    fixed = source.read(8)
    if len(fixed) >= len(MAGIC) and fixed[: len(MAGIC)] != MAGIC:
        raise MalformedError("not a Whistle envelope")
    if len(fixed) < 8:
        raise TruncatedError("the envelope ends inside its header")
    version, slot_count, flags = fixed[5], fixed[6], fixed[7]
    if version != VERSION:
        raise UnsupportedVersionError("envelope", version, (VERSION,))
    if not 1 <= slot_count <= MAX_SLOTS:
        raise MalformedError("an envelope has 1 to 16 slots")
    if flags & ~FLAG_SENDER:
        raise MalformedError("unknown envelope flags")
    raw = bytearray(fixed)
    sender = None
    if flags & FLAG_SENDER:
        sender = _read_exactly(source, KEY_BYTES, "header")
        raw += sender
    slots = []
    for _ in range(slot_count):
        slot_type = _read_exactly(source, 1, "header")[0]
        if slot_type not in SLOT_BYTES:
            raise MalformedError(f"unknown slot type {slot_type}")
        if slot_type == SLOT_BOXED and sender is None:
            raise MalformedError("a boxed slot without a sender key")
        body = _read_exactly(source, SLOT_BYTES[slot_type], "header")
        raw += bytes([slot_type]) + body
        slots.append((slot_type, body))
    stream_header = _read_exactly(source, SS_HEADER_BYTES, "header")
    raw += stream_header
    return _Header(bytes(raw), sender, tuple(slots), stream_header)


def _find_content_key(header: _Header, keys: list[bytes]) -> tuple[bytes, bytes | None]:
    for secret in keys:
        if len(secret) != KEY_BYTES:
            raise ValueError("a secret key is 32 bytes")
        public = crypto_scalarmult_base(secret)
        for slot_type, body in header.slots:
            try:
                # A boxed slot always has a sender key (``_read_header`` refuses one without).
                sender = header.sender_public_key if slot_type == SLOT_BOXED else None
                if sender is None:
                    key = crypto_box_seal_open(body, public, secret)
                else:
                    key = crypto_box_open(body[24:], body[:24], sender, secret)
            except nacl.exceptions.CryptoError:
                continue
            if len(key) == KEY_BYTES:
                return key, sender
    raise WrongKeyError("none of the keys given can open this envelope")


def _decrypt_chunks(
    source: BinaryIO, key: bytes, ad: bytes, stream_header: bytes
) -> Iterator[bytes]:
    """Authenticated plaintext chunks; raises unless the stream ends with its FINAL chunk."""
    state = crypto_secretstream_xchacha20poly1305_state()
    crypto_secretstream_xchacha20poly1305_init_pull(state, stream_header, key)
    block = CHUNK_BYTES + ABYTES
    chunk = source.read(block)
    if not chunk:
        raise TruncatedError("the envelope has no chunks")
    while True:
        following = source.read(block) if len(chunk) == block else b""
        try:
            plain, tag = crypto_secretstream_xchacha20poly1305_pull(state, chunk, ad)
        except (nacl.exceptions.CryptoError, ValueError) as exc:
            if len(chunk) < block and not following:
                raise TamperedError(
                    "the envelope's last chunk fails authentication: cut off, extended or altered"
                ) from exc
            raise TamperedError("a chunk fails authentication: altered or reordered") from exc
        if tag == crypto_secretstream_xchacha20poly1305_TAG_FINAL:
            if following or source.read(1):
                raise MalformedError("data after the final chunk")
            yield plain
            return
        if tag != _TAG_MESSAGE:
            raise MalformedError("unexpected chunk tag")
        if len(chunk) != block:
            raise TruncatedError("the envelope ends without its final chunk")
        yield plain
        if not following:
            raise TruncatedError("the envelope ends without its final chunk")
        chunk = following


def check_envelope_shape(head: bytes, size: int, *, sealed: int, boxed: int, sender: bool) -> None:
    """What a server can check of an envelope it cannot open, from its first bytes and size.

    ``head`` is at least the header (a few hundred bytes are plenty); ``size`` the whole
    envelope's length. Checks the magic, version, flags, the slot types and counts expected
    for the record, and that the rest splits into full secretstream chunks and one final
    chunk of 1 … 64 KiB of plaintext. Raises ``MalformedError`` (or ``TruncatedError``,
    ``UnsupportedVersionError``) and nothing else for bytes that do not fit.
    """
    header = _read_header(io.BytesIO(head))
    types = [slot_type for slot_type, _body in header.slots]
    if types.count(SLOT_SEALED) != sealed or types.count(SLOT_BOXED) != boxed:
        raise MalformedError("the envelope is not addressed the way this record is")
    if (header.sender_public_key is not None) != sender:
        raise MalformedError("the envelope's sender key does not fit this record")
    body = size - len(header.raw)
    full = CHUNK_BYTES + ABYTES
    last = body % full
    if body <= 0 or (last != 0 and last < ABYTES + 1):
        raise MalformedError("the envelope's length does not split into chunks")
    chunks = -(-body // full)
    if not is_padded_size(body - chunks * ABYTES):
        raise MalformedError("the envelope's length is not a padded size")


def max_envelope_size(plaintext: int, slots: int) -> int:
    """The largest envelope ``plaintext`` bytes of parts (framing included) can make."""
    padded = padded_size(plaintext)
    chunks = -(-padded // CHUNK_BYTES)
    header = 8 + KEY_BYTES + slots * (1 + max(SLOT_BYTES.values())) + SS_HEADER_BYTES
    return header + padded + chunks * ABYTES
