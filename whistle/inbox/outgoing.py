"""The inbox's outgoing queue: replies and purge orders waiting for the next replies bundle.

``queue_reply`` seals the reply to the case's reply key (from the stored
submission) and to the desk's key, queues it, and imports the same envelope into
the encrypted store as a ``reply`` record, so the case history shows it at once.
``queue_purge`` orders the server to delete everything it still holds of a case.
Acknowledgements (``queue_ack``) are queued by the bundle import; ``split_acks`` holds
each one back until a backup holds its record, unless the office acknowledges on import
(DESIGN.md §3.8, docs/officer-guide.md "Backups").
"""

import secrets
from datetime import date, datetime
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from whistle.crypto.conversation import Position
from whistle.crypto.records import seal_reply
from whistle.inbox import epochs
from whistle.inbox.errors import CaseNotFoundError, InboxError
from whistle.inbox.keyring import OfficeKeyring
from whistle.inbox.models import Case, Outgoing, Record, Tombstone
from whistle.inbox.settings import acknowledge_on_import
from whistle.inbox.store import IncomingRecord, import_records, record_meta, submission_meta

MAX_REPLY_CHARS = 100_000
#: Why acknowledgements are held back, as the replies bundle's manifest says it.
HELD_FOR_BACKUP = "waiting-for-backup"


class ReplyRefusedError(InboxError):
    """The reply cannot be queued (empty, too long, or the case cannot take replies)."""


def queue_reply(
    session: Session,
    keyring: OfficeKeyring,
    *,
    case_id: str,
    message: str,
    files: list[tuple[str, bytes]],
    now: datetime,
    store_dir: Path | None = None,
) -> str:
    """Seal and queue a reply; returns its record id. The caller commits.

    With ``store_dir`` (``InboxConfig.store_dir``) the office's copy is imported
    into the store right away, so the case shows the reply in its conversation.
    """
    if not message.strip() and not files:
        raise ReplyRefusedError("A reply needs a message or a file.")
    if len(message) > MAX_REPLY_CHARS:
        raise ReplyRefusedError("The reply is too long.")
    if session.get(Case, case_id) is None:
        raise CaseNotFoundError("No such case.")
    meta = submission_meta(session, keyring, case_id)
    try:
        # The office's copy is sealed to the case's desk in the current key epoch.
        desk_key = epochs.desk_public_key(session, meta.get("desk", ""))
    except InboxError as exc:
        raise ReplyRefusedError("This case's desk has no key in the current epoch.") from exc
    record_id = secrets.token_hex(16)
    envelope = seal_reply(
        message,
        files,
        reply_public_key=bytes.fromhex(meta["reply_public_key"]),
        desk_key=desk_key,
        case_id=bytes.fromhex(case_id),
        office_seed=keyring.signing_seed,
        position=_next_position(session, keyring, case_id),
    )
    if store_dir is not None:
        report = import_records(
            session,
            keyring,
            [IncomingRecord("reply", record_id, case_id, now.date(), envelope)],
            store_dir=store_dir,
            now=now,
        )
        if report.refused:
            raise ReplyRefusedError(f"The reply could not be stored: {report.refused[0][1]}")
    session.add(
        Outgoing(
            kind="reply",
            case_id=case_id,
            record_id=record_id,
            envelope=envelope,
            created=now.replace(tzinfo=None),
        )
    )
    session.flush()
    return record_id


def _next_position(session: Session, keyring: OfficeKeyring, case_id: str) -> Position:
    """This reply's number in the case (one more than every reply sealed before it) and
    the highest follow-up number the office has read (docs/protocol.md §7)."""
    queued = set(
        session.scalars(
            select(Outgoing.record_id).where(Outgoing.kind == "reply", Outgoing.case_id == case_id)
        )
    )
    stored = session.scalars(select(Record).where(Record.case_id == case_id))
    seen = 0
    for record in stored:
        if record.kind == "reply":
            queued.add(record.id)
        elif record.kind == "followup":
            seen = max(seen, int(record_meta(keyring, record).get("sequence", 0)))
    return Position(sequence=len(queued) + 1, seen=seen)


def queue_purge(session: Session, *, case_id: str, now: datetime) -> None:
    """Order the server to delete the whole case (ciphertext, replies, sign-in row).

    The case gets a tombstone here too: no outbox bundle brings its records back.
    """
    tombstone_case(session, case_id, now.date())
    existing = session.scalar(
        select(Outgoing).where(Outgoing.kind == "purge", Outgoing.case_id == case_id)
    )
    if existing is None:
        session.add(
            Outgoing(kind="purge", case_id=case_id, envelope=b"", created=now.replace(tzinfo=None))
        )
        session.flush()


def queue_ack(
    session: Session, *, case_id: str, record_id: str, original_hash: bytes, now: datetime
) -> None:
    """Tell the server it may delete this record's ciphertext."""
    session.add(
        Outgoing(
            kind="ack",
            case_id=case_id,
            record_id=record_id,
            envelope=original_hash,
            created=now.replace(tzinfo=None),
        )
    )


def pending(session: Session) -> list[Outgoing]:
    """Everything not yet confirmed by the server, oldest first."""
    return list(
        session.scalars(select(Outgoing).where(Outgoing.confirmed.is_(None)).order_by(Outgoing.id))
    )


def tombstone_case(session: Session, case_id: str, today: date) -> None:
    """Remember a purged case so that no older outbox bundle brings it back."""
    if session.get(Tombstone, case_id) is None:
        session.add(Tombstone(id=case_id, kind="case", day=today))


def split_acks(session: Session, acks: list[Outgoing]) -> tuple[list[Outgoing], list[Outgoing]]:
    """``(sendable, held)``: an acknowledgement waits until a backup holds its record.

    With the office setting "acknowledge on import" every one is sendable. A record no
    longer here (its case was purged) holds nothing back: the purge order deletes it anyway.
    """
    if not acks or acknowledge_on_import(session):
        return list(acks), []
    ids = [a.record_id for a in acks if a.record_id]
    waiting: set[str] = set()
    for start in range(0, len(ids), 500):
        waiting.update(
            session.scalars(
                select(Record.id).where(
                    Record.id.in_(ids[start : start + 500]), Record.backed_up_at.is_(None)
                )
            )
        )
    sendable = [a for a in acks if a.record_id not in waiting]
    held = [a for a in acks if a.record_id in waiting]
    return sendable, held


def sendable(session: Session) -> list[Outgoing]:
    """``pending`` without the acknowledgements held back for a backup."""
    rows = pending(session)
    acks = [r for r in rows if r.kind == "ack"]
    _, held = split_acks(session, acks)
    held_ids = {r.id for r in held}
    return [r for r in rows if r.id not in held_ids]


def held_acks(session: Session) -> int:
    """How many acknowledgements wait for a backup."""
    acks = session.scalars(
        select(Outgoing).where(Outgoing.kind == "ack", Outgoing.confirmed.is_(None))
    ).all()
    _, held = split_acks(session, list(acks))
    return len(held)
