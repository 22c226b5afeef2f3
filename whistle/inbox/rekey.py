"""Sealing one case's stored content again to another key, destroying the old copies.

Used by the move into desk compartments (``compartments.migrate``): everything of a case
that was sealed to the storage key is opened with it and sealed to the case key. Partial
deletions (``deletions.py``) stream a record through the same ``rewrite_file``, dropping one
file or emptying one form field on the way. Files are
written anew (the old file is removed only once the new one is on disk); rows are
overwritten in place (SQLite's ``secure_delete`` zeroes the old cells). Register lines and
deletion reasons of the office's own logs are not a case's content and stay where they are.
"""

import os
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from whistle.crypto import (
    CryptoError,
    EnvelopeWriter,
    PartData,
    PartKind,
    PartStart,
    associated_data,
    open_bytes,
    open_envelope,
    seal,
    sealed_to,
)
from whistle.inbox import sealing
from whistle.inbox.errors import UnreadableRecordError
from whistle.inbox.models import Case, Decision, Disclosure, Note, Record, Reply, Step


def reseal_blob(blob: bytes, old: bytes | list[bytes], new_public: bytes, ad: bytes) -> bytes:
    """A small envelope opened with ``old`` and sealed, part by part, to ``new_public``."""
    try:
        message = open_bytes(blob, old, ad)
    except CryptoError as exc:
        raise UnreadableRecordError("A sealed item of this case cannot be opened.") from exc
    return seal([(p.kind, p.name, p.content) for p in message.parts], [sealed_to(new_public)], ad)


@dataclass(frozen=True)
class Rewritten:
    path: Path
    #: The files it kept, in their order: (name, size in bytes).
    files: list[tuple[str, int]]


def rewrite_file(
    path: Path,
    old: bytes | list[bytes],
    new_public: bytes,
    ad: bytes,
    *,
    drop_file: int | None = None,
    small_part: Callable[[str, bytes], bytes] | None = None,
) -> Rewritten:
    """A stored record's file opened with ``old`` and sealed again to ``new_public``,
    streamed, into a new file beside it (the old stays until the caller has committed the
    row that names the new one): without its file number ``drop_file``, and each small part
    (name, content) as ``small_part`` gives it back. Raises ``CryptoError`` when it cannot
    be opened; on any error the new file is gone."""
    new = path.with_name(secrets.token_hex(16) + ".wenv")
    names: list[str] = []
    sizes: list[int] = []
    fd = os.open(new, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with path.open("rb") as source, os.fdopen(fd, "wb") as out:
            opened = open_envelope(source, old, ad)
            writer = EnvelopeWriter(out, [sealed_to(new_public)], ad)
            small: bytearray | None = None
            start: PartStart | None = None
            position = -1
            skipping = False
            for event in opened.events():
                if isinstance(event, PartStart):
                    start, small, skipping = event, None, False
                    if event.kind == PartKind.FILE:
                        position += 1
                        skipping = position == drop_file
                        if not skipping:
                            writer.begin_file(event.name)
                            names.append(event.name)
                            sizes.append(0)
                    else:
                        small = bytearray()
                elif isinstance(event, PartData):
                    if small is not None:
                        small += event.data
                    elif not skipping:
                        writer.write(event.data)
                        sizes[-1] += len(event.data)
                elif start is not None:
                    if small is None:
                        if not skipping:
                            writer.end_part()
                    else:
                        value = bytes(small)
                        if small_part is not None:
                            value = small_part(start.name, value)
                        writer.add_bytes(start.name, value, kind=start.kind)
                    start = None
            writer.finish()
            out.flush()
            os.fsync(out.fileno())
    except BaseException:
        new.unlink(missing_ok=True)
        raise
    return Rewritten(new, list(zip(names, sizes, strict=True)))


def reseal_file(path: Path, old: bytes | list[bytes], new_public: bytes, ad: bytes) -> Path:
    """A stored record's file sealed again, whole (``rewrite_file``); returns the new file."""
    try:
        return rewrite_file(path, old, new_public, ad).path
    except CryptoError as exc:
        raise UnreadableRecordError("A stored record of this case cannot be opened.") from exc


def reseal_case(
    session: Session, case_id: str, old: bytes | list[bytes], new_public: bytes, store_dir: Path
) -> list[Path]:
    """Seal everything stored for one case to ``new_public``; returns the old files, to be
    removed by the caller after the commit (until then the rows still name them)."""
    ad = associated_data
    raw = sealing.case_bytes(case_id)
    old_files: list[Path] = []
    for record in session.scalars(select(Record).where(Record.case_id == case_id)):
        record.meta = reseal_blob(record.meta, old, new_public, ad(sealing.META, raw))
        path = store_dir / record.stored_name
        new = reseal_file(path, old, new_public, ad(sealing.STORED_PREFIX + record.kind, raw))
        record.stored_name = new.name
        old_files.append(path)
    for note in session.scalars(select(Note).where(Note.case_id == case_id)):
        note.body = reseal_blob(note.body, old, new_public, ad(sealing.NOTE, raw))
    for disclosure in session.scalars(select(Disclosure).where(Disclosure.case_id == case_id)):
        disclosure.reason = reseal_blob(disclosure.reason, old, new_public, ad(sealing.REASON, raw))
    for decision in session.scalars(select(Decision).where(Decision.case_id == case_id)):
        decision.reason = reseal_blob(decision.reason, old, new_public, ad(sealing.DECISION, raw))
    for step in session.scalars(select(Step).where(Step.case_id == case_id)):
        step.note = reseal_blob(step.note, old, new_public, ad(sealing.DECISION, raw))
    for reply in session.scalars(select(Reply).where(Reply.case_id == case_id)):
        if reply.body:
            reply.body = reseal_blob(reply.body, old, new_public, ad(sealing.DRAFT, raw))
    case = session.get(Case, case_id)
    if case is not None and case.labels:
        case.labels = reseal_blob(case.labels, old, new_public, ad(sealing.LABELS, raw))
    session.flush()
    return old_files
