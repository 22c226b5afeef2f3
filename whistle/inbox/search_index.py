"""Searching the content of the cases an officer can open, without opening every sealed
record after each unlock.

Each case has one entry (``case_search``): ``{"t": casefolded text}`` (``"t"`` is null when a
record of the case cannot be decrypted), sealed to the case key (``sealing.INDEX``), so it
opens for exactly those who can open the case (``compartments``), and the plaintext column
``built_from`` lists the record and note ids it was built from. Records and notes never
change once written, so an entry is current exactly when its ids match the database's:
``refreshed`` compares them (plaintext, cheap), rebuilds only what is new, and opens the
others. In memory the decrypted entries live in the key store's plaintext cache (emptied at
the last lock and whenever keys change hands), keyed by the officer's key and the entry.
"""

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from whistle.crypto import CryptoError
from whistle.inbox import compartments, sealing
from whistle.inbox.errors import CaseLockedError, UnreadableRecordError
from whistle.inbox.keyring import OfficeKeyring
from whistle.inbox.models import Case, CaseSearch, Note, Record
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


def _built_from(records: list[str], notes: list[int]) -> str:
    return ",".join(sorted(records)) + "|" + ",".join(str(n) for n in sorted(notes))


def refreshed(
    session: Session, keyring: OfficeKeyring, *, now: datetime, cache: Cache | None = None
) -> Entries:
    """Case id → entry for every case ``keyring`` opens, brought up to date (stale entries
    are rebuilt and written back)."""
    del now  # entries carry no time: kept for the callers' signature
    mine = compartments.readable(session, keyring, cache)
    record_ids: dict[str, list[str]] = {}
    for record_id, case_id in session.execute(select(Record.id, Record.case_id)):
        if mine is None or case_id in mine:
            record_ids.setdefault(case_id, []).append(record_id)
    note_ids: dict[str, list[int]] = {}
    for note_id, case_id in session.execute(select(Note.id, Note.case_id)):
        if case_id in record_ids:
            note_ids.setdefault(case_id, []).append(note_id)
    built: dict[str, str] = {
        case_id: built_from
        for case_id, built_from in session.execute(
            select(CaseSearch.case_id, CaseSearch.built_from).where(
                CaseSearch.case_id.in_(list(record_ids))
            )
        )
    }
    who = (keyring.personal_public or keyring.storage_public).hex()
    entries: Entries = {}
    todo: list[tuple[str, str]] = []
    for case_id, ids in record_ids.items():
        built_from = _built_from(ids, note_ids.get(case_id, []))
        # An entry changes only with its ids, or when a part is deleted (which empties the
        # caches, ``deletions``): the ids are its version.
        key = ("search", who, case_id, built_from)
        if built.get(case_id) == built_from and cache is not None and key in cache:
            entries[case_id] = cache[key]
        else:
            todo.append((case_id, built_from))
    if todo and mine is not None:
        # Every case key at once (two queries) rather than one query per case.
        cache = cache if cache is not None else {}
        compartments.all_case_keys(session, keyring, cache)
    for start in range(0, len(todo), 500):
        batch = todo[start : start + 500]
        rows = {
            row.case_id: row
            for row in session.scalars(
                select(CaseSearch).where(CaseSearch.case_id.in_([c for c, _ in batch]))
            )
        }
        for case_id, built_from in batch:
            try:
                entry = _entry(session, keyring, case_id, built_from, rows.get(case_id), cache)
            except CaseLockedError:
                continue
            if isinstance(entry, dict):
                entries[case_id] = entry
                if cache is not None:
                    cache[("search", who, case_id, built_from)] = entry
    return entries


def _entry(
    session: Session,
    keyring: OfficeKeyring,
    case_id: str,
    built_from: str,
    row: CaseSearch | None,
    cache: Cache | None,
) -> Any:
    """The case's stored entry when current and sound, else rebuilt and written back."""
    if row is not None and row.built_from == built_from:
        keys = compartments.case_secrets(session, keyring, case_id, cache)
        try:
            return sealing.open_json(keys, sealing.INDEX, case_id, row.blob)
        except (CryptoError, ValueError):
            pass  # damaged: rebuilt below
    return _rebuild(session, keyring, case_id, built_from, row, cache)


def _rebuild(
    session: Session,
    keyring: OfficeKeyring,
    case_id: str,
    built_from: str,
    row: CaseSearch | None,
    cache: Cache | None,
) -> dict[str, Any]:
    keys = compartments.case_secrets(session, keyring, case_id, cache)
    text: str | None
    try:
        metas = [
            record_meta(keyring, r, cache)
            for r in session.scalars(select(Record).where(Record.case_id == case_id))
        ]
        notes = [
            sealing.open_text(keys, sealing.NOTE, case_id, n.body)
            for n in session.scalars(select(Note).where(Note.case_id == case_id))
        ]
        text = searchable_text(metas, notes)
    except (UnreadableRecordError, CryptoError):
        text = None
    entry: dict[str, Any] = {"t": text}
    blob = sealing.seal_json(
        compartments.case_public(session, case_id), sealing.INDEX, case_id, entry
    )
    if row is None:
        if session.get(Case, case_id) is not None:
            session.add(CaseSearch(case_id=case_id, built_from=built_from, blob=blob))
    else:
        row.built_from = built_from
        row.blob = blob
    session.flush()
    return entry
