"""Searching the content of the cases an officer can open, without opening every sealed
record after each unlock.

Each desk has one index (``desk_search``): for every case granted to the desk, ``{"b": the
record and note ids it was built from, "t": casefolded text}`` (``"t"`` is null when a record
of the case cannot be decrypted), sealed to the desk's newest compartment key, so it opens for
exactly the desk's members and costs a few key operations, not one per case. A case granted
by name (someone stepped aside from it), and every case of an office not moved into desks
yet, has its own entry sealed to its case key (``case_search``, with the ids in the
plaintext column ``built_from``). Whatever changes who may read a case, or deletes part of
it, deletes its desk's index, rebuilt at the next search (``drop_desk_index``). Records and
notes never change once written, so an entry is current exactly when its ids match the
database's: ``refreshed`` compares them (plaintext, cheap) and rebuilds only what is new.
In memory the decrypted entries live in the key store's plaintext cache (emptied at the last
lock and whenever keys change hands), keyed by the officer's key and the entry.
"""

from datetime import datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from whistle.crypto import CryptoError
from whistle.inbox import compartments, db, sealing
from whistle.inbox.errors import UnreadableRecordError
from whistle.inbox.keyring import OfficeKeyring
from whistle.inbox.models import Case, CaseSearch, DeskSearch, Note, Record
from whistle.inbox.store import Cache, open_record_meta

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


def drop_desk_index(session: Session, desk_id: str) -> None:
    """Forget a desk's index (its text leaves the database with the row): a case left the
    desk's grant, a member left, or part of a case was deleted."""
    session.execute(delete(DeskSearch).where(DeskSearch.desk_id == desk_id))


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
    for record_id, case_id in db.rows(session, select(Record.id, Record.case_id)):
        if mine is None or case_id in mine:
            record_ids.setdefault(case_id, []).append(record_id)
    note_ids: dict[str, list[int]] = {}
    for note_id, case_id in db.rows(session, select(Note.id, Note.case_id)):
        if case_id in record_ids:
            note_ids.setdefault(case_id, []).append(note_id)
    wanted = {c: _built_from(ids, note_ids.get(c, [])) for c, ids in record_ids.items()}
    if mine is None:  # an office not moved into desks yet: one entry per case
        return _case_entries(session, keyring, wanted, cache)
    opened = compartments.open_desks(session, keyring, cache)
    by_desk = compartments.desk_granted(session, keyring, cache)
    # Each case to its desk's index, or (granted by name) to its own entry.
    split: dict[str | None, dict[str, str]] = {d: {} for d in opened.desk_ids()}
    split[None] = {}
    for case_id, built_from in wanted.items():
        split[by_desk.get(case_id)][case_id] = built_from
    entries: Entries = {}
    for desk_id in sorted(opened.desk_ids()):
        entries.update(_desk_entries(session, keyring, opened, desk_id, split[desk_id], cache))
    entries.update(_case_entries(session, keyring, split[None], cache))
    return entries


def _who(keyring: OfficeKeyring) -> str:
    return (keyring.personal_public or keyring.storage_public).hex()


def _desk_entries(
    session: Session,
    keyring: OfficeKeyring,
    opened: compartments.Opened,
    desk_id: str,
    cases: dict[str, str],
    cache: Cache | None,
) -> Entries:
    """The entries of the cases granted to a desk, from its index (opened once, a few keys)
    and rewritten when a case came, changed or went."""
    row = session.get(DeskSearch, desk_id)
    stored: Entries = {}
    if row is not None:
        key = ("desk-search", _who(keyring), desk_id, row.blob[-32:].hex())
        if cache is not None and key in cache:
            stored = cache[key]
        else:
            secrets = [s for (d, _g), s in opened.desks.items() if d == desk_id]
            try:
                body = sealing.open_json(secrets, sealing.INDEX, sealing.NO_CASE, row.blob)
                if isinstance(body, dict) and body.get("desk") == desk_id:
                    stored = body.get("cases") or {}
            except (CryptoError, ValueError):
                stored = {}  # damaged, or sealed to a key this member lacks: rebuilt
            if cache is not None:
                cache[key] = stored
    stale = [c for c, b in cases.items() if (stored.get(c) or {}).get("b") != b]
    if not stale and len(stored) == len(cases):
        return {c: stored[c] for c in cases}
    fresh: Entries = {c: v for c, v in stored.items() if c in cases}
    for start in range(0, len(stale), 500):
        batch = stale[start : start + 500]
        for case_id, text in _texts(session, keyring, batch, cache).items():
            fresh[case_id] = {"b": cases[case_id], "t": text}
    public = compartments.desk_public(session, desk_id)
    body = {"desk": desk_id, "cases": fresh}
    blob = sealing.seal_json(public, sealing.INDEX, sealing.NO_CASE, body)
    if row is None:
        session.add(DeskSearch(desk_id=desk_id, blob=blob))
    else:
        row.blob = blob
    session.flush()
    if cache is not None:
        cache[("desk-search", _who(keyring), desk_id, blob[-32:].hex())] = fresh
    return fresh


def _case_entries(
    session: Session, keyring: OfficeKeyring, wanted: dict[str, str], cache: Cache | None
) -> Entries:
    """Entries of one row each: cases granted by name (someone stepped aside), and every
    case of an office not moved into desks yet."""
    built = {
        case_id: built_from
        for case_id, built_from in session.execute(
            select(CaseSearch.case_id, CaseSearch.built_from).where(
                CaseSearch.case_id.in_(list(wanted))
            )
        )
    }
    who = _who(keyring)
    entries: Entries = {}
    todo: list[tuple[str, str]] = []
    for case_id, built_from in wanted.items():
        # An entry changes only with its ids, or when a part is deleted (which empties the
        # caches, ``deletions``): the ids are its version.
        key = ("search", who, case_id, built_from)
        if built.get(case_id) == built_from and cache is not None and key in cache:
            entries[case_id] = cache[key]
        else:
            todo.append((case_id, built_from))
    for start in range(0, len(todo), 500):
        batch = dict(todo[start : start + 500])
        for case_id, entry in _case_batch(session, keyring, batch, cache).items():
            entries[case_id] = entry
            if cache is not None:
                cache[("search", who, case_id, batch[case_id])] = entry
    return entries


def _case_batch(
    session: Session, keyring: OfficeKeyring, wanted: dict[str, str], cache: Cache | None
) -> Entries:
    """The stored entries of these cases when current and sound, the others rebuilt and
    written back; cases ``keyring`` does not open are left out."""
    rows = {
        row.case_id: row
        for row in session.scalars(select(CaseSearch).where(CaseSearch.case_id.in_(list(wanted))))
    }
    keys = compartments.case_keys(session, keyring, list(wanted), cache)
    entries: Entries = {}
    for case_id, secrets in keys.items():
        row = rows.get(case_id)
        if row is not None and row.built_from == wanted[case_id]:
            try:
                entry = sealing.open_json(secrets, sealing.INDEX, case_id, row.blob)
            except (CryptoError, ValueError):
                continue  # damaged: rebuilt below
            if isinstance(entry, dict):
                entries[case_id] = entry
    stale = [c for c in keys if c not in entries]
    for case_id, text in _texts(session, keyring, stale, cache).items():
        entry = {"t": text}
        blob = sealing.seal_json(
            compartments.case_public(session, case_id), sealing.INDEX, case_id, entry
        )
        row = rows.get(case_id)
        if row is None:
            if session.get(Case, case_id) is not None:
                session.add(CaseSearch(case_id=case_id, built_from=wanted[case_id], blob=blob))
        else:
            row.built_from = wanted[case_id]
            row.blob = blob
        entries[case_id] = entry
    session.flush()
    return entries


def _texts(
    session: Session, keyring: OfficeKeyring, case_ids: list[str], cache: Cache | None
) -> dict[str, str | None]:
    """The searchable text of each case ``keyring`` opens (its keys, records and notes read
    in a few queries, not per case); cases it does not open are left out."""
    opened = compartments.case_keys(session, keyring, case_ids, cache)
    records: dict[str, list[Record]] = {}
    for record in session.scalars(select(Record).where(Record.case_id.in_(case_ids))):
        records.setdefault(record.case_id, []).append(record)
    notes: dict[str, list[Note]] = {}
    for note in session.scalars(select(Note).where(Note.case_id.in_(case_ids))):
        notes.setdefault(note.case_id, []).append(note)
    found: dict[str, str | None] = {}
    for case_id, keys in opened.items():
        try:
            metas = [open_record_meta(keys, r, cache) for r in records.get(case_id, [])]
            texts = [
                sealing.open_text(keys, sealing.NOTE, case_id, n.body)
                for n in notes.get(case_id, [])
            ]
            found[case_id] = searchable_text(metas, texts)
        except (UnreadableRecordError, CryptoError):
            found[case_id] = None
    return found
