"""The source's own copy of what they sent (docs/protocol.md §7, "The source's copy").

The server deletes a report and each follow-up once the office has collected it; the copy
is what lets the source still read what they wrote. One copy per record sent, as an
envelope (§5) with a single sealed slot to the *copy key*, a key pair derived from the code
(derive.py, ``wh-scopy``) whose public half is written nowhere, and record type
``source-copy``:

    "copy"  TEXT, compact JSON
            {"version":1,"kind":"submission","form":{form document},"files":[{"name","size"}]}
            {"version":1,"kind":"followup","message":"…","files":[{"name","size"}]}

Files are listed by name and size, never their content: the source still holds the
originals, and a copy as large as the upload would double what the server stores. The
identification fields are not in the copy either (the form document says only whether the
source gave them): they stay sealed to the custodian alone. The browser and the server
write the same bytes for the same input, so the server cannot tell which wrote a copy.
"""

import io
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from whistle.crypto.envelope import EnvelopeWriter, associated_data, open_bytes, sealed_to
from whistle.crypto.errors import MalformedError, UnsupportedVersionError
from whistle.crypto.framing import PartKind
from whistle.crypto.records import compact_json

RECORD_TYPE = "source-copy"
COPY_PART = "copy"
COPY_VERSION = 1
KINDS = ("submission", "followup")


def copy_document(
    kind: str,
    *,
    files: Sequence[tuple[str, int]],
    form: dict[str, Any] | None = None,
    message: str | None = None,
) -> dict[str, Any]:
    """The copy's JSON, keys in this order (js/records.js ``copyDocument``)."""
    if kind == "submission" and form is not None and message is None:
        body: dict[str, Any] = {"form": form}
    elif kind == "followup" and message is not None and form is None:
        body = {"message": message}
    else:
        raise ValueError("a submission's copy has its form, a follow-up's its message")
    listed = [{"name": name, "size": size} for name, size in files]
    return {"version": COPY_VERSION, "kind": kind, **body, "files": listed}


def seal_copy(document: dict[str, Any], copy_public_key: bytes, case_id: bytes) -> bytes:
    """The copy's envelope, sealed to the copy key alone."""
    out = io.BytesIO()
    writer = EnvelopeWriter(
        out, [sealed_to(copy_public_key)], associated_data(RECORD_TYPE, case_id)
    )
    writer.add_bytes(COPY_PART, compact_json(document), kind=PartKind.TEXT)
    writer.finish()
    return out.getvalue()


@dataclass(frozen=True)
class SourceCopy:
    """An opened copy: what the source sent, as they sent it."""

    kind: str
    files: list[tuple[str, int]]
    #: A submission's answers ``[{"label", "value"}]``; empty for a follow-up.
    fields: list[dict[str, str]] = field(default_factory=list)
    message: str = ""


def open_copy(data: bytes, copy_secret_key: bytes, case_id: bytes) -> SourceCopy:
    """Open and check a copy. ``WrongKeyError`` for another code's copy, ``TamperedError`` for
    changed bytes or another case's copy, ``MalformedError`` for a copy that is not one."""
    parts = open_bytes(data, copy_secret_key, associated_data(RECORD_TYPE, case_id)).parts
    found = [p for p in parts if p.name == COPY_PART and p.kind == PartKind.TEXT]
    if len(found) != 1:
        raise MalformedError("the copy has no single copy part")
    try:
        document = json.loads(found[0].content.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise MalformedError("the copy is not JSON") from exc
    if not isinstance(document, dict) or type(document.get("version")) is not int:
        raise MalformedError("the copy has no version")
    if document["version"] != COPY_VERSION:
        raise UnsupportedVersionError("source copy", document["version"], (COPY_VERSION,))
    kind = document.get("kind")
    if kind not in KINDS:
        raise MalformedError("the copy is of no known kind")
    return SourceCopy(
        kind=kind,
        files=_files(document.get("files")),
        fields=_fields(document.get("form")) if kind == "submission" else [],
        message=_text(document.get("message")) if kind == "followup" else "",
    )


def _text(value: Any) -> str:
    if not isinstance(value, str):
        raise MalformedError("the copy's message is not text")
    return value


def _files(value: Any) -> list[tuple[str, int]]:
    if not isinstance(value, list):
        raise MalformedError("the copy's files are not a list")
    files = []
    for item in value:
        if not isinstance(item, dict):
            raise MalformedError("a file of the copy is not an object")
        name, size = item.get("name"), item.get("size")
        if not isinstance(name, str) or type(size) is not int or size < 0:
            raise MalformedError("a file of the copy has no name or size")
        files.append((name, size))
    return files


def _fields(form: Any) -> list[dict[str, str]]:
    if not isinstance(form, dict) or not isinstance(form.get("fields"), list):
        raise MalformedError("the copy's form has no fields")
    return [
        {"label": str(f.get("label", "")), "value": str(f.get("value", ""))}
        for f in form["fields"]
        if isinstance(f, dict)
    ]


class _FileSink(Protocol):
    def begin_file(self, name: str) -> None: ...
    def write(self, data: bytes) -> None: ...
    def end_file(self) -> None: ...


class FileTally:
    """Passes files on to ``target`` and notes each one's name and size, for the copy."""

    def __init__(self, target: _FileSink) -> None:
        self._target = target
        self.files: list[tuple[str, int]] = []

    def begin_file(self, name: str) -> None:
        self._target.begin_file(name)
        self.files.append((name, 0))

    def write(self, data: bytes) -> None:
        self._target.write(data)
        name, size = self.files[-1]
        self.files[-1] = (name, size + len(data))

    def end_file(self) -> None:
        self._target.end_file()
