"""Deletions the law requires, each one recorded, and the list that keeps them deleted.

    purge_due        at the art. 32.4 deadline (no investigation opened 3 months after
                     receipt, or the postponement an officer recorded) and at the 10-year cap,
                     the inbox deletes the case itself, at sign-in and after an import: the
                     case page warns ``deadlines.DELETION_WARNING_DAYS`` before, the dashboard
                     in the last 3; the purge order goes to the server with the next replies
                     bundle; the register keeps its line.
    delete_part      one follow-up message of the source with its files, one file of a
                     record, or one field of the submission's form (its value emptied), with
                     grounds and a reason (art. 32.2–32.3)
    deletion_list    every deletion as one object signed by the office key (ids, grounds,
                     dates; no content), written beside every backup (``backup.make_backup``)
    apply_list       what a restore does with that list: every deletion the backup does not
                     know yet is made again, so a backup never brings deleted data back
    server_copy      the same list sealed to the storage key, in every replies bundle; the
                     server keeps the longest and returns it in every outbox bundle, where
                     ``reapply_server_copy`` makes again what a restored inbox had forgotten

Partial deletions re-encrypt the stored record without the part (a new file under the case's
key, ``rekey.rewrite_file``; the old file is removed after the commit) and drop the search
index, which is rebuilt at the next search. Each is a ``Deletion`` row and an audit event;
the reason is sealed and goes with the case.
"""

import base64
import binascii
import json
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import delete, event, func, select
from sqlalchemy.orm import Session, object_session

from whistle.crypto import (
    DELETIONS,
    CryptoError,
    associated_data,
    sign,
    verify,
)
from whistle.inbox import compartments, deadlines, sealing, search_index
from whistle.inbox.audit import record_event
from whistle.inbox.errors import DeletionListError, DeletionRefusedError
from whistle.inbox.keyring import OfficeKeyring
from whistle.inbox.models import Case, CaseSearch, Deletion, Record, Tombstone
from whistle.inbox.models.deletion import GROUNDS, TARGETS
from whistle.inbox.outgoing import queue_purge
from whistle.inbox.rekey import rewrite_file
from whistle.inbox.store import record_meta
from whistle.inbox.workflow import case_dates, check_reason, live_case, purge_case

#: Grounds an officer may give for a partial deletion (art. 32.2–32.3, or another reason).
PARTIAL_GROUNDS = ("special-category", "out-of-scope", "shown-false", "other")
LIST_FILE = "deletions.wdel"
#: The storage-key envelope type of the copy the server keeps (no case: 16 zero bytes).
SERVER_COPY = "deletion-list"
LIST_VERSION = 1


def record_deletion(
    session: Session,
    keyring: OfficeKeyring | None,
    *,
    case_id: str,
    target: str,
    item: str,
    grounds: str,
    reason: str | None,
    officer_id: int | None,
    now: datetime,
    entry_id: str | None = None,
) -> Deletion:
    if grounds not in GROUNDS:
        raise DeletionRefusedError("Unknown grounds for a deletion.", why="grounds")
    sealed = (
        sealing.seal_text(keyring.storage_public, sealing.DECISION, case_id, reason)
        if reason and keyring is not None and target != "case"
        else None
    )
    row = Deletion(
        id=entry_id or secrets.token_hex(16),
        at=now.replace(tzinfo=None),
        officer_id=officer_id,
        case_id=case_id,
        target=target,
        item=item,
        grounds=grounds,
        reason=sealed,
    )
    session.add(row)
    session.flush()
    return row


# Whole cases at their deadline ------------------------------------------------------------


def due_cases(session: Session, today: date) -> list[str]:
    from whistle.inbox.workflow import CASE_COLUMNS

    return [
        row.id
        for row in session.execute(select(*CASE_COLUMNS))
        if deadlines.deletion_is_due(case_dates(row), today)
    ]


def purge_due(
    session: Session,
    keyring: OfficeKeyring,
    *,
    now: datetime,
    today: date,
    store_dir: Path,
    officer_id: int | None = None,
) -> tuple[list[str], list[Path]]:
    """Delete every case whose deletion is due: (their ids, the files to remove after
    commit)."""
    paths: list[Path] = []
    due = due_cases(session, today)
    for case_id in due:
        paths += purge_case(
            session,
            keyring,
            case_id,
            confirm=True,
            reason="",
            officer_id=officer_id,
            now=now,
            today=today,
            store_dir=store_dir,
        )
    return due, paths


# Parts of a case ----------------------------------------------------------------------------


def _tombstone_record(session: Session, record_id: str, day: date) -> None:
    """No outbox bundle brings the record back (``bundles._tombstoned``)."""
    if session.get(Tombstone, record_id) is None:
        session.add(Tombstone(id=record_id, kind="record", day=day))


def _record_of(session: Session, case_id: str, record_id: str) -> Record:
    record = session.get(Record, record_id)
    if record is None or record.case_id != case_id:
        raise DeletionRefusedError("No such message in this case.", why="no-such-part")
    return record


def _stored_type(kind: str) -> str:
    return sealing.STORED_PREFIX + kind


def _rewrite(
    keyring: OfficeKeyring,
    record: Record,
    store_dir: Path,
    *,
    drop_file: int | None = None,
    drop_field: str | None = None,
) -> tuple[Path, list[dict[str, Any]], dict[str, Any] | None]:
    """The record re-encrypted without file ``drop_file`` / with form field ``drop_field``
    emptied: (new file, its file list, its form)."""
    ad = associated_data(_stored_type(record.kind), bytes.fromhex(record.case_id))
    session = object_session(record)
    if session is None:
        raise ValueError("the record is not attached to a session")
    form: dict[str, Any] | None = None

    def small_part(name: str, value: bytes) -> bytes:
        nonlocal form
        if name != "form":
            return value
        form = json.loads(value.decode("utf-8"))
        if drop_field is None or not isinstance(form, dict):
            return value
        form = _without_field(form, drop_field)
        return json.dumps(form, ensure_ascii=False).encode("utf-8")

    done = rewrite_file(
        store_dir / record.stored_name,
        compartments.case_secrets(session, keyring, record.case_id),
        compartments.case_public(session, record.case_id),
        ad,
        drop_file=drop_file,
        small_part=small_part,
    )
    files = [{"index": i, "name": name, "size": size} for i, (name, size) in enumerate(done.files)]
    return done.path, files, form


#: The form's free text outside its fields (records.form_document) that can be deleted too.
FREE_TEXT_KEYS = ("availability",)


def _without_field(form: dict[str, Any], key: str) -> dict[str, Any]:
    if key in FREE_TEXT_KEYS and isinstance(form.get(key), str) and form[key]:
        return {**form, key: ""}
    fields = form.get("fields") or []
    if not any(isinstance(f, dict) and f.get("key") == key for f in fields):
        raise DeletionRefusedError("No such field in this report.", why="no-such-part")
    form = dict(form)
    form["fields"] = [
        {**f, "value": "", "deleted": True} if isinstance(f, dict) and f.get("key") == key else f
        for f in fields
    ]
    return form


def _replace_stored(
    session: Session,
    keyring: OfficeKeyring,
    record: Record,
    store_dir: Path,
    *,
    drop_file: int | None = None,
    drop_field: str | None = None,
) -> Path:
    try:
        new, files, form = _rewrite(
            keyring, record, store_dir, drop_file=drop_file, drop_field=drop_field
        )
    except CryptoError as exc:
        raise DeletionRefusedError(
            "This message cannot be decrypted: it is damaged.", why="damaged"
        ) from exc
    meta = dict(record_meta(keyring, record))
    meta["files"] = files
    if form is not None and "form" in meta:
        meta["form"] = form
    old = store_dir / record.stored_name
    record.stored_name = new.name
    record.meta = sealing.seal_json(
        compartments.case_public(session, record.case_id), sealing.META, record.case_id, meta
    )
    # The entry is current only while records never change: rebuilt at the next search, and
    # the decrypted copies in memory go after the commit.
    session.execute(delete(CaseSearch).where(CaseSearch.case_id == record.case_id))
    case = session.get(Case, record.case_id)
    if case is not None:
        search_index.drop_desk_index(session, case.desk_id)
    session.info[compartments.KEYS_CHANGED] = True
    return old


@dataclass(frozen=True)
class PartialDeletion:
    """What to delete in a case: a message, a file of a message, or a form field."""

    target: str
    record_id: str
    #: The file's position in the record ("file"), or the field's key ("field").
    which: str = ""

    @property
    def item(self) -> str:
        return f"{self.record_id}/{self.which}" if self.which else self.record_id


def delete_part(
    session: Session,
    keyring: OfficeKeyring,
    case_id: str,
    part: PartialDeletion,
    *,
    grounds: str,
    reason: str,
    officer_id: int | None,
    now: datetime,
    store_dir: Path,
    entry_id: str | None = None,
    recorded_at: datetime | None = None,
) -> list[Path]:
    """Delete one message, file or field (art. 32.2–32.3) with its grounds and reason;
    returns the files to remove after the caller's commit. ``entry_id`` and ``recorded_at``
    keep a deletion made again from the list as it was (file positions depend on order)."""
    case = live_case(session, case_id)
    compartments.case_secrets(session, keyring, case.id)  # only who opens the case deletes in it
    if grounds not in PARTIAL_GROUNDS:
        raise DeletionRefusedError("Choose the grounds for the deletion.", why="grounds")
    reason = check_reason(reason, "the deletion")
    record = _record_of(session, case.id, part.record_id)
    if part.target == "record":
        if record.kind == "submission":
            raise DeletionRefusedError(
                "The report itself is not deleted message by message: delete its fields "
                "or files, or the whole case.",
                why="no-such-part",
            )
        old = store_dir / record.stored_name
        session.delete(record)
        _tombstone_record(session, record.id, now.date())
        session.execute(delete(CaseSearch).where(CaseSearch.case_id == case.id))
        search_index.drop_desk_index(session, case.desk_id)
    elif part.target == "file":
        if not part.which.isdigit():
            raise DeletionRefusedError("No such file in this message.", why="no-such-part")
        index = int(part.which)
        if not 0 <= index < len(record_meta(keyring, record).get("files") or []):
            raise DeletionRefusedError("No such file in this message.", why="no-such-part")
        old = _replace_stored(session, keyring, record, store_dir, drop_file=index)
    elif part.target == "field":
        if record.kind != "submission":
            raise DeletionRefusedError("No such field in this report.", why="no-such-part")
        old = _replace_stored(session, keyring, record, store_dir, drop_field=part.which)
    else:
        raise DeletionRefusedError("Unknown kind of deletion.", why="no-such-part")
    record_deletion(
        session,
        keyring,
        case_id=case.id,
        target=part.target,
        item=part.item,
        grounds=grounds,
        reason=reason,
        officer_id=officer_id,
        now=recorded_at or now,
        entry_id=entry_id,
    )
    record_event(
        session,
        now,
        "part-deleted",
        officer_id=officer_id,
        case_id=case.id,
        record_id=record.id,
        detail=f"{part.target} ({grounds})",
    )
    return [old]


# The list kept outside the backup -----------------------------------------------------------


def _entry(row: Deletion) -> dict[str, Any]:
    return {
        "id": row.id,
        "at": row.at.isoformat(),
        "case": row.case_id,
        "target": row.target,
        "item": row.item,
        "grounds": row.grounds,
    }


def deletion_list(session: Session, keyring: OfficeKeyring) -> bytes:
    """Every deletion, oldest first, signed by the office key (purpose whistle/deletions/v1)."""
    rows = session.scalars(select(Deletion).order_by(Deletion.at, Deletion.id))
    body = {"version": LIST_VERSION, "entries": [_entry(r) for r in rows]}
    message = json.dumps(body, ensure_ascii=True, separators=(",", ":")).encode("ascii")
    return sign(keyring.signing_seed, DELETIONS, message)


def read_list(blob: bytes, office_public_key: bytes) -> list[dict[str, Any]]:
    """The entries of a list signed by this office; ``DeletionListError`` otherwise."""
    try:
        message = verify(office_public_key, DELETIONS, blob)
        body = json.loads(message.decode("ascii"))
    except (CryptoError, ValueError) as exc:
        raise DeletionListError(
            "The list of deletions is not this office's, or it was altered: nothing applied."
        ) from exc
    entries = body.get("entries") if isinstance(body, dict) else None
    if body.get("version") != LIST_VERSION or not isinstance(entries, list):
        raise DeletionListError("The list of deletions has an unknown format: nothing applied.")
    if not all(_well_formed(e) for e in entries):
        raise DeletionListError("The list of deletions has a malformed entry: nothing applied.")
    return entries


_HEX32 = re.compile(r"[0-9a-f]{32}")


def _well_formed(entry: Any) -> bool:
    if not isinstance(entry, dict):
        return False
    try:
        datetime.fromisoformat(str(entry.get("at")))
    except ValueError:
        return False
    return (
        bool(_HEX32.fullmatch(str(entry.get("id", ""))))
        and bool(_HEX32.fullmatch(str(entry.get("case", ""))))
        and entry.get("target") in TARGETS
        and entry.get("grounds") in GROUNDS
        and isinstance(entry.get("item"), str)
    )


def apply_list(
    session: Session,
    keyring: OfficeKeyring,
    entries: Iterable[dict[str, Any]],
    *,
    now: datetime,
    store_dir: Path,
) -> tuple[int, list[Path]]:
    """Make again every deletion this database does not know (a restored backup); returns
    how many and the files to remove after commit."""
    known = set(session.scalars(select(Deletion.id)))
    done = 0
    paths: list[Path] = []
    for entry in entries:
        entry_id = str(entry.get("id", ""))
        if not entry_id or entry_id in known:
            continue
        case_id = str(entry.get("case", ""))
        target = str(entry.get("target", ""))
        grounds = str(entry.get("grounds", "other"))
        at = datetime.fromisoformat(str(entry.get("at")))
        if target == "case":
            if session.get(Case, case_id) is not None:
                paths += purge_case(
                    session,
                    keyring,
                    case_id,
                    confirm=True,
                    reason="Made again after a restore: deleted on " + at.date().isoformat(),
                    officer_id=None,
                    now=now,
                    today=now.date(),
                    store_dir=store_dir,
                    entry_id=entry_id,
                    grounds=grounds if grounds in GROUNDS else "other",
                )
            else:
                # Arrived after the backup and deleted since: the server may still hold it,
                # so the tombstone and the purge order go in again.
                queue_purge(session, case_id=case_id, now=now)
                record_deletion(
                    session,
                    None,
                    case_id=case_id,
                    target=target,
                    item="",
                    grounds=grounds,
                    reason=None,
                    officer_id=None,
                    now=at,
                    entry_id=entry_id,
                )
        else:
            record_id, _, which = str(entry.get("item", "")).partition("/")
            if session.get(Record, record_id) is None:
                if target == "record":  # arrived after the backup: keep it out
                    _tombstone_record(session, record_id, now.date())
                continue
            paths += delete_part(
                session,
                keyring,
                case_id,
                PartialDeletion(target, record_id, which),
                grounds=grounds,
                reason="Made again after a restore.",
                officer_id=None,
                now=now,
                store_dir=store_dir,
                entry_id=entry_id,
                recorded_at=at,
            )
        done += 1
    return done, paths


# The copy the server keeps ----------------------------------------------------------------


def server_copy(session: Session, keyring: OfficeKeyring) -> tuple[int, bytes]:
    """(how many deletions, the signed list sealed to the storage key) for a replies bundle:
    the server can neither read it nor make one that opens here."""
    count = session.scalar(select(func.count()).select_from(Deletion)) or 0
    signed = base64.b64encode(deletion_list(session, keyring)).decode("ascii")
    return count, sealing.seal_text(keyring.storage_public, SERVER_COPY, sealing.NO_CASE, signed)


def read_server_copy(keyring: OfficeKeyring, blob: bytes) -> list[dict[str, Any]]:
    """The entries of the copy an outbox bundle brought back; ``DeletionListError`` if it is
    not this office's."""
    try:
        text = sealing.open_text(keyring.storage_secret, SERVER_COPY, sealing.NO_CASE, blob)
        signed = base64.b64decode(text, validate=True)
    except (CryptoError, binascii.Error, ValueError) as exc:
        raise DeletionListError(
            "The server's copy of the list of deletions does not open with this office's "
            "storage key: nothing applied."
        ) from exc
    return read_list(signed, keyring.signing_public)


def reapply_server_copy(
    session: Session, keyring: OfficeKeyring, blob: bytes, *, now: datetime, store_dir: Path
) -> int:
    """Make again every deletion on the server's copy this inbox does not know (it was
    restored from a backup older than them), in the caller's transaction; the files go once
    it commits. Returns how many."""
    from whistle.inbox.workflow import remove_files

    entries = read_server_copy(keyring, blob)
    done, paths = apply_list(session, keyring, entries, now=now, store_dir=store_dir)
    if done:
        record_event(session, now, "deletions-reapplied", detail=f"{done} from the server's copy")
        event.listen(session, "after_commit", lambda _s: remove_files(paths), once=True)
    return done
