"""The encrypted store: importing verified records, reading them back after unlock.

At import each envelope is opened with the desk keys (a follow-up must be
authenticated by the case's reply key), then re-encrypted part by part into a
new envelope sealed to the inbox storage key, with associated data
``("stored-<kind>", case)``, written to ``store/<random>.wenv``. A small
summary (form, message, file names and sizes, the sealed identification block)
goes into the database sealed to the same key. Desk keys are then no longer
needed to read the case, so they can be retired: each record is opened with
the desk keys of the epoch the server says it was encrypted to (then, should
that be wrong, with any other live epoch's), and an epoch's keys are destroyed
once everything sent to it is collected (``epochs.py``).

Nothing is written in plaintext: the files, the database rows and the audit
events hold ciphertext, ids, kinds, dates and sizes only.
"""

import io
import logging
import os
import secrets
from collections.abc import Generator, Iterator, MutableMapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, BinaryIO

from sqlalchemy import select
from sqlalchemy.orm import Session, object_session

from whistle.crypto import (
    CryptoError,
    EnvelopeWriter,
    MisboundError,
    PartData,
    PartEnd,
    PartKind,
    PartStart,
    SignatureError,
    TamperedError,
    TruncatedError,
    WrongKeyError,
    associated_data,
    open_envelope,
    record_hash,
    sealed_to,
)
from whistle.crypto.records import (
    Submission,
    open_followup_as_office,
    open_reply_as_office,
    open_submission,
)
from whistle.filenames import MAX_FILES, clean_file_name
from whistle.inbox import case_refs, compartments, epochs, held_back, sealing
from whistle.inbox.audit import record_event
from whistle.inbox.errors import (
    AttachmentTooLargeError,
    CaseLockedError,
    CaseMissingError,
    CaseNotFoundError,
    HeldBackError,
    ImportRefusedError,
    InboxError,
    UnreadableRecordError,
)
from whistle.inbox.keyring import OfficeKeyring
from whistle.inbox.models import KINDS, Case, CaseKey, Record, Tombstone

log = logging.getLogger(__name__)

MAX_RECORD_ID_CHARS = 64
MAX_SMALL_PART = 256 * 1024


class NoDeskKeyError(ImportRefusedError):
    """No live desk key of this office opens the submission."""


class EpochNotHereError(InboxError):
    """The record names a key epoch newer than any this inbox holds (restored from a backup
    older than a rotation): a passing state of this inbox, never a refusal to the server."""


class CaseKeyNotHereError(InboxError):
    """A follow-up marked as sealed to a key that is none of its case's keys here (this inbox
    was restored from a backup older than that key): a passing state of this inbox, never a
    refusal to the server."""


@dataclass(frozen=True)
class IncomingRecord:
    """A record from a verified bundle: the bundle layer has checked its signature and hash."""

    kind: str
    record_id: str
    case_id: str
    received_day: date
    envelope: bytes
    #: The office key epoch the server says the record was encrypted to (None: unknown).
    epoch: int | None = None
    #: The case key (public, 32 bytes) the server says a follow-up was sealed to (None: to
    #: the desks, before the office announced one; docs/protocol.md §17).
    case_key: bytes | None = None


@dataclass
class ImportReport:
    imported: list[str] = field(default_factory=list)
    already_present: list[str] = field(default_factory=list)
    refused: list[tuple[str, str]] = field(default_factory=list)
    #: The refused records this inbox can never open: not a passing state of this inbox
    #: (keys missing, a damaged database) but the record itself (wrong keys, altered, not
    #: authenticated, a case that cannot exist here). The office refuses them to the server.
    unopenable: list[str] = field(default_factory=list)
    #: Those of them refused only because their case is not here (``CaseMissingError``).
    orphans: list[str] = field(default_factory=list)
    #: Records for desks the importer is not in, kept for their members (``held_back.py``).
    held: list[str] = field(default_factory=list)


def _check_shape(record: IncomingRecord) -> None:
    if record.kind not in KINDS:
        raise ImportRefusedError(f"unknown record kind {record.kind[:16]!r}")
    rid = record.record_id
    if not rid or len(rid) > MAX_RECORD_ID_CHARS or not all(c.isalnum() or c in "-_" for c in rid):
        raise ImportRefusedError("the record id is malformed")
    try:
        if len(bytes.fromhex(record.case_id)) != 16 or record.case_id != record.case_id.lower():
            raise ValueError
    except ValueError as exc:
        raise ImportRefusedError("the case id is not 16 bytes in lower-case hex") from exc


def import_records(
    session: Session,
    keyring: OfficeKeyring,
    records: Sequence[IncomingRecord],
    *,
    store_dir: Path,
    now: datetime | None = None,
    officer_id: int | None = None,
) -> ImportReport:
    """Import a batch; each refused record is logged with its reason, the rest go in.

    ``store_dir`` is ``InboxConfig.store_dir``; ``now`` (default: the current time, UTC)
    stamps the rows and audit events. Submissions are taken first so that follow-ups in
    the same batch find their case. The caller commits the session.
    """
    now = now or datetime.now(UTC)
    report = ImportReport()
    if not records:
        return report
    importer = _importer(session, keyring)
    order = {"submission": 0, "followup": 1, "reply": 2}
    for record in sorted(records, key=lambda r: order.get(r.kind, 3)):
        written = store_dir / (secrets.token_hex(16) + ".wenv")
        try:
            with session.begin_nested():
                _check_shape(record)
                digest = record_hash(record.envelope)
                existing = session.get(Record, record.record_id)
                if existing is not None:
                    if existing.original_hash != digest or existing.case_id != record.case_id:
                        raise ImportRefusedError("a record with this id but other content exists")
                    held_back.release(session, record.record_id)
                    report.already_present.append(record.record_id)
                    continue
                _import_one(session, keyring, importer, record, digest, written, now)
                held_back.release(session, record.record_id)
                record_event(
                    session,
                    now,
                    "record-imported",
                    officer_id=officer_id,
                    case_id=record.case_id,
                    record_id=record.record_id,
                    detail=record.kind,
                )
            report.imported.append(record.record_id)
        except BaseException as exc:
            written.unlink(missing_ok=True)
            if isinstance(exc, HeldBackError):
                _hold(session, importer, record, exc, now, officer_id)
                report.held.append(record.record_id)
                continue
            if not isinstance(exc, InboxError | CryptoError):
                raise
            reason = _reason(exc)
            log.warning("record %s refused at import: %s", record.record_id[:64], reason)
            report.refused.append((record.record_id, reason))
            if isinstance(exc, ImportRefusedError | CryptoError):
                report.unopenable.append(record.record_id)
            if isinstance(exc, CaseMissingError):
                report.orphans.append(record.record_id)
            record_event(
                session,
                now,
                "record-refused",
                officer_id=officer_id,
                case_id=record.case_id[:32],
                record_id=record.record_id[:64],
                detail=reason,
            )
    return report


@dataclass(frozen=True, repr=False)
class _Importer:
    """What the importing keyring opens: the live epochs' keys of its desks."""

    keys: list[epochs.EpochKeys]
    #: The desks whose compartments it holds (None: an office before desks, all of them).
    members_of: set[str] | None
    #: The desks that have live keys at all.
    live: set[str]
    #: Grants opened once for the whole batch (``compartments``' cache).
    cache: "Cache" = field(default_factory=dict)

    def tried(self, epoch: int | None) -> set[str]:
        """The desks whose keys it tried on a record of ``epoch``: those it holds for that
        epoch. A desk held only for another epoch was not tried, and refusing the record
        as if it had been would delete a genuine report. (A record that does not say its
        epoch was tried with every live key the importer holds.)"""
        return {d for k in self.keys if epoch is None or k.epoch == epoch for d in k.desks}


def _importer(session: Session, keyring: OfficeKeyring) -> _Importer:
    cache: Cache = {}  # the desks' grants are opened once for both
    opened = compartments.open_desks(session, keyring, cache)
    keys = compartments.wire_keys(session, keyring, cache)
    members_of = opened.desk_ids() if compartments.active(session) else None
    return _Importer(keys, members_of, epochs.live_desks(session), cache)


def _hold(
    session: Session,
    importer: _Importer,
    record: IncomingRecord,
    exc: HeldBackError,
    now: datetime,
    officer_id: int | None,
) -> None:
    held_back.hold(
        session,
        record_id=record.record_id,
        kind=record.kind,
        case_id=record.case_id,
        received_day=record.received_day,
        epoch=record.epoch,
        case_key=record.case_key,
        envelope=record.envelope,
        desk_id=exc.desk_id,
        tried_desks=importer.tried(record.epoch) if exc.desk_id is None else set(),
        now=now,
        officer_id=officer_id,
    )


def _check_desk(
    session: Session,
    keyring: OfficeKeyring,
    importer: _Importer,
    record: IncomingRecord,
    case: Case | None,
    marked: int | None,
) -> list[bytes]:
    """A follow-up is filed only by a holder of its case's key (its desk, less anyone who
    stepped aside), a reply by a member of its case's desk; both wait while their case's
    report is held back. Returns the case's key secrets the importer holds, newest first,
    for a follow-up. One sealed to the case's key (generation ``marked``) opens with nothing
    else, so it waits too for an importer who lacks that generation; one written before the
    office announced that key is sealed to every desk's key (docs/protocol.md §17), so for
    it this is the importer's rule, not their keys' limit."""
    if record.kind == "submission" or importer.members_of is None:
        return []
    if case is None:
        if held_back.held_report(session, record.case_id):
            raise HeldBackError("its report is held back for another desk")
        return []
    if record.kind != "followup":
        if case.desk_id not in importer.members_of:
            raise HeldBackError(f"for the desk {case.desk_id}", desk_id=case.desk_id)
        return []
    waiting = HeldBackError(
        f"for the holders of its case's key (desk {case.desk_id})", desk_id=case.desk_id
    )
    try:
        found = compartments.case_key_map(session, keyring, case.id, importer.cache)
    except CaseLockedError as exc:
        raise waiting from exc
    if marked is not None and marked not in found:
        raise waiting
    return [found[g] for g in sorted(found, reverse=True)]


def _marked_generation(session: Session, record: IncomingRecord) -> int | None:
    """The generation of its case's key here that a follow-up is marked as sealed to (any:
    an older one's follow-ups may still be in transit); None if unmarked or none here."""
    if record.case_key is None:
        return None
    return session.scalar(
        select(CaseKey.generation).where(
            CaseKey.case_id == record.case_id, CaseKey.public_key == record.case_key
        )
    )


def _reason(exc: Exception) -> str:
    """Why a record was refused, without anything from inside the envelope (no names)."""
    if isinstance(exc, InboxError):
        return str(exc)  # our own messages: they quote nothing from inside an envelope
    if isinstance(exc, TamperedError) and "not sent by" in str(exc):
        return "the follow-up is not authenticated by this case's reply key"
    if isinstance(exc, SignatureError):
        return f"the record's signature does not verify: forged or altered ({exc})"
    if isinstance(exc, MisboundError):
        return str(exc)  # says which binding failed, nothing from inside
    if isinstance(exc, WrongKeyError):
        return "none of this office's desk keys opens the envelope"
    if isinstance(exc, TamperedError):
        return "the envelope fails authentication (altered, or bound to another type or case)"
    if isinstance(exc, TruncatedError):
        return "the envelope is cut short"
    return f"the envelope is malformed ({type(exc).__name__})"


def _identified(form: Any) -> bool | None:
    """Whether the source gave identification, as the form says (None: a form that does not
    say, such as one written before the field or by a browser that leaves it out)."""
    value = form.get("identified") if isinstance(form, dict) else None
    return value if isinstance(value, bool) else None


def _source_category(form: Any) -> str | None:
    """The category key the source chose on the form, if any."""
    chosen = form.get("category") if isinstance(form, dict) else None
    key = chosen.get("key") if isinstance(chosen, dict) else None
    return key if isinstance(key, str) and key else None


def _prefill_from_form(session: Session, case: Case, form: Any, now: datetime) -> None:
    """What the source chose on the form starts the case: the category, when it is one of the
    office's (an officer can change it), and a meeting request with its 7-day clock."""
    from whistle.inbox.settings import category_names

    key = _source_category(form)
    if key is not None and key in category_names(session):
        case.category = key
        record_event(session, now, "category-set", case_id=case.id, detail=f"{key} (the source)")
    if isinstance(form, dict) and form.get("meeting") is True:
        case.meeting_requested_day = case.received_day
        record_event(session, now, "meeting-requested", case_id=case.id, detail="on the form")


def _stored_type(kind: str) -> str:
    return sealing.STORED_PREFIX + kind


def _desk_keys(keys: list[epochs.EpochKeys], record: IncomingRecord) -> list[tuple[str, bytes]]:
    """(desk id, secret) to try, the record's own epoch first, then every other live one."""
    ordered = [k for k in keys if k.epoch == record.epoch]
    ordered += [k for k in keys if k.epoch != record.epoch]
    return [(desk_id, secret) for k in ordered for desk_id, secret in k.desks.items()]


def _import_one(
    session: Session,
    keyring: OfficeKeyring,
    importer: _Importer,
    record: IncomingRecord,
    digest: bytes,
    path: Path,
    now: datetime,
) -> None:
    case_raw = bytes.fromhex(record.case_id)
    if session.get(Tombstone, record.case_id) is not None:  # purged (workflow.purge_case)
        raise ImportRefusedError("the case was purged (a tombstone is left)")
    case = session.get(Case, record.case_id)
    marked = _marked_generation(session, record) if case is not None else None
    if record.case_key is not None and case is not None and marked is None:
        # Announced by this office (the server seals only to what it signed), in a database
        # newer than this one: whatever else opens it, refusing could delete a genuine record.
        raise CaseKeyNotHereError(
            "it was sealed to a key of its case that this inbox does not hold: "
            "restore the newest backup"
        )
    case_secrets = _check_desk(session, keyring, importer, record, case, marked)
    meta: dict[str, Any] = {"record": record.record_id, "kind": record.kind}
    source = io.BytesIO(record.envelope)
    desks = _desk_keys(importer.keys, record)
    # A follow-up: its case's keys first, then the desks' (written before the announcement).
    secrets_only = case_secrets + [secret for _desk, secret in desks]
    try:
        if record.kind == "submission":
            if case is not None:
                raise ImportRefusedError("a second submission for an existing case")
            desk_id, submission = _open_submission(desks, source, case_raw)
            meta.update(
                desk=desk_id,
                form=submission.form,
                reply_public_key=submission.reply_public_key.hex(),
                identification=submission.identification_block.hex(),
            )
            if submission.source_signing_key is not None:
                meta["source_signing_key"] = submission.source_signing_key.hex()
            opened = submission.envelope
        else:
            if case is None:
                raise CaseMissingError(f"a {record.kind} for a case this inbox does not have")
            _refuse_replay(session, record, digest)
            if record.kind == "followup":
                reply_key, signing_key = verification_keys(session, keyring, case)
                conversation = open_followup_as_office(
                    record.envelope, secrets_only, case_raw, reply_key, signing_key
                )
            else:
                conversation = open_reply_as_office(
                    record.envelope, secrets_only, case_raw, keyring.signing_public
                )
            meta["message"] = conversation.message
            if conversation.position is not None:
                meta.update(
                    sequence=conversation.position.sequence, seen=conversation.position.seen
                )
            source.seek(0)
            opened = open_envelope(source, secrets_only, associated_data(record.kind, case_raw))
    except (WrongKeyError, NoDeskKeyError) as exc:
        # Said only once no live key opened it: the epoch is the server's word, not the
        # record's, and a refusal for a record that opens would delete a genuine one.
        if record.epoch is not None and epochs.is_destroyed(session, record.epoch):
            raise ImportRefusedError(
                f"it was encrypted to the desk keys of epoch {record.epoch}, which were destroyed"
            ) from exc
        if record.epoch is not None and record.epoch > epochs.current_epoch(session):
            # The server accepts only epochs from cards the office signed, so the keys exist
            # somewhere (a newer backup): refusing would delete a genuine report.
            raise EpochNotHereError(
                f"it was encrypted to key epoch {record.epoch}, newer than this inbox holds: "
                "restore the newest backup"
            ) from exc
        # Keys of other desks were not tried (by this officer, or by those who held it
        # before): the report may be theirs. Refused only once every desk's keys failed.
        untried = (
            importer.live
            - importer.tried(record.epoch)
            - held_back.tried(session, record.record_id)
        )
        if record.kind == "submission" and untried:
            raise HeldBackError("for a desk whose keys this officer does not hold") from exc
        raise

    if case is None:
        desk_id = compartments.receiving_desk(session, meta["desk"])
        case = Case(
            id=record.case_id,
            desk_id=desk_id,
            status="new",
            received_day=record.received_day,
            last_activity_day=record.received_day,
            imported_at=now.replace(tzinfo=None),
            identified=_identified(meta.get("form")),
            ref_year=record.received_day.year,
            ref_number=case_refs.next_number(session, record.received_day.year),
        )
        session.add(case)
        session.flush()
        if desk_id != meta["desk"]:
            record_event(
                session,
                now,
                "case-to-successor-desk",
                case_id=case.id,
                detail=f"sent to {meta['desk']}, which was removed: placed at {desk_id}",
            )
        # The case's own key, granted to its desk: the importer need not be able to read it.
        public = compartments.new_case_key(session, case.id, case.desk_id)
        case.verification = seal_verification(keyring.storage_public, case.id, meta)
        _prefill_from_form(session, case, meta.get("form"), now)
    else:
        case.last_activity_day = max(case.last_activity_day, record.received_day)
        public = compartments.case_public(session, case.id)
    files = _reencrypt(opened.events(), path, public, record.kind, case_raw)
    meta["files"] = files
    session.add(
        Record(
            id=record.record_id,
            case_id=record.case_id,
            kind=record.kind,
            received_day=record.received_day,
            original_hash=digest,
            original_size=len(record.envelope),
            stored_name=path.name,
            meta=sealing.seal_json(public, sealing.META, record.case_id, meta),
            imported_at=now.replace(tzinfo=None),
        )
    )
    session.flush()


VERIFICATION_FIELDS = ("reply_public_key", "source_signing_key", "identification", "language")


def seal_verification(storage_public: bytes, case_id: str, meta: dict[str, Any]) -> bytes:
    """The source's public keys of a case and its identification block (sealed to the
    custodian), sealed to the storage key: whoever imports (in any desk or none) checks a
    follow-up, the custodian opens the identification, without opening the case."""
    form = meta.get("form")
    language = form.get("language") if isinstance(form, dict) else None
    keys = {k: meta.get(k) for k in VERIFICATION_FIELDS} | {"language": language}
    return sealing.seal_json(storage_public, sealing.VERIFICATION, case_id, keys)


def verification_keys(
    session: Session, keyring: OfficeKeyring, case: Case
) -> tuple[bytes, bytes | None]:
    """(reply public key, source signing key or None) of a case's submission."""
    keys = source_facts(session, keyring, case)
    signing = keys.get("source_signing_key")
    return bytes.fromhex(keys["reply_public_key"]), bytes.fromhex(signing) if signing else None


def source_facts(session: Session, keyring: OfficeKeyring, case: Case) -> dict[str, Any]:
    """``VERIFICATION_FIELDS`` of a case's submission, from the storage-key copy."""
    if case.verification is not None:
        try:
            keys = sealing.open_json(
                keyring.storage_secret, sealing.VERIFICATION, case.id, case.verification
            )
        except (CryptoError, ValueError) as exc:
            raise UnreadableRecordError("This case's source keys are damaged.") from exc
    else:  # a case imported before desks, not moved yet: its summary says
        meta = submission_meta(session, keyring, case.id)
        form = meta.get("form")
        keys = meta | {"language": form.get("language") if isinstance(form, dict) else None}
    if not isinstance(keys, dict):
        raise UnreadableRecordError("This case's source keys are damaged.")
    return keys


def _refuse_replay(session: Session, record: IncomingRecord, digest: bytes) -> None:
    """The same envelope sent again under a new record id is a replay (review finding H4).

    Only the holder of the signing key can seal the same record afresh, so a second
    follow-up with a number already seen is the source's own (two tabs at once): it is
    imported and the case page shows the repeated number.
    """
    earlier = session.scalar(
        select(Record.id).where(Record.case_id == record.case_id, Record.original_hash == digest)
    )
    if earlier is not None:
        raise ImportRefusedError(f"the same {record.kind} was already imported as {earlier}")


def _open_submission(
    desks: list[tuple[str, bytes]], source: BinaryIO, case_raw: bytes
) -> tuple[str, Submission]:
    """The submission and the desk whose key opened it."""
    for desk_id, secret in desks:
        source.seek(0)
        try:
            return desk_id, open_submission(source, [secret], case_raw)
        except WrongKeyError:
            continue
    raise NoDeskKeyError("none of this office's desk keys opens the submission")


def _reencrypt(
    events: Iterator[PartStart | PartData | PartEnd],
    path: Path,
    storage_public: bytes,
    kind: str,
    case_raw: bytes,
) -> list[dict[str, Any]]:
    """Copy every part into a new envelope sealed to the storage key; returns the file list."""
    files: list[dict[str, Any]] = []
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as out:
            writer = EnvelopeWriter(
                out, [sealed_to(storage_public)], associated_data(_stored_type(kind), case_raw)
            )
            small: bytearray | None = None
            start: PartStart | None = None
            for event in events:
                if isinstance(event, PartStart):
                    start = event
                    if event.kind == PartKind.FILE:
                        if len(files) >= MAX_FILES:
                            raise ImportRefusedError(f"more than {MAX_FILES} files in one record")
                        # The sealed route's names come from any client: the plain route's rule.
                        name = clean_file_name(event.name)
                        writer.begin_file(name)
                        files.append({"index": len(files), "name": name, "size": 0})
                        small = None
                    else:
                        small = bytearray()
                elif isinstance(event, PartData):
                    if small is None:
                        writer.write(event.data)
                        files[-1]["size"] += len(event.data)
                    else:
                        small += event.data
                        if len(small) > MAX_SMALL_PART:
                            raise ImportRefusedError("a part of the record is too large")
                elif start is not None:
                    if small is None:
                        writer.end_part()
                    else:
                        writer.add_bytes(start.name, bytes(small), kind=start.kind)
                    start = None
            writer.finish()
            out.flush()
            os.fsync(out.fileno())
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return files


# Reading ------------------------------------------------------------------------------


Cache = MutableMapping[tuple[str, ...], Any]


def record_meta(
    keyring: OfficeKeyring, record: Record, cache: Cache | None = None
) -> dict[str, Any]:
    """A record's summary, decrypted; ``UnreadableRecordError`` when it cannot be.

    With a ``cache`` (the key store's, emptied on lock) each summary is decrypted once;
    the key includes the ciphertext's final tag, so a changed row is decrypted again.
    """
    # The keys first, whatever the cache holds: the refusal is by key, for every officer.
    return open_record_meta(_case_keys(keyring, record, cache), record, cache)


def open_record_meta(
    keys: list[bytes], record: Record, cache: Cache | None = None
) -> dict[str, Any]:
    """``record_meta`` with the case's keys already opened (``compartments.case_keys``)."""
    key = ("meta", record.id, record.meta[-32:].hex())
    if cache is not None and key in cache:
        cached: dict[str, Any] = cache[key]
        return cached
    meta = _decrypt_meta(keys, record)
    if cache is not None:
        cache[key] = meta
    return meta


def _case_keys(keyring: OfficeKeyring, record: Record, cache: Cache | None = None) -> list[bytes]:
    """The keys of the record's case that ``keyring`` opens (``CaseLockedError``: none)."""
    session = object_session(record)
    if session is None:
        raise ValueError("the record is not attached to a session")
    return compartments.case_secrets(session, keyring, record.case_id, cache)


def _decrypt_meta(keys: list[bytes], record: Record) -> dict[str, Any]:
    try:
        meta = sealing.open_json(keys, sealing.META, record.case_id, record.meta)
    except (CryptoError, ValueError) as exc:
        raise UnreadableRecordError("This record cannot be decrypted: it is damaged.") from exc
    if not isinstance(meta, dict) or meta.get("record") != record.id:
        raise UnreadableRecordError("This record's summary belongs to another record.")
    for f in meta.get("files") or []:
        if isinstance(f, dict):  # imported before names were cleaned at import
            f["name"] = clean_file_name(str(f.get("name", "")))
    return meta


def submission_meta(session: Session, keyring: OfficeKeyring, case_id: str) -> dict[str, Any]:
    record = session.scalar(
        select(Record).where(Record.case_id == case_id, Record.kind == "submission")
    )
    if record is None:
        raise CaseNotFoundError("No such case.")
    return record_meta(keyring, record)


@dataclass(frozen=True)
class Attachment:
    """One file of a stored record: its name and size, and its content as a stream."""

    name: str
    size: int
    chunks: Generator[bytes, None, None]


def open_attachment(keys: list[bytes], record: Record, index: int, store_dir: Path) -> Attachment:
    """Authenticate the whole stored record, then stream its ``index``-th file.

    ``keys`` are the case's keys the officer holds (``compartments.case_secrets``).

    Nothing is released before every chunk of the record has been authenticated;
    ``chunks`` then decrypts again as it goes (memory stays flat whatever the size)
    and closes the file when exhausted or closed.
    """
    path = store_dir / record.stored_name
    try:
        source = path.open("rb")
    except OSError as exc:
        raise UnreadableRecordError("The stored record is missing.") from exc
    try:
        opened = open_envelope(
            source,
            keys,
            associated_data(_stored_type(record.kind), bytes.fromhex(record.case_id)),
        )
        files = [p for p in opened.parts if p.kind == PartKind.FILE]
        if not 0 <= index < len(files):
            raise CaseNotFoundError("No such attachment.")
    except CryptoError as exc:
        source.close()
        raise UnreadableRecordError("This record cannot be decrypted: it is damaged.") from exc
    except BaseException:
        source.close()
        raise

    def chunks() -> Generator[bytes, None, None]:
        with source:
            position = -1
            for event in opened.events():
                if isinstance(event, PartStart):
                    if event.kind == PartKind.FILE:
                        position += 1
                elif isinstance(event, PartData):
                    if position == index:
                        yield event.data
                elif position == index:
                    return

    # Records imported before names were cleaned at import get the same rule here.
    return Attachment(clean_file_name(files[index].name), files[index].size, chunks())


def read_attachment(
    keys: list[bytes], record: Record, index: int, store_dir: Path, *, limit: int
) -> tuple[str, bytes]:
    """The ``index``-th file of a stored record in memory (name, content), up to ``limit``."""
    attachment = open_attachment(keys, record, index, store_dir)
    if attachment.size > limit:
        attachment.chunks.close()
        raise AttachmentTooLargeError(f"The file is larger than {limit // 2**20} MiB.")
    try:
        return attachment.name, b"".join(attachment.chunks)
    except CryptoError as exc:
        raise UnreadableRecordError("This record cannot be decrypted: it is damaged.") from exc
