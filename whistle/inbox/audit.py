"""The audit log: who did what to which case, never content; append-only and hash-chained.

Each event stores the hash of the event before it (``prev_hash``; 32 zero bytes for the
first) and its own ``entry_hash`` = SHA-256(``whistle/audit/v1`` ‖ prev_hash ‖ canonical JSON
of the event's fields, its id included). Editing, removing or reordering any event breaks the
chain at that event or the next; ``verify_chain`` names the first broken entry. The database
refuses UPDATE and DELETE on the table (SQLite triggers), and ``prev_hash`` is unique, so two
writers can never fork the chain (the second one fails and its transaction rolls back).

Removing the *last* events leaves a valid shorter chain: ``verify_chain`` returns the head
(count and hash) for officers to write down, and compare later (docs/officer-guide.md).
"""

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from whistle.inbox.errors import AuditChainError
from whistle.inbox.models import AuditEvent

DOMAIN = b"whistle/audit/v1"
GENESIS = bytes(32)


def entry_hash(
    prev_hash: bytes,
    *,
    event_id: int,
    at: datetime,
    officer_id: int | None,
    action: str,
    case_id: str | None,
    record_id: str | None,
    detail: str,
) -> bytes:
    body = json.dumps(
        [event_id, at.isoformat(), officer_id, action, case_id, record_id, detail],
        ensure_ascii=True,
        separators=(",", ":"),
    ).encode("ascii")
    return hashlib.sha256(DOMAIN + prev_hash + body).digest()


def record_event(
    session: Session,
    at: datetime,
    action: str,
    *,
    officer_id: int | None = None,
    case_id: str | None = None,
    record_id: str | None = None,
    detail: str = "",
) -> AuditEvent:
    """Append one event to the chain (in the caller's transaction)."""
    last = session.scalars(select(AuditEvent).order_by(AuditEvent.id.desc()).limit(1)).first()
    prev = last.entry_hash if last is not None else GENESIS
    event_id = last.id + 1 if last is not None else 1
    naive = at.replace(tzinfo=None)
    detail = detail[:500]
    event = AuditEvent(
        id=event_id,
        at=naive,
        officer_id=officer_id,
        action=action,
        case_id=case_id,
        record_id=record_id,
        detail=detail,
        prev_hash=prev,
        entry_hash=entry_hash(
            prev,
            event_id=event_id,
            at=naive,
            officer_id=officer_id,
            action=action,
            case_id=case_id,
            record_id=record_id,
            detail=detail,
        ),
    )
    session.add(event)
    session.flush()
    return event


@dataclass(frozen=True)
class ChainHead:
    count: int
    head: bytes


def verify_chain(session: Session, *, batch: int = 5000) -> ChainHead:
    """Check every event in order; raise ``AuditChainError`` naming the first broken one."""
    prev = GENESIS
    expected_id = 1
    count = 0
    last_id = 0
    while True:
        events = list(
            session.scalars(
                select(AuditEvent)
                .where(AuditEvent.id > last_id)
                .order_by(AuditEvent.id)
                .limit(batch)
            )
        )
        if not events:
            break
        for event in events:
            where = f"entry #{event.id} ({event.at.isoformat()} {event.action})"
            if event.id != expected_id:
                raise AuditChainError(
                    f"The audit log is broken at {where}: entry #{expected_id} is missing.",
                    event.id,
                )
            if event.prev_hash != prev:
                raise AuditChainError(
                    f"The audit log is broken at {where}: it does not follow the entry before "
                    "it (that one or this one was changed, or an entry was removed or inserted).",
                    event.id,
                )
            computed = entry_hash(
                prev,
                event_id=event.id,
                at=event.at,
                officer_id=event.officer_id,
                action=event.action,
                case_id=event.case_id,
                record_id=event.record_id,
                detail=event.detail,
            )
            if computed != event.entry_hash:
                raise AuditChainError(
                    f"The audit log is broken at {where}: its content was changed.", event.id
                )
            prev = event.entry_hash
            expected_id += 1
            count += 1
            last_id = event.id
    return ChainHead(count, prev)
