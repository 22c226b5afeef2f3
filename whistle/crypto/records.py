"""The three kinds of record and what each envelope holds (docs/protocol.md §6).

    submission  sealed to the chosen desk and to the source's reply key
                parts: "reply_public_key" (bytes, 32), "form" (text, JSON),
                       "identification" (bytes, fixed size, sealed to the custodian),
                       then any number of files
    followup    boxed from the source's reply key to every desk of the current card,
                sealed to the source's reply key; parts: "message" (text), files
    reply       sealed to the source's reply key and to the desk; parts:
                "message" (text), files

Every envelope's associated data is ``associated_data(kind, case id)``. Parts
may come in any order (the server encrypts an upload in the order the browser
sends it); readers find them by name and ignore names they do not know.

The identification block is always present and always the same size, whether
or not the source gave any details, so a copy of the server cannot tell who
identified themselves, and a desk officer holding the envelope cannot read it:
only the identity custodian can.
"""

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, BinaryIO

from nacl.bindings import crypto_box_seal, crypto_box_seal_open, crypto_scalarmult_base
from nacl.exceptions import CryptoError as NaclCryptoError

from whistle.crypto.envelope import (
    EnvelopeWriter,
    OpenedEnvelope,
    Part,
    associated_data,
    boxed_to,
    open_bytes,
    open_envelope,
    seal,
    sealed_to,
)
from whistle.crypto.errors import (
    MalformedError,
    MisboundError,
    TamperedError,
    UnsupportedVersionError,
    WrongKeyError,
)
from whistle.crypto.framing import PartData, PartKind, PartStart

CASE_ID_BYTES = 16
IDENTIFICATION_BYTES = 4096
SEALED_IDENTIFICATION_BYTES = IDENTIFICATION_BYTES + 48
FORM_VERSION = 1
MAX_FORM_BYTES = 256 * 1024


#: Identification blocks written since protocol version 2 carry their case and reply key.
IDENTIFICATION_VERSION = 2


def compact_json(document: Any) -> bytes:
    """JSON as both Python and js/ write it: no spaces, non-ASCII kept (UTF-8).

    The same bytes whether the browser or the server wrote a record, so the
    office cannot tell a report sent with JavaScript from one sent without.
    """
    return json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def seal_identification(
    fields: Sequence[dict[str, str]],
    custodian_key: bytes,
    *,
    case_id: bytes,
    reply_public_key: bytes,
) -> bytes:
    """The fixed-size identification block: ``fields`` (maybe empty) sealed to the custodian.

    ``fields`` is a list of ``{"key", "label", "value"}``; its JSON must fit in 4 KiB
    (callers bound each field's length). The block names the case and the reply key
    of the submission it belongs to, so a copy placed in another case does not open
    there (docs/protocol.md §7).
    """
    raw = identification_plaintext(fields, case_id=case_id, reply_public_key=reply_public_key)
    return crypto_box_seal(raw + bytes(IDENTIFICATION_BYTES - len(raw)), custodian_key)


def identification_plaintext(
    fields: Sequence[dict[str, str]], *, case_id: bytes, reply_public_key: bytes
) -> bytes:
    """The JSON inside a version 2 block, before its zero padding (js/ writes the same bytes)."""
    if len(case_id) != CASE_ID_BYTES or len(reply_public_key) != 32:
        raise ValueError("a case id is 16 bytes and a reply key 32")
    raw = compact_json(
        {
            "version": IDENTIFICATION_VERSION,
            "case": case_id.hex(),
            "reply_public_key": reply_public_key.hex(),
            "fields": list(fields),
        }
    )
    if len(raw) > IDENTIFICATION_BYTES:
        raise ValueError("the identification does not fit its fixed size")
    return raw


@dataclass(frozen=True)
class Identification:
    """An opened identification block: ``version`` 1 blocks are bound to nothing."""

    version: int
    fields: list[dict[str, str]]


def open_identification(
    block: bytes,
    custodian_secret_key: bytes,
    *,
    case_id: bytes,
    reply_public_key: bytes,
) -> Identification:
    """The identification inside a block, which must name this case and reply key.

    Only the custodian's key opens it. Raises ``MisboundError`` when a version 2
    block names another case or reply key (copied from another submission).
    Version 1 blocks name nothing; the caller decides whether to trust them.
    """
    if len(block) != SEALED_IDENTIFICATION_BYTES:
        raise MalformedError("the identification block has the wrong size")
    try:
        raw = crypto_box_seal_open(
            block, crypto_scalarmult_base(custodian_secret_key), custodian_secret_key
        )
    except NaclCryptoError as exc:
        raise WrongKeyError("this key does not open the identification") from exc
    try:
        document = json.loads(raw.rstrip(b"\x00").decode("utf-8"))
        version = document["version"]
        fields = document["fields"]
        if not isinstance(fields, list) or not all(isinstance(f, dict) for f in fields):
            raise TypeError
    except (UnicodeDecodeError, ValueError, KeyError, TypeError) as exc:
        raise MalformedError("the identification is not well-formed") from exc
    if version == 1:
        return Identification(1, fields)
    if version != IDENTIFICATION_VERSION:
        raise UnsupportedVersionError("identification", version, (1, IDENTIFICATION_VERSION))
    if document.get("case") != case_id.hex():
        raise MisboundError("the identification block was written for another case")
    if document.get("reply_public_key") != reply_public_key.hex():
        raise MisboundError("the identification block was written for another submission")
    return Identification(IDENTIFICATION_VERSION, fields)


class FileStreamWriter:
    """Files stream into an envelope writer: ``begin_file``, ``write``…, ``end_file``.

    The interface the submission site's upload parser writes to; ``finish`` seals.
    """

    _writer: EnvelopeWriter

    def begin_file(self, name: str) -> None:
        self._writer.begin_file(name)

    def write(self, data: bytes) -> None:
        self._writer.write(data)

    def end_file(self) -> None:
        self._writer.end_part()

    def finish(self) -> int:
        return self._writer.finish()


class SubmissionWriter(FileStreamWriter):
    """Streams one submission into ``out``: form, identification, reply key, then files."""

    def __init__(
        self,
        out: BinaryIO,
        *,
        desk_key: bytes,
        custodian_key: bytes,
        reply_public_key: bytes,
        case_id: bytes,
    ) -> None:
        self._custodian_key = custodian_key
        self._case_id = case_id
        self._reply_public_key = reply_public_key
        self._writer = EnvelopeWriter(
            out,
            [sealed_to(desk_key), sealed_to(reply_public_key)],
            associated_data("submission", case_id),
        )
        self._writer.add_bytes("reply_public_key", reply_public_key)

    def add_form(self, form: dict[str, Any]) -> None:
        """The questionnaire answers: ``{"language", "desk", "fields": [{key, label, value}]}``."""
        raw = compact_json({"version": FORM_VERSION, **form})
        if len(raw) > MAX_FORM_BYTES:
            raise ValueError("the form is too large")
        self._writer.add_bytes("form", raw, kind=PartKind.TEXT)

    def add_identification(self, fields: Sequence[dict[str, str]]) -> None:
        block = seal_identification(
            fields,
            self._custodian_key,
            case_id=self._case_id,
            reply_public_key=self._reply_public_key,
        )
        self._writer.add_bytes("identification", block)


@dataclass(frozen=True)
class Submission:
    """An opened submission's small parts; files are read from ``envelope``."""

    reply_public_key: bytes
    form: dict[str, Any]
    identification_block: bytes
    envelope: OpenedEnvelope

    @property
    def files(self) -> list[tuple[str, int]]:
        return [(p.name, p.size) for p in self.envelope.parts if p.kind == PartKind.FILE]


def open_submission(
    source: BinaryIO, desk_secret_keys: Sequence[bytes], case_id: bytes
) -> Submission:
    """Authenticate and open a submission for case ``case_id`` with any of the desk keys."""
    opened = open_envelope(source, list(desk_secret_keys), associated_data("submission", case_id))
    return _submission(opened)


def open_submission_as_source(
    source: BinaryIO, reply_secret_key: bytes, case_id: bytes
) -> Submission:
    """The source's own submission, opened with the reply key (to show it at check-in).

    The identification block stays sealed to the custodian; the source sees the
    form and the names and sizes of the files it sent.
    """
    opened = open_envelope(source, reply_secret_key, associated_data("submission", case_id))
    return _submission(opened)


def _submission(opened: OpenedEnvelope) -> Submission:
    small: dict[str, bytes] = {}
    wanted = {"reply_public_key", "form", "identification"}
    current: str | None = None
    buffer = bytearray()
    for event in opened.events():
        if isinstance(event, PartStart):
            current = event.name if event.kind != PartKind.FILE else None
            buffer = bytearray()
        elif isinstance(event, PartData):
            if current in wanted:
                buffer += event.data
                if len(buffer) > MAX_FORM_BYTES:
                    raise MalformedError(f"the {current} part is too large")
        elif current in wanted:
            if current in small:
                raise MalformedError(f"the submission has two {current} parts")
            small[current] = bytes(buffer)
    missing = wanted - small.keys()
    if missing:
        raise MalformedError(f"the submission has no {', '.join(sorted(missing))}")
    if len(small["reply_public_key"]) != 32:
        raise MalformedError("the reply key is not 32 bytes")
    if len(small["identification"]) != SEALED_IDENTIFICATION_BYTES:
        raise MalformedError("the identification block has the wrong size")
    try:
        form = json.loads(small["form"].decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise MalformedError("the form is not JSON") from exc
    if not isinstance(form, dict) or not isinstance(form.get("fields"), list):
        raise MalformedError("the form has no fields")
    return Submission(small["reply_public_key"], form, small["identification"], opened)


@dataclass(frozen=True)
class Conversation:
    """An opened follow-up or reply: its text and its files (small records, in memory)."""

    message: str
    files: tuple[Part, ...]


def _conversation(parts: Sequence[Part]) -> Conversation:
    messages = [p for p in parts if p.name == "message" and p.kind == PartKind.TEXT]
    if len(messages) != 1:
        raise MalformedError("the record has no single message")
    files = tuple(p for p in parts if p.kind == PartKind.FILE)
    return Conversation(messages[0].text, files)


def seal_followup(
    message: str,
    files: Sequence[tuple[str, bytes]],
    *,
    reply_secret_key: bytes,
    desk_keys: Sequence[bytes],
    case_id: bytes,
) -> bytes:
    """A follow-up from the source, authenticated by the reply key, readable by every desk."""
    parts = [(PartKind.TEXT, "message", message.encode("utf-8"))]
    parts += [(PartKind.FILE, name, content) for name, content in files]
    recipients = [boxed_to(k) for k in desk_keys]
    recipients.append(sealed_to(crypto_scalarmult_base(reply_secret_key)))
    return seal(
        parts,
        recipients,
        associated_data("followup", case_id),
        sender_secret_key=reply_secret_key,
    )


class FollowupWriter(FileStreamWriter):
    """Streams a follow-up: what ``seal_followup`` makes, with files of any size.

    The message comes first (it is known before the files are copied in).
    """

    def __init__(
        self,
        out: BinaryIO,
        *,
        message: str,
        reply_secret_key: bytes,
        desk_keys: Sequence[bytes],
        case_id: bytes,
    ) -> None:
        recipients = [boxed_to(k) for k in desk_keys]
        recipients.append(sealed_to(crypto_scalarmult_base(reply_secret_key)))
        self._writer = EnvelopeWriter(
            out,
            recipients,
            associated_data("followup", case_id),
            sender_secret_key=reply_secret_key,
        )
        self._writer.add_text("message", message)


def open_followup_as_office(
    data: bytes, desk_secret_keys: Sequence[bytes], case_id: bytes, reply_public_key: bytes
) -> Conversation:
    """Open a follow-up and require that the case's reply key sent it.

    Raises ``TamperedError`` when it opens but was not authenticated by that key
    (sealed rather than boxed, or boxed by another key).
    """
    message = open_bytes(data, list(desk_secret_keys), associated_data("followup", case_id))
    if message.sender_public_key != reply_public_key:
        raise TamperedError("the follow-up was not sent by the holder of this case's code")
    return _conversation(message.parts)


def seal_reply(
    message: str,
    files: Sequence[tuple[str, bytes]],
    *,
    reply_public_key: bytes,
    desk_key: bytes,
    case_id: bytes,
) -> bytes:
    """An office reply, readable by the source (reply key) and by the office (desk key)."""
    parts = [(PartKind.TEXT, "message", message.encode("utf-8"))]
    parts += [(PartKind.FILE, name, content) for name, content in files]
    return seal(
        parts,
        [sealed_to(reply_public_key), sealed_to(desk_key)],
        associated_data("reply", case_id),
    )


def open_as_source(data: bytes, kind: str, reply_secret_key: bytes, case_id: bytes) -> Conversation:
    """A reply, or the source's own follow-up, opened with the reply key."""
    if kind not in ("reply", "followup"):
        raise ValueError("a source reads replies and its own follow-ups")
    return _conversation(open_bytes(data, reply_secret_key, associated_data(kind, case_id)).parts)


def open_reply_as_office(
    data: bytes, desk_secret_keys: Sequence[bytes], case_id: bytes
) -> Conversation:
    """A reply the office sent, opened again from the desk's side (history stays readable)."""
    return _conversation(
        open_bytes(data, list(desk_secret_keys), associated_data("reply", case_id)).parts
    )
