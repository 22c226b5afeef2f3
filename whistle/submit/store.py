"""Queries on the submission server's database; every function takes a ``Session``.

An envelope goes in whole, as ~1 MiB chunk rows, inside the caller's
transaction: a submission's login row, record row and chunks commit together or
not at all. The same functions store an envelope the server sealed itself
(JavaScript off) and one that arrives already encrypted (JavaScript on).

Concurrency (several gunicorn workers or hosts on one PostgreSQL; see db.py for
the transactions these run in):

- A case's login row is its lock. A follow-up or reply takes the next position
  with one ``UPDATE logins … RETURNING`` on that row, so two records arriving for
  one case at once queue on the row and get distinct positions.
- ``purge_case`` deletes the login row first (taking the same lock), then every
  record of the case, the source's copies and its case key: a follow-up that was waiting
  for the row then finds none and is refused (``CaseGoneError``); one that got the row
  first has committed before the records are listed and goes with the case. After a purge
  nothing new can reach the case.
- ``acknowledge`` deletes only records named by id *and* hash, so a record that
  arrived after an export was made can never be deleted by that export's
  acknowledgement.
- Exports (``bundles.export_outbox``, ``all_records``) read in one snapshot
  (``db.start_export``, ``db.snapshot``): an export never lists a record twice,
  never sees half of one, and never misses one committed before its snapshot;
  later ones go in the next export.
"""

import datetime
import secrets
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import BinaryIO

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from whistle.crypto import RecordHasher
from whistle.errors import WhistleError
from whistle.submit import case_keys
from whistle.submit.models import (
    CaseKeyRow,
    Chunk,
    Login,
    Record,
    RecordKind,
    SourceCopy,
    Tombstone,
)

CHUNK_ROW_BYTES = 1024 * 1024
CASE_ID_BYTES = 16


class CaseGoneError(WhistleError, ValueError):
    """The case takes no more records: it does not exist or was purged."""


class MailboxFullError(WhistleError):
    """The record would take the ciphertext stored past the quota: nothing was kept."""


class CaseExistsError(WhistleError):
    """A new case's id is already in use (a page chooses its own): nothing was kept."""


class CaseKeyChangedError(WhistleError):
    """A follow-up sealed to a case key (or to the desks) that is not the one the server holds
    for its case now: nothing was kept (docs/protocol.md §17)."""


@dataclass(frozen=True)
class StoredRecord:
    id: str
    case_id: bytes
    position: int
    kind: RecordKind
    created: datetime.date
    size: int
    record_hash: bytes


def _stored(row: Record) -> StoredRecord:
    return StoredRecord(
        id=row.id,
        case_id=bytes.fromhex(row.case_id),
        position=row.position,
        kind=row.kind,
        created=row.created,
        size=row.size,
        record_hash=row.record_hash,
    )


def new_case_id() -> bytes:
    return secrets.token_bytes(CASE_ID_BYTES)


def storage_used(session: Session) -> int:
    """Bytes of ciphertext stored, the sources' copies included (the quota counts these)."""
    records = session.scalar(select(func.coalesce(func.sum(Record.size), 0))) or 0
    copies = session.scalar(select(func.coalesce(func.sum(SourceCopy.size), 0))) or 0
    return int(records) + int(copies)


def quota_reached(session: Session, quota: int, incoming: int = 0) -> bool:
    return storage_used(session) + incoming > quota


def _pieces(envelope: BinaryIO) -> Iterator[bytes]:
    while piece := envelope.read(CHUNK_ROW_BYTES):
        yield piece


def _add_record(
    session: Session,
    *,
    case_id: bytes,
    kind: RecordKind,
    position: int,
    envelope: BinaryIO,
    today: datetime.date,
    record_id: str | None = None,
    epoch: int | None = None,
    case_key: bytes | None = None,
) -> StoredRecord:
    if len(case_id) != CASE_ID_BYTES:
        raise ValueError("a case id is 16 bytes")
    record_id = record_id or secrets.token_hex(16)
    hasher = RecordHasher()
    size = 0
    record = Record(
        id=record_id,
        case_id=case_id.hex(),
        position=position,
        kind=kind,
        created=today,
        size=0,
        record_hash=b"",
        epoch=epoch,
        case_key=case_key,
    )
    session.add(record)
    session.flush()
    for sequence, piece in enumerate(_pieces(envelope)):
        hasher.update(piece)
        size += len(piece)
        session.add(Chunk(record_id=record_id, sequence=sequence, data=piece))
        session.flush()
    if size == 0:
        raise ValueError("an envelope is never empty")
    record.size = size
    record.record_hash = hasher.digest()
    session.flush()
    return _stored(record)


def add_submission(
    session: Session,
    *,
    case_id: bytes,
    lookup: bytes,
    envelope: BinaryIO,
    today: datetime.date,
    pepper_tag: bytes | None = None,
    epoch: int | None = None,
) -> StoredRecord:
    """A new case: its login row and its submission record (caller commits).

    ``pepper_tag`` says which pepper made ``lookup`` (``pepper.py``); ``epoch``, the office
    key epoch the envelope was encrypted to (docs/protocol.md).
    """
    session.add(
        Login(
            lookup=lookup,
            case_id=case_id.hex(),
            next_position=1,
            pepper_tag=pepper_tag,
            protocol=2,
            followups=0,
        )
    )
    return _add_record(
        session,
        case_id=case_id,
        kind=RecordKind.SUBMISSION,
        position=0,
        envelope=envelope,
        today=today,
        epoch=epoch,
    )


def _take_position(session: Session, case_id: bytes) -> int:
    """The case's next position; locks its login row until the transaction ends."""
    taken: int | None = session.scalar(
        update(Login)
        .where(Login.case_id == case_id.hex())
        .values(next_position=Login.next_position + 1)
        .returning(Login.next_position)
    )
    if taken is None:
        raise CaseGoneError("no such case")
    return taken - 1


def add_followup(
    session: Session,
    *,
    case_id: bytes,
    envelope: BinaryIO,
    today: datetime.date,
    epoch: int | None = None,
    case_key: bytes | None = None,
) -> StoredRecord:
    """A source's follow-up to an existing case (caller commits).

    ``case_key``: the public case key it was sealed to (None: the desks'); checked under the
    case's lock against the key of the announcement held now (``CaseKeyChangedError``), which
    a replies bundle changes only under that lock too (``case_keys.apply``).
    """
    position = _take_position(session, case_id)
    if case_keys.held_key(session, case_id) != case_key:
        raise CaseKeyChangedError("the case's key is not the one the follow-up was sealed to")
    session.execute(
        update(Login).where(Login.case_id == case_id.hex()).values(followups=Login.followups + 1)
    )
    return _add_record(
        session,
        case_id=case_id,
        kind=RecordKind.FOLLOWUP,
        position=position,
        envelope=envelope,
        today=today,
        epoch=epoch,
        case_key=case_key,
    )


def receive_submission(
    session: Session,
    *,
    quota: int,
    case_id: bytes,
    lookup: bytes,
    pepper_tag: bytes,
    envelope: BinaryIO,
    size: int,
    today: datetime.date,
    epoch: int,
) -> StoredRecord:
    """A source's new case, as both submission routes store it (caller commits).

    ``MailboxFullError`` when its ``size`` would pass the ``quota``; ``CaseExistsError`` when
    ``case_id`` is taken (only a page that chose its own id can meet it).
    """
    if quota_reached(session, quota, size):
        raise MailboxFullError("the storage quota is reached")
    if case_exists(session, case_id):
        raise CaseExistsError("the case id is in use")
    return add_submission(
        session,
        case_id=case_id,
        lookup=lookup,
        pepper_tag=pepper_tag,
        envelope=envelope,
        today=today,
        epoch=epoch,
    )


def receive_followup(
    session: Session,
    *,
    quota: int,
    case_id: bytes,
    envelope: BinaryIO,
    size: int,
    today: datetime.date,
    epoch: int,
    case_key: bytes | None = None,
) -> StoredRecord:
    """A source's follow-up, as both follow-up routes store it (caller commits).

    ``MailboxFullError`` when its ``size`` would pass the ``quota``; ``CaseGoneError`` when the
    case was purged since its code was looked up; ``CaseKeyChangedError`` when it was sealed
    to another case key than the one held now. Takes the case's lock: a second follow-up to
    the same case waits for this one.
    """
    if quota_reached(session, quota, size):
        raise MailboxFullError("the storage quota is reached")
    return add_followup(
        session,
        case_id=case_id,
        envelope=envelope,
        today=today,
        epoch=epoch,
        case_key=case_key,
    )


def add_reply(
    session: Session,
    *,
    case_id: bytes,
    envelope: BinaryIO,
    today: datetime.date,
    record_id: str | None = None,
) -> StoredRecord:
    """An office reply to an existing case, as a bundle import stores it (caller commits).

    ``record_id`` is the id the office gave the reply (the bundle's record id).
    """
    position = _take_position(session, case_id)
    return _add_record(
        session,
        case_id=case_id,
        kind=RecordKind.REPLY,
        position=position,
        envelope=envelope,
        today=today,
        record_id=record_id,
    )


@dataclass(frozen=True)
class StoredCopy:
    id: str
    position: int
    created: datetime.date
    data: bytes


def add_copy(
    session: Session, *, case_id: bytes, position: int, data: bytes, today: datetime.date
) -> bool:
    """The source's sealed copy of the record at ``position``, stored in the same transaction
    as that record, which holds the case's lock (caller commits). False, and nothing stored,
    when the source deleted their copy: they want none kept."""
    if not data:
        raise ValueError("a copy is never empty")
    wanted = session.scalar(select(Login.keep_copies).where(Login.case_id == case_id.hex()))
    if not wanted:
        return False
    session.add(
        SourceCopy(
            id=secrets.token_hex(16),
            case_id=case_id.hex(),
            position=position,
            created=today,
            size=len(data),
            data=data,
        )
    )
    session.flush()
    return True


def case_copies(session: Session, case_id: bytes) -> list[StoredCopy]:
    rows = session.scalars(
        select(SourceCopy).where(SourceCopy.case_id == case_id.hex()).order_by(SourceCopy.position)
    )
    return [StoredCopy(r.id, r.position, r.created, r.data) for r in rows]


def forget_copies(session: Session, case_id: bytes, *, keep_none: bool = False) -> int:
    """Every copy of the case deleted (caller commits); how many. ``keep_none``: the source
    asked, so nothing they send later is copied either."""
    if keep_none:
        session.execute(
            update(Login).where(Login.case_id == case_id.hex()).values(keep_copies=False)
        )
    ids = list(session.scalars(select(SourceCopy.id).where(SourceCopy.case_id == case_id.hex())))
    if ids:
        session.execute(delete(SourceCopy).where(SourceCopy.id.in_(ids)))
    return len(ids)


@dataclass(frozen=True)
class CaseHints:
    """What the server tells a source about its case (docs/protocol.md §7): hints only."""

    protocol: int
    next_followup: int
    #: False once the source deleted their copy: their follow-ups are not copied.
    keep_copies: bool = True


def case_hints(session: Session, case_id: bytes) -> CaseHints:
    row = session.execute(
        select(Login.protocol, Login.followups, Login.keep_copies).where(
            Login.case_id == case_id.hex()
        )
    ).first()
    if row is None:
        raise CaseGoneError("no such case")
    return CaseHints(
        protocol=row.protocol, next_followup=row.followups + 1, keep_copies=row.keep_copies
    )


def case_exists(session: Session, case_id: bytes) -> bool:
    """Whether ``case_id`` is taken: a record or a tombstone has it (a browser-chosen id must
    be new; a purged or refused case's id never comes back)."""
    found = session.scalar(select(Record.id).where(Record.case_id == case_id.hex()).limit(1))
    return found is not None or session.get(Tombstone, case_id.hex()) is not None


def find_case(session: Session, lookup: bytes) -> bytes | None:
    """The case a login lookup value opens, or None (one indexed query either way)."""
    value = session.scalar(select(Login.case_id).where(Login.lookup == lookup))
    return bytes.fromhex(value) if value is not None else None


def find_logins(session: Session, lookups: list[bytes]) -> dict[bytes, bytes]:
    """Which of these lookup values open a case (one indexed query): lookup → case id."""
    rows = session.execute(select(Login.lookup, Login.case_id).where(Login.lookup.in_(lookups)))
    return {bytes(lookup): bytes.fromhex(case_id) for lookup, case_id in rows}


def rehash_login(session: Session, old: bytes, new: bytes, pepper_tag: bytes) -> bool:
    """Give a login row the lookup value of the current pepper (caller commits).

    False when no row had ``old`` any more (another check-in re-hashed it first)."""
    changed = session.scalar(
        update(Login)
        .where(Login.lookup == old)
        .values(lookup=new, pepper_tag=pepper_tag)
        .returning(Login.case_id)
    )
    return changed is not None


def login_tags(session: Session) -> Iterator[tuple[bytes, bytes | None]]:
    """Every login's lookup value and pepper tag, streamed."""
    rows = session.execute(select(Login.lookup, Login.pepper_tag).execution_options(yield_per=1000))
    for lookup, tag in rows:
        yield bytes(lookup), bytes(tag) if tag is not None else None


def set_pepper_tag(session: Session, lookup: bytes, pepper_tag: bytes) -> None:
    session.execute(update(Login).where(Login.lookup == lookup).values(pepper_tag=pepper_tag))


def case_records(session: Session, case_id: bytes) -> list[StoredRecord]:
    rows = session.scalars(
        select(Record).where(Record.case_id == case_id.hex()).order_by(Record.position)
    )
    return [_stored(row) for row in rows]


def read_record(session: Session, record_id: str, out: BinaryIO) -> None:
    """Write a record's ciphertext into ``out``, chunk by chunk."""
    rows = session.execute(
        select(Chunk.data).where(Chunk.record_id == record_id).order_by(Chunk.sequence)
    )
    for (data,) in rows:
        out.write(data)


def all_records(session: Session) -> list[StoredRecord]:
    """Every stored record, by case and position: run inside ``db.snapshot`` for exports."""
    rows = session.scalars(select(Record).order_by(Record.case_id, Record.position))
    return [_stored(row) for row in rows]


def _delete_named(session: Session, named: dict[str, bytes], case_id: bytes | None) -> int:
    if not named:
        return 0
    query = select(Record.id, Record.record_hash).where(Record.id.in_(named))
    if case_id is not None:
        query = query.where(Record.case_id == case_id.hex())
    # Row locks in one order (by id), so two deletions never wait on each other in a cycle.
    rows = session.execute(query.order_by(Record.id).with_for_update()).all()
    doomed = [row.id for row in rows if named[row.id] == row.record_hash]
    if doomed:
        session.execute(delete(Record).where(Record.id.in_(doomed)))  # chunks cascade
    return len(doomed)


def acknowledge(session: Session, records: Iterable[tuple[str, bytes]]) -> int:
    """Delete the records the inbox acknowledged, by id and hash; how many were deleted.

    A pair whose record is gone or whose hash differs deletes nothing.
    """
    return _delete_named(session, dict(records), None)


def purge_case(session: Session, case_id: bytes) -> int:
    """The office purged a case: its login row, then every record of it, the source's copies
    and its case key; how many records.

    The login row goes first, taking the case's lock: a follow-up waiting on it is then
    refused (``CaseGoneError``), and one that got it first has committed by the time the
    records are listed, so it goes with the case. Nothing can reach the case afterwards.
    """
    session.execute(delete(Login).where(Login.case_id == case_id.hex()))
    ids = list(
        session.scalars(
            select(Record.id)
            .where(Record.case_id == case_id.hex())
            .order_by(Record.id)
            .with_for_update()
        )
    )
    if ids:
        session.execute(delete(Record).where(Record.id.in_(ids)))  # chunks cascade
    forget_copies(session, case_id)
    session.execute(delete(CaseKeyRow).where(CaseKeyRow.case_id == case_id.hex()))
    return len(ids)
