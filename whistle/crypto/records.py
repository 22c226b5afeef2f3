"""The three kinds of record and what each envelope holds (docs/protocol.md §7).

    submission  sealed to the chosen desk and to the source's reply key
                parts: "reply_public_key" (bytes, 32), "source_signing_key" (bytes, 32;
                       protocol 2), "form" (text, JSON), "identification" (bytes, fixed
                       size, sealed to the custodian, naming its case and reply key),
                       then any number of files
    followup    sealed to the case's announced key (else every desk of the current card) and
                to the source's reply key,
                signed with the source's key (protocol 2; conversation.py); in a case
                opened before protocol 2, boxed from the reply key instead
                parts: "message" (text), files, then "conversation", "signature"
    reply       sealed to the source's reply key and to the desk, signed with the office
                key; parts: "message" (text), files, then "conversation", "signature"

Every envelope's associated data is ``associated_data(kind, case id)``. Parts
may come in any order (the server encrypts an upload in the order the browser
sends it), except that the signature is last; readers find them by name and ignore
names they do not know.

The identification block is always present and always the same size, whether
or not the source gave any details, so a copy of the server cannot tell who
identified themselves, and a desk officer holding the envelope cannot read it:
only the identity custodian can, and only in the case it was written for.
"""

import io
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, BinaryIO

from nacl.bindings import crypto_box_seal, crypto_box_seal_open, crypto_scalarmult_base
from nacl.exceptions import CryptoError as NaclCryptoError

from whistle.crypto.conversation import (
    OFFICE_RECORD,
    SOURCE_RECORD,
    Position,
    SignedWriter,
    is_signed,
    verify_parts,
)
from whistle.crypto.envelope import (
    EnvelopeWriter,
    OpenedEnvelope,
    Part,
    Recipient,
    associated_data,
    boxed_to,
    open_bytes,
    open_envelope,
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


def form_document(
    language: str,
    desk: str,
    fields: Sequence[dict[str, str]],
    *,
    identified: bool,
    category: dict[str, str] | None,
    meeting: bool,
    availability: str,
) -> dict[str, Any]:
    """The submission's ``form`` part, keys in this order (js/records.js ``formDocument``).

    ``identified``: the source said they give their identity (sealed apart, to the
    custodian); ``category``: ``{key, label}`` the source chose, or None; ``meeting``: the
    source asks for a meeting in person (Ley 2/2023 art. 7.2), ``availability`` when.
    Every key is always present, so the JSON has the same shape on both paths.
    """
    return {
        "language": language,
        "desk": desk,
        "fields": list(fields),
        "identified": identified,
        "category": category,
        "meeting": meeting,
        "availability": availability,
    }


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

    _writer: EnvelopeWriter | SignedWriter

    def begin_file(self, name: str) -> None:
        self._writer.begin_file(name)

    def write(self, data: bytes) -> None:
        self._writer.write(data)

    def end_file(self) -> None:
        self._writer.end_part()

    def finish(self) -> int:
        return self._writer.finish()


class SubmissionWriter(FileStreamWriter):
    """Streams one submission into ``out``: keys, form, identification, then files.

    ``source_signing_key`` (protocol 2) is the public key the source's follow-ups will
    be signed with; the office checks every follow-up of the case against it.
    """

    def __init__(
        self,
        out: BinaryIO,
        *,
        desk_key: bytes,
        custodian_key: bytes,
        reply_public_key: bytes,
        source_signing_key: bytes,
        case_id: bytes,
    ) -> None:
        if len(source_signing_key) != 32:
            raise ValueError("the source's signing key is 32 bytes")
        self._custodian_key = custodian_key
        self._case_id = case_id
        self._reply_public_key = reply_public_key
        self._writer = EnvelopeWriter(
            out,
            [sealed_to(desk_key), sealed_to(reply_public_key)],
            associated_data("submission", case_id),
        )
        self._writer.add_bytes("reply_public_key", reply_public_key)
        self._writer.add_bytes(SOURCE_SIGNING_KEY_PART, source_signing_key)

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


SOURCE_SIGNING_KEY_PART = "source_signing_key"


@dataclass(frozen=True)
class Submission:
    """An opened submission's small parts; files are read from ``envelope``.

    ``source_signing_key`` is None for a protocol 1 submission: its case's follow-ups are
    authenticated the protocol 1 way (a boxed slot from the reply key).
    """

    reply_public_key: bytes
    form: dict[str, Any]
    identification_block: bytes
    envelope: OpenedEnvelope
    source_signing_key: bytes | None = None

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
    required = {"reply_public_key", "form", "identification"}
    wanted = required | {SOURCE_SIGNING_KEY_PART}
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
    missing = required - small.keys()
    if missing:
        raise MalformedError(f"the submission has no {', '.join(sorted(missing))}")
    if len(small["reply_public_key"]) != 32:
        raise MalformedError("the reply key is not 32 bytes")
    signing_key = small.get(SOURCE_SIGNING_KEY_PART)
    if signing_key is not None and len(signing_key) != 32:
        raise MalformedError("the source's signing key is not 32 bytes")
    if len(small["identification"]) != SEALED_IDENTIFICATION_BYTES:
        raise MalformedError("the identification block has the wrong size")
    try:
        form = json.loads(small["form"].decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise MalformedError("the form is not JSON") from exc
    if not isinstance(form, dict) or not isinstance(form.get("fields"), list):
        raise MalformedError("the form has no fields")
    return Submission(small["reply_public_key"], form, small["identification"], opened, signing_key)


@dataclass(frozen=True)
class Conversation:
    """An opened follow-up or reply: its text and its files (small records, in memory).

    ``position`` is where a signed (protocol 2) record sits in its case's conversation;
    None for a protocol 1 record, which carries no signature and no number.
    """

    message: str
    files: tuple[Part, ...]
    position: Position | None = None

    @property
    def signed(self) -> bool:
        return self.position is not None


def _conversation(parts: Sequence[Part], position: Position | None = None) -> Conversation:
    messages = [p for p in parts if p.name == "message" and p.kind == PartKind.TEXT]
    if len(messages) != 1:
        raise MalformedError("the record has no single message")
    files = tuple(p for p in parts if p.kind == PartKind.FILE)
    return Conversation(messages[0].text, files, position)


def _followup_recipients(
    office_keys: Sequence[bytes], reply_secret_key: bytes, signed: bool
) -> list[Recipient]:
    # Protocol 2 seals to the office's keys (the signature authenticates the sender, and no key
    # of the source appears in clear); protocol 1 boxed from the reply key.
    to_office = sealed_to if signed else boxed_to
    recipients = [to_office(k) for k in office_keys]
    recipients.append(sealed_to(crypto_scalarmult_base(reply_secret_key)))
    return recipients


class FollowupWriter(FileStreamWriter):
    """Streams a follow-up from the source, readable by the office and by the source.

    ``office_keys`` are what it is sealed to on the office's side: the case's key alone once
    the office announced it (``case_keys.py``), else every desk's key of the current card.

    With ``signing_seed`` and ``position`` (protocol 2: the case's submission carries the
    source's signing key) it is sealed and signed; without (a protocol 1 case) it is boxed
    from the reply key as before. The message comes first (it is known before the files).
    """

    def __init__(
        self,
        out: BinaryIO,
        *,
        message: str,
        reply_secret_key: bytes,
        office_keys: Sequence[bytes],
        case_id: bytes,
        signing_seed: bytes | None = None,
        position: Position | None = None,
    ) -> None:
        if (signing_seed is None) != (position is None):
            raise ValueError("a signed follow-up needs both the signing seed and its position")
        ad = associated_data("followup", case_id)
        signed = signing_seed is not None
        writer = EnvelopeWriter(
            out,
            _followup_recipients(office_keys, reply_secret_key, signed),
            ad,
            sender_secret_key=None if signed else reply_secret_key,
        )
        if signing_seed is not None and position is not None:
            self._writer = SignedWriter(writer, ad, signing_seed, SOURCE_RECORD, position)
        else:
            self._writer = writer
        self._writer.add_text("message", message)


def seal_followup(
    message: str,
    files: Sequence[tuple[str, bytes]],
    *,
    reply_secret_key: bytes,
    office_keys: Sequence[bytes],
    case_id: bytes,
    signing_seed: bytes | None = None,
    position: Position | None = None,
) -> bytes:
    """A whole follow-up in memory: what ``FollowupWriter`` writes."""
    out = io.BytesIO()
    writer = FollowupWriter(
        out,
        message=message,
        reply_secret_key=reply_secret_key,
        office_keys=office_keys,
        case_id=case_id,
        signing_seed=signing_seed,
        position=position,
    )
    for name, content in files:
        writer.begin_file(name)
        writer.write(content)
        writer.end_file()
    writer.finish()
    return out.getvalue()


def open_followup_as_office(
    data: bytes,
    desk_secret_keys: Sequence[bytes],
    case_id: bytes,
    reply_public_key: bytes,
    source_signing_key: bytes | None,
) -> Conversation:
    """Open a follow-up and require that the holder of this case's code wrote every byte.

    In a protocol 2 case (``source_signing_key`` from its submission) the follow-up must
    carry the source's signature over its content: an officer holding a desk key cannot
    write one. In a protocol 1 case, the boxed slot from the reply key is all there is
    (review finding L1 stays for those cases). Raises ``SignatureError`` or
    ``TamperedError``.
    """
    ad = associated_data("followup", case_id)
    opened = open_bytes(data, list(desk_secret_keys), ad)
    if source_signing_key is not None:
        body, position = verify_parts(
            opened.parts, purpose=SOURCE_RECORD, public_key=source_signing_key, associated_data=ad
        )
        return _conversation(body, position)
    if opened.sender_public_key != reply_public_key:
        raise TamperedError("the follow-up was not sent by the holder of this case's code")
    if is_signed(opened.parts):
        raise MisboundError("a signed follow-up in a case whose submission has no signing key")
    return _conversation(opened.parts)


def seal_reply(
    message: str,
    files: Sequence[tuple[str, bytes]],
    *,
    reply_public_key: bytes,
    desk_key: bytes,
    case_id: bytes,
    office_seed: bytes,
    position: Position,
) -> bytes:
    """An office reply (any office → source record), signed with the office signing key.

    Readable by the source (reply key) and by the office (desk key).
    """
    out = io.BytesIO()
    ad = associated_data("reply", case_id)
    envelope = EnvelopeWriter(out, [sealed_to(reply_public_key), sealed_to(desk_key)], ad)
    writer = SignedWriter(envelope, ad, office_seed, OFFICE_RECORD, position)
    writer.add_text("message", message)
    for name, content in files:
        writer.add_bytes(name, content, kind=PartKind.FILE)
    writer.finish()
    return out.getvalue()


def open_as_source(
    data: bytes,
    kind: str,
    reply_secret_key: bytes,
    case_id: bytes,
    *,
    office_key: bytes,
    source_signing_key: bytes,
    signed_case: bool,
) -> Conversation:
    """A reply, or the source's own follow-up, opened with the reply key and checked.

    A reply must be signed by ``office_key`` (the office key pinned in the server's
    configuration, or the one the page checked); the source's own follow-ups by its
    ``source_signing_key``. In a ``signed_case`` (its submission carries a signing key)
    an unsigned record is refused; in a protocol 1 case it opens with ``signed`` False,
    and the page says so. Raises ``SignatureError`` for a forged or altered record.
    """
    if kind not in ("reply", "followup"):
        raise ValueError("a source reads replies and its own follow-ups")
    ad = associated_data(kind, case_id)
    parts = open_bytes(data, reply_secret_key, ad).parts
    if not signed_case and not is_signed(parts):
        return _conversation(parts)
    purpose, key = (
        (OFFICE_RECORD, office_key) if kind == "reply" else (SOURCE_RECORD, source_signing_key)
    )
    body, position = verify_parts(parts, purpose=purpose, public_key=key, associated_data=ad)
    return _conversation(body, position)


def open_reply_as_office(
    data: bytes, desk_secret_keys: Sequence[bytes], case_id: bytes, office_key: bytes
) -> Conversation:
    """A reply the office sent, opened again from the desk's side (history stays readable).

    Protocol 1 replies (unsigned) still open; a signed one must verify with ``office_key``.
    """
    ad = associated_data("reply", case_id)
    parts = open_bytes(data, list(desk_secret_keys), ad).parts
    if not is_signed(parts):
        return _conversation(parts)
    body, position = verify_parts(
        parts, purpose=OFFICE_RECORD, public_key=office_key, associated_data=ad
    )
    return _conversation(body, position)
