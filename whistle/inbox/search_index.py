"""Searching every case's content without opening every sealed record after each unlock.

The index maps each case id to ``{"r": record ids, "n": note ids, "t": casefolded text}``
(``"t"`` is null when a record of the case cannot be decrypted). It is one envelope sealed to
the storage key (``sealing.INDEX``) in the ``search_index`` table, so at rest it is as safe as
the summaries it is built from. Records and notes never change once written, so an entry is
current exactly when its id lists match the database's: ``refreshed`` compares the id lists
(plaintext, cheap), decrypts only what is new, drops purged cases, and writes the index back
when anything changed. In memory the decrypted index lives in the key store's plaintext cache
(emptied at the last lock), keyed by the row's version.
"""

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from whistle.crypto import CryptoError
from whistle.inbox import sealing
from whistle.inbox.errors import UnreadableRecordError
from whistle.inbox.keyring import OfficeKeyring
from whistle.inbox.models import Note, Record, SearchIndex
from whistle.inbox.store import Cache, record_meta

Entries = dict[str, dict[str, Any]]


def searchable_text(metas: list[dict[str, Any]], notes: list[str]) -> str:
    pieces: list[str] = []
    for meta in metas:
        for f in (meta.get("form") or {}).get("fields") or []:
            if isinstance(f, dict):
                pieces.append(str(f.get("value", "")))
        pieces.append(str(meta.get("message", "")))
        pieces.extend(str(f.get("name", "")) for f in meta.get("files") or [])
    pieces.extend(notes)
    return "\n".join(pieces).casefold()


def _load(session: Session, keyring: OfficeKeyring, cache: Cache | None) -> tuple[int, Entries]:
    row = session.scalar(select(SearchIndex.version).where(SearchIndex.id == 1))
    if row is None:
        return 0, {}
    key = ("search-index", str(row))
    if cache is not None and key in cache:
        return row, cache[key]
    blob = session.execute(select(SearchIndex.blob).where(SearchIndex.id == 1)).scalar_one()
    try:
        entries = sealing.open_json(keyring.storage_secret, sealing.INDEX, sealing.NO_CASE, blob)
    except (CryptoError, ValueError):
        entries = {}  # a damaged index is rebuilt from the records
    if not isinstance(entries, dict):
        entries = {}
    if cache is not None:
        cache[key] = entries
    return row, entries


def refreshed(
    session: Session, keyring: OfficeKeyring, *, now: datetime, cache: Cache | None = None
) -> Entries:
    """The index, brought up to date with the database (and written back if it changed)."""
    version, entries = _load(session, keyring, cache)
    record_ids: dict[str, list[str]] = {}
    for record_id, case_id in session.execute(select(Record.id, Record.case_id)):
        record_ids.setdefault(case_id, []).append(record_id)
    note_ids: dict[str, list[int]] = {}
    for note_id, case_id in session.execute(select(Note.id, Note.case_id)):
        note_ids.setdefault(case_id, []).append(note_id)
    stale: list[str] = []
    for case_id, ids in record_ids.items():
        ids.sort()
        notes = sorted(note_ids.get(case_id, []))
        entry = entries.get(case_id)
        if entry is None or entry.get("r") != ids or entry.get("n") != notes:
            stale.append(case_id)
    gone = [case_id for case_id in entries if case_id not in record_ids]
    if not stale and not gone:
        return entries
    entries = dict(entries)
    for case_id in gone:
        del entries[case_id]
    for start in range(0, len(stale), 500):
        batch = stale[start : start + 500]
        records: dict[str, list[Record]] = {}
        for record in session.scalars(select(Record).where(Record.case_id.in_(batch))):
            records.setdefault(record.case_id, []).append(record)
        notes_by_case: dict[str, list[Note]] = {}
        for note in session.scalars(select(Note).where(Note.case_id.in_(batch))):
            notes_by_case.setdefault(note.case_id, []).append(note)
        for case_id in batch:
            text: str | None
            try:
                metas = [record_meta(keyring, r) for r in records.get(case_id, [])]
                texts = [
                    sealing.open_text(keyring.storage_secret, sealing.NOTE, case_id, n.body)
                    for n in notes_by_case.get(case_id, [])
                ]
                text = searchable_text(metas, texts)
            except (UnreadableRecordError, CryptoError):
                text = None
            entries[case_id] = {
                "r": sorted(record_ids[case_id]),
                "n": sorted(note_ids.get(case_id, [])),
                "t": text,
            }
    blob = sealing.seal_json(keyring.storage_public, sealing.INDEX, sealing.NO_CASE, entries)
    row = session.get(SearchIndex, 1)
    if row is None:
        session.add(SearchIndex(id=1, version=1, blob=blob, updated_at=now.replace(tzinfo=None)))
        version = 1
    else:
        row.version = version = row.version + 1
        row.blob = blob
        row.updated_at = now.replace(tzinfo=None)
    session.flush()
    if cache is not None:
        cache[("search-index", str(version))] = entries
    return entries
