"""Uploads encrypted as they stream in: no plaintext file ever reaches a disk.

Werkzeug's own form parser spools any upload over 500 KB to a temporary file,
in plaintext. The upload routes never let it run: they read ``request.stream``
through Werkzeug's sans-IO ``MultipartDecoder`` and hand every piece of every
file straight to a ``FileSink`` — the submission's envelope writer, or a
staging envelope under a one-time key when the keys that will finally seal the
files are only known once the whole body has been read (a follow-up carries
the source's code in a field that may come after the files). Text fields are
kept in memory, bounded. Anything that is not well-formed multipart, text that
is not UTF-8 or holds control characters, a field too long or too many parts is
a ``MalformedUploadError`` (the site answers 400); files over the limits are
``UploadTooLargeError`` (the site drains the rest and says what the limit is).
"""

import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import BinaryIO, Protocol

from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.http import parse_options_header
from werkzeug.sansio.multipart import Data, Epilogue, Field, File, MultipartDecoder, NeedData

from whistle.crypto import (
    EnvelopeWriter,
    PartData,
    PartStart,
    associated_data,
    generate_box_keypair,
    open_envelope,
    random_bytes,
    sealed_to,
)
from whistle.crypto.records import FileStreamWriter
from whistle.errors import WhistleError
from whistle.filenames import clean_file_name

READ_BYTES = 64 * 1024
MAX_FIELDS = 40
MAX_FIELD_BYTES = 128 * 1024
MAX_HEADER_BUFFER = 4 * READ_BYTES  # unconsumed input: part headers, a partial boundary
# RFC 2046 allows 70 characters; some clients (Werkzeug's test client, about 1 time in 100)
# send a few more. Accept RFC characters up to a bound that still keeps parsing cheap.
_BOUNDARY = re.compile(rb"[0-9A-Za-z'()+_,\-./:=? ]{1,200}")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


class UploadError(WhistleError):
    """A request body the upload routes refuse."""


class MalformedUploadError(UploadError):
    """Not well-formed: the site answers 400."""


class UploadTooLargeError(UploadError):
    """More files, or more bytes of files, than the limits allow."""


class FileSink(Protocol):
    def begin_file(self, name: str) -> None: ...
    def write(self, data: bytes) -> None: ...
    def end_file(self) -> None: ...


@dataclass
class ParsedForm:
    fields: dict[str, str] = field(default_factory=dict)
    file_names: list[str] = field(default_factory=list)
    file_bytes: int = 0


def multipart_boundary(content_type: str | None) -> bytes:
    mimetype, options = parse_options_header(content_type or "")
    boundary = options.get("boundary", "").encode("latin-1", "replace")
    if mimetype != "multipart/form-data" or not _BOUNDARY.fullmatch(boundary):
        raise MalformedUploadError("the form was not sent as multipart/form-data")
    return boundary


def clean_text(raw: bytes | str, what: str) -> str:
    """UTF-8 text without control characters (tabs and line breaks allowed), NFC."""
    try:
        text = raw.decode("utf-8") if isinstance(raw, bytes) else raw
    except UnicodeDecodeError as exc:
        raise MalformedUploadError(f"the {what} is not UTF-8 text") from exc
    if _CONTROL.search(text):
        raise MalformedUploadError(f"the {what} contains control characters")
    return unicodedata.normalize("NFC", text.replace("\r\n", "\n"))


def _read_pieces(stream: BinaryIO) -> Iterator[bytes]:
    while True:
        piece = stream.read(READ_BYTES)
        if not piece:
            return
        yield piece


def parse_multipart(
    stream: BinaryIO,
    boundary: bytes,
    sink: FileSink,
    *,
    max_files: int,
    max_file_bytes: int,
) -> ParsedForm:
    """Read a multipart body, files into ``sink``, fields into memory (see module doc)."""
    decoder = MultipartDecoder(
        boundary, max_form_memory_size=MAX_HEADER_BUFFER, max_parts=MAX_FIELDS + max_files
    )
    parsed = ParsedForm()
    current: str | None = None  # field name, or None while in a file
    in_file = False
    skipping = False  # a file input left empty: filename "" and no content
    value = bytearray()
    pieces = _read_pieces(stream)
    try:
        while True:
            event = decoder.next_event()
            if isinstance(event, NeedData):
                decoder.receive_data(next(pieces, None))
            elif isinstance(event, Field):
                if event.name in parsed.fields or len(parsed.fields) >= MAX_FIELDS:
                    raise MalformedUploadError("a field is repeated, or there are too many")
                current, in_file, value = event.name, False, bytearray()
            elif isinstance(event, File):
                current, in_file = None, True
                skipping = event.filename == ""
                if not skipping:
                    if len(parsed.file_names) >= max_files:
                        raise UploadTooLargeError("too many files")
                    name = clean_file_name(clean_text(event.filename, "file name"))
                    parsed.file_names.append(name)
                    sink.begin_file(name)
            elif isinstance(event, Data):
                if in_file:
                    if skipping and event.data:
                        raise MalformedUploadError("a file without a name")
                    parsed.file_bytes += len(event.data)
                    if parsed.file_bytes > max_file_bytes:
                        raise UploadTooLargeError("the files are too large")
                    if event.data and not skipping:
                        sink.write(event.data)
                    if not event.more_data and not skipping:
                        sink.end_file()
                else:
                    value += event.data
                    if len(value) > MAX_FIELD_BYTES:
                        raise MalformedUploadError("a field is too long")
                    if not event.more_data and current is not None:
                        parsed.fields[current] = clean_text(bytes(value), "form")
            elif isinstance(event, Epilogue):
                return parsed
    except RequestEntityTooLarge as exc:
        raise MalformedUploadError("the form's structure is too large") from exc
    except UploadError:
        raise
    except ValueError as exc:  # includes UnicodeDecodeError in part headers
        raise MalformedUploadError("the form is not well-formed multipart") from exc


def drain(stream: BinaryIO, cap: int) -> bool:
    """Read and drop the rest of a body, up to ``cap`` bytes; whether it ended."""
    left = cap
    while left > 0:
        piece = stream.read(min(READ_BYTES, left))
        if not piece:
            return True
        left -= len(piece)
    return not stream.read(1)


class DiscardSink:
    """Counts and forgets (for bodies whose files cannot be kept)."""

    def begin_file(self, name: str) -> None:
        pass

    def write(self, data: bytes) -> None:
        pass

    def end_file(self) -> None:
        pass


class StagingSink(FileStreamWriter):
    """Files encrypted under a one-time key that lives only in this object.

    For bodies whose final keys are known only after the last byte (a follow-up's
    code may follow its files): the ciphertext goes to ``out`` (a temporary file
    is fine, it holds ciphertext only), then ``replay`` decrypts it piece by
    piece into the real sink.
    """

    def __init__(self, out: BinaryIO) -> None:
        self._keys = generate_box_keypair()
        self._ad = associated_data("staging", random_bytes(16))
        self._out = out
        self._writer = EnvelopeWriter(out, [sealed_to(self._keys.public_key)], self._ad)

    def replay(self, target: FileSink) -> None:
        self.finish()
        self._out.seek(0)
        opened = open_envelope(self._out, self._keys.secret_key, self._ad)
        for event in opened.events():
            if isinstance(event, PartStart):
                target.begin_file(event.name)
            elif isinstance(event, PartData):
                target.write(event.data)
            else:
                target.end_file()
