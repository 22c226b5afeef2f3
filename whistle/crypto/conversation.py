"""Protocol 2: every record of a conversation is signed and numbered (docs/protocol.md §7).

A protocol 2 follow-up or reply ends with two parts, after its message and files:

    "conversation"  TEXT, compact JSON {"sequence": n, "seen": m}
    "signature"     BYTES, a signed object (signing.py) whose message is
                    record AD ‖ content digest, purpose
                    whistle/office-record/v2 (replies: the office signing key) or
                    whistle/source-record/v2 (follow-ups: the source's signing key)

    content digest = BLAKE2b-256("whistle/record-content/v2" ‖ for each part before
                     "signature": kind (1) ‖ name length (2) ‖ name ‖ content length (8)
                     ‖ BLAKE2b-256(content))

``sequence`` counts the records of one direction of one case (1, 2, …); ``seen`` is the
highest sequence of the other direction the writer had read. The signature covers the
record AD (type and case), so a signed record cannot move to another case or pass as
another type; it covers every byte of every part, so whoever holds a desk key (and can
therefore rewrite the chunks of an envelope it can open) cannot change a word without
the signature failing. The numbers are inside what is signed rather than in the chunk
AD so that a reader can open a record whose predecessor was dropped and say so.
"""

import hashlib
import json
import struct
from collections.abc import Iterable
from dataclasses import dataclass

from whistle.crypto import signing
from whistle.crypto.envelope import EnvelopeWriter, Part
from whistle.crypto.errors import BadSignatureError, MalformedError, UnsupportedVersionError
from whistle.crypto.framing import PartKind

OFFICE_RECORD = signing.OFFICE_RECORD
SOURCE_RECORD = signing.SOURCE_RECORD
CONTENT_DOMAIN = b"whistle/record-content/v2"
CONVERSATION_PART = "conversation"
SIGNATURE_PART = "signature"
MAX_SEQUENCE = 2**31 - 1


class ContentDigest:
    """The content digest, fed part by part as a writer emits or a reader reads them."""

    def __init__(self) -> None:
        self._outer = hashlib.blake2b(digest_size=32)
        self._outer.update(CONTENT_DOMAIN)
        self._head: bytes | None = None
        self._inner = hashlib.blake2b(digest_size=32)
        self._size = 0

    def start(self, kind: PartKind, name: str) -> None:
        if self._head is not None:
            raise ValueError("a part is already open")
        raw = name.encode("utf-8")
        self._head = bytes([int(kind)]) + struct.pack(">H", len(raw)) + raw
        self._inner = hashlib.blake2b(digest_size=32)
        self._size = 0

    def update(self, data: bytes) -> None:
        self._inner.update(data)
        self._size += len(data)

    def end(self) -> None:
        if self._head is None:
            raise ValueError("no part is open")
        self._outer.update(self._head + struct.pack(">Q", self._size) + self._inner.digest())
        self._head = None

    def add(self, kind: PartKind, name: str, content: bytes) -> None:
        self.start(kind, name)
        self.update(content)
        self.end()

    def digest(self) -> bytes:
        if self._head is not None:
            raise ValueError("a part is still open")
        return self._outer.digest()


def conversation_json(sequence: int, seen: int) -> bytes:
    """The "conversation" part: the same compact JSON as js/ writes."""
    if not 1 <= sequence <= MAX_SEQUENCE or not 0 <= seen <= MAX_SEQUENCE:
        raise ValueError("a sequence is 1 … 2^31 - 1 and seen 0 … 2^31 - 1")
    return json.dumps({"sequence": sequence, "seen": seen}, separators=(",", ":")).encode()


def signature_part(
    seed: bytes, purpose: str, associated_data: bytes, digest: ContentDigest
) -> bytes:
    """The "signature" part's content, once every other part went through ``digest``."""
    return signing.sign(seed, purpose, associated_data + digest.digest())


@dataclass(frozen=True)
class Position:
    """Where a signed record sits in its case's conversation."""

    sequence: int
    seen: int


def verify_parts(
    parts: Iterable[Part], *, purpose: str, public_key: bytes, associated_data: bytes
) -> tuple[list[Part], Position]:
    """The parts before the signature and the record's position, once the signature checks.

    Raises ``BadSignatureError`` (a ``SignatureError``) when the record is unsigned, signed
    by another key, for another purpose or case, or altered; ``MalformedError`` when the
    signature is not the last part or the conversation part is not what it must be.
    """
    listed = list(parts)
    if not listed or listed[-1].name != SIGNATURE_PART or listed[-1].kind != PartKind.BYTES:
        raise BadSignatureError("the record is not signed")
    body = listed[:-1]
    if any(p.name == SIGNATURE_PART for p in body):
        raise MalformedError("the record has more than one signature")
    digest = ContentDigest()
    for part in body:
        digest.add(part.kind, part.name, part.content)
    try:
        message = signing.verify(public_key, purpose, listed[-1].content)
    except (MalformedError, UnsupportedVersionError) as exc:
        raise BadSignatureError("the signature part is not a signed object") from exc
    if message != associated_data + digest.digest():
        raise BadSignatureError("the signature is for another record or another content")
    return body, _position(body)


def is_signed(parts: Iterable[Part]) -> bool:
    """Whether a record carries a signature part at all (protocol 2) or not (protocol 1)."""
    return any(p.name == SIGNATURE_PART for p in parts)


def _position(parts: list[Part]) -> Position:
    found = [p for p in parts if p.name == CONVERSATION_PART and p.kind == PartKind.TEXT]
    if len(found) != 1:
        raise MalformedError("a signed record has one conversation part")
    try:
        document = json.loads(found[0].content.decode("utf-8"))
        sequence, seen = document["sequence"], document["seen"]
    except (UnicodeDecodeError, ValueError, KeyError, TypeError) as exc:
        raise MalformedError("the conversation part is not well-formed") from exc
    valid = (
        type(sequence) is int
        and type(seen) is int
        and 1 <= sequence <= MAX_SEQUENCE
        and 0 <= seen <= MAX_SEQUENCE
    )
    if not valid:
        raise MalformedError("the conversation part's numbers are out of range")
    return Position(sequence, seen)


class SignedWriter:
    """An ``EnvelopeWriter`` whose parts also feed a ``ContentDigest``; ``finish`` signs.

    Appends the conversation part (``position``) and then the signature part.
    """

    def __init__(
        self,
        writer: EnvelopeWriter,
        associated_data: bytes,
        seed: bytes,
        purpose: str,
        position: Position,
    ) -> None:
        self._writer = writer
        self._ad = associated_data
        self._seed = seed
        self._purpose = purpose
        self._position = position
        self._digest = ContentDigest()

    def add_text(self, name: str, value: str) -> None:
        self.add_bytes(name, value.encode("utf-8"), kind=PartKind.TEXT)

    def add_bytes(self, name: str, value: bytes, *, kind: PartKind = PartKind.BYTES) -> None:
        if name == SIGNATURE_PART:
            raise ValueError("the signature part is written by finish()")
        self._writer.add_bytes(name, value, kind=kind)
        self._digest.add(kind, name, value)

    def begin_file(self, name: str) -> None:
        self._writer.begin_file(name)
        self._digest.start(PartKind.FILE, name)

    def write(self, data: bytes) -> None:
        self._writer.write(data)
        self._digest.update(data)

    def end_part(self) -> None:
        self._writer.end_part()
        self._digest.end()

    def finish(self) -> int:
        conversation = conversation_json(self._position.sequence, self._position.seen)
        self.add_bytes(CONVERSATION_PART, conversation, kind=PartKind.TEXT)
        signature = signature_part(self._seed, self._purpose, self._ad, self._digest)
        self._writer.add_bytes(SIGNATURE_PART, signature)
        return self._writer.finish()
