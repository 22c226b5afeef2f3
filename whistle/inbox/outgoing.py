"""The inbox's outgoing queue: replies and purge orders waiting for the next replies bundle.

``queue_reply`` seals the reply to the case's reply key (from the stored
submission) and to the desk's key, queues it, and imports the same envelope into
the encrypted store as a ``reply`` record, so the case history shows it at once.
``queue_purge`` orders the server to delete everything it still holds of a case;
``queue_order`` one record it holds (a signed refusal or removal, docs/bundles.md).
Acknowledgements (``queue_ack``) are queued by the bundle import; ``split_acks`` holds
each one back until a backup holds its record, unless the office acknowledges on import
(docs/threat-model.md §3.8, docs/officer-guide.md "Backups"). ``queue_case_keys`` signs an
announcement of each case's newest key generation (``case_announce.py``), held back by the
same rule until a backup holds that key.
"""

import base64
import contextlib
import secrets
from datetime import date, datetime
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from whistle.crypto import CryptoError, record_hash
from whistle.crypto.conversation import Position
from whistle.crypto.orders import RecordOrder, sign_order, stored_order
from whistle.crypto.records import seal_reply
from whistle.inbox import epochs
from whistle.inbox.audit import record_event
from whistle.inbox.case_announce import CASE_KEY, split_case_keys
from whistle.inbox.errors import CaseLockedError, CaseNotFoundError, InboxError
from whistle.inbox.keyring import OfficeKeyring
from whistle.inbox.models import Case, HeldRecord, Outgoing, Record, Tombstone
from whistle.inbox.office_setup import load_office, read_server_card
from whistle.inbox.settings import acknowledge_on_import
from whistle.inbox.store import IncomingRecord, import_records, record_meta, verification_keys
from whistle.record_orders import FIELDS

MAX_REPLY_CHARS = 100_000
#: Why acknowledgements are held back, as the replies bundle's manifest says it.
HELD_FOR_BACKUP = "waiting-for-backup"
#: Outgoing kinds that carry a signed record order.
ORDER_KINDS = tuple(FIELDS)


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
    case = session.get(Case, case_id)
    if case is None:
        raise CaseNotFoundError("No such case.")
    # The source's keys are kept for whoever writes to the case (the custodian's notice of a
    # disclosure too) without opening it.
    reply_key, _signing = verification_keys(session, keyring, case)
    try:
        # The office's copy is sealed to the case's desk in the current key epoch.
        desk_key = epochs.desk_public_key(session, case.desk_id)
    except InboxError as exc:
        raise ReplyRefusedError("This case's desk has no key in the current epoch.") from exc
    record_id = secrets.token_hex(16)
    envelope = seal_reply(
        message,
        files,
        reply_public_key=reply_key,
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
            # The custodian's notice: its writer has read none of them, and says so.
            with contextlib.suppress(CaseLockedError):
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


def queue_order(
    session: Session, keyring: OfficeKeyring, order: RecordOrder, *, now: datetime
) -> bool:
    """Sign a record order (a refusal or a removal) and queue it; False if one for the same
    record, case and hash is queued.

    The record gets a tombstone here: a later outbox bundle that still carries it (the
    server has not applied the order yet) skips it without refusing it again.
    """
    if session.get(Tombstone, order.record_id) is None:
        session.add(Tombstone(id=order.record_id, kind=order.kind, day=now.date()))
    queued = _orders_for(session, order.record_id, kinds=(order.kind,))
    if any((o.case_id, o.record_hash) == (order.case_id, order.record_hash) for o in queued):
        return False
    session.add(
        Outgoing(
            kind=order.kind,
            case_id=order.case_id,
            record_id=order.record_id,
            envelope=sign_order(keyring.signing_seed, order),
            created=now.replace(tzinfo=None),
        )
    )
    session.flush()
    return True


def _orders_for(
    session: Session, record_id: str, kinds: tuple[str, ...] = ORDER_KINDS
) -> list[RecordOrder]:
    rows = session.scalars(
        select(Outgoing).where(Outgoing.kind.in_(kinds), Outgoing.record_id == record_id)
    )
    return [stored_order(row.envelope, row.kind) for row in rows]


def ordered_earlier(session: Session, record_id: str, case_id: str, digest: str) -> bool:
    """Whether the office already ordered this very record gone: its id, case and hash (or
    any content under the id, for a removal that names none). Other content under the id
    (a record refused while a database writer had moved it to another case, put back since)
    is not covered: the server keeps it too, and it is imported or refused on its own."""
    return any(
        o.case_id == case_id and o.record_hash in (None, digest)
        for o in _orders_for(session, record_id)
    )


class RemovalRefusedError(InboxError):
    """A removal order cannot be made (no server pinned, a malformed id, no case given)."""


def removal_order(
    session: Session,
    *,
    record_id: str,
    case_id: str | None,
    reason: str,
    record_kind: str | None = None,
) -> RecordOrder:
    """A manager's order to remove one record from the server (not yet signed or queued).

    A record this inbox holds is named with its case, hash and kind (the order removes
    exactly that content); one it never imported needs its case id (printed with the refusal
    at import, and in the audit log) and removes whatever the server holds under that id —
    of ``record_kind`` only, when the manager gives it.
    """
    office = load_office(session)
    if office.server_card is None:
        raise RemovalRefusedError("No server is trusted yet: nothing to send an order to.")
    held = session.get(Record, record_id)
    if held is not None and case_id not in (None, held.case_id):
        raise RemovalRefusedError("That record belongs to another case in this inbox.")
    if held is not None and record_kind not in (None, held.kind):
        raise RemovalRefusedError(f"That record is a {held.kind} in this inbox.")
    waiting = session.get(HeldRecord, record_id) if held is None else None
    if waiting is not None and case_id in (None, waiting.case_id):
        # Held back for another desk: named exactly, like a record filed here.
        case_id, record_kind = waiting.case_id, record_kind or waiting.kind
        digest: str | None = record_hash(waiting.envelope).hex()
    else:
        digest = held.original_hash.hex() if held is not None else None
    try:
        return RecordOrder(
            kind="removal",
            install_id=read_server_card(office.server_card).install_id,
            record_id=record_id,
            case_id=held.case_id if held is not None else case_id or "",
            record_hash=digest,
            reason=reason,
            record_kind=held.kind if held is not None else record_kind,
        )
    except CryptoError as exc:
        raise RemovalRefusedError(f"The order cannot be made: {exc}") from exc


def order_removal(
    session: Session,
    keyring: OfficeKeyring,
    *,
    record_id: str,
    case_id: str | None,
    reason: str,
    now: datetime,
    officer_id: int | None,
    record_kind: str | None = None,
) -> bytes:
    """A manager's removal order: signed, queued for the next replies bundle and logged in
    the audit chain; returns the signed order (the file the server operator can apply)."""
    order = removal_order(
        session, record_id=record_id, case_id=case_id, reason=reason, record_kind=record_kind
    )
    queue_order(session, keyring, order, now=now)
    record_event(
        session,
        now,
        "record-removal-ordered",
        officer_id=officer_id,
        case_id=order.case_id,
        record_id=order.record_id,
        detail=reason,
    )
    return sign_order(keyring.signing_seed, order)


def orders_extra(rows: list[Outgoing]) -> dict[str, list[str]]:
    """The replies manifest's ``extra`` entries for queued record orders (already signed)."""
    extra: dict[str, list[str]] = {}
    for row in rows:
        extra.setdefault(FIELDS[row.kind], []).append(base64.b64encode(row.envelope).decode())
    return {key: sorted(values) for key, values in extra.items()}


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


def split_pending(
    session: Session, rows: list[Outgoing]
) -> tuple[list[Outgoing], list[Outgoing], list[Outgoing]]:
    """``(sendable, held acknowledgements, held case key announcements)`` of ``rows``."""
    acks, held_acks_ = split_acks(session, [r for r in rows if r.kind == "ack"])
    keys, held_keys = split_case_keys(session, [r for r in rows if r.kind == CASE_KEY])
    # A superseded announcement is in neither of split_case_keys' lists: it does not go.
    going = {r.id for r in acks} | {r.id for r in keys}
    return (
        [r for r in rows if r.kind not in ("ack", CASE_KEY) or r.id in going],
        held_acks_,
        held_keys,
    )


def sendable(session: Session) -> list[Outgoing]:
    """``pending`` without the acknowledgements and announcements held back for a backup."""
    return split_pending(session, pending(session))[0]


def held_acks(session: Session) -> int:
    """How many acknowledgements wait for a backup."""
    acks = session.scalars(
        select(Outgoing).where(Outgoing.kind == "ack", Outgoing.confirmed.is_(None))
    ).all()
    _, held = split_acks(session, list(acks))
    return len(held)
