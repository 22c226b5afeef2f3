"""Queries on the submission server's database; every function takes a ``Session``.

An envelope goes in whole, as ~1 MiB chunk rows, inside the caller's
transaction: a submission's login row, record row and chunks commit together or
not at all. The same functions store an envelope the server sealed itself
(JavaScript off) and one that arrives already encrypted (JavaScript on).
"""

import datetime
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from whistle.crypto import RecordHasher
from whistle.submit.models import Chunk, Login, Record, RecordKind

CHUNK_ROW_BYTES = 1024 * 1024
CASE_ID_BYTES = 16


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
    """Bytes of ciphertext stored (the quota counts these)."""
    return int(session.scalar(select(func.coalesce(func.sum(Record.size), 0))) or 0)


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
) -> StoredRecord:
    """A new case: its login row and its submission record (caller commits)."""
    session.add(Login(lookup=lookup, case_id=case_id.hex()))
    return _add_record(
        session,
        case_id=case_id,
        kind=RecordKind.SUBMISSION,
        position=0,
        envelope=envelope,
        today=today,
    )


def _next_position(session: Session, case_id: bytes) -> int:
    last = session.scalar(select(func.max(Record.position)).where(Record.case_id == case_id.hex()))
    if last is None:
        # Every record acknowledged and deleted: the case lives on in its login row.
        if session.scalar(select(Login.case_id).where(Login.case_id == case_id.hex())) is None:
            raise ValueError("no such case")
        return 0
    return last + 1


def add_followup(
    session: Session, *, case_id: bytes, envelope: BinaryIO, today: datetime.date
) -> StoredRecord:
    """A source's follow-up to an existing case (caller commits)."""
    position = _next_position(session, case_id)
    return _add_record(
        session,
        case_id=case_id,
        kind=RecordKind.FOLLOWUP,
        position=position,
        envelope=envelope,
        today=today,
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
    position = _next_position(session, case_id)
    return _add_record(
        session,
        case_id=case_id,
        kind=RecordKind.REPLY,
        position=position,
        envelope=envelope,
        today=today,
        record_id=record_id,
    )


def find_case(session: Session, lookup: bytes) -> bytes | None:
    """The case a login lookup value opens, or None (one indexed query either way)."""
    value = session.scalar(select(Login.case_id).where(Login.lookup == lookup))
    return bytes.fromhex(value) if value is not None else None


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
