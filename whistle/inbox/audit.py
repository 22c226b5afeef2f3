"""The audit log: who did what to which case, never content; append-only, hash-chained and
keyed (review finding L6).

Each event stores the hash of the event before it (``prev_hash``; 32 zero bytes for the
first) and its own ``entry_hash``. Since migration 0010 (chain version 2) an event written
while the office key is at hand (an officer is signed in) also carries a ``seal`` =
HMAC(audit key, ``whistle/audit/v2`` ‖ prev_hash ‖ event JSON), and its ``entry_hash`` =
SHA-256(``whistle/audit/v2`` ‖ prev_hash ‖ event JSON ‖ seal). The audit key is derived from
the office storage key (``whistle.crypto.audit``), which only the officers' keyrings hold:
someone who can write the database can still recompute SHA-256, but not a seal, so a
rewritten entry breaks every seal after it. Events written with no officer signed in (a
failed sign-in) are chained but unsealed; the next sealed event covers them.

Version 1 events (before 0010) have ``entry_hash`` = SHA-256(``whistle/audit/v1`` ‖
prev_hash ‖ event JSON) and no seal; they are verified as before. The first time a key is at
hand after the upgrade, the v1 chain is verified and the result recorded in a sealed
``audit-chain-keyed`` event: the v1 part is trusted from then on as far as that check went.

The head officers write on paper is the latest seal as 10 characters and a check symbol
(``head_code``); ``verify_chain(..., key, written_head)`` says whether it is in the chain, so
a log cut short, or rewritten by someone without a keyring, no longer contains it. The
database refuses UPDATE and DELETE on the table (SQLite triggers), and ``prev_hash`` is
unique, so two writers can never fork the chain.
"""

import hashlib
import json
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from whistle.crypto.audit import audit_key, audit_seal, head_code, same_seal
from whistle.inbox.context import OfficerContext
from whistle.inbox.errors import AuditChainError
from whistle.inbox.models import AuditEvent

DOMAIN = b"whistle/audit/v1"
DOMAIN_2 = b"whistle/audit/v2"
GENESIS = bytes(32)
#: ``session.info`` key: the audit key for this session's events (set by ``sign_in``).
AUDIT_KEY = "whistle_audit_key"
CHAIN_KEYED = "audit-chain-keyed"

#: Where an engine's sessions find the audit key while an officer is signed in.
_KEY_SOURCES: "weakref.WeakKeyDictionary[Engine, Callable[[], bytes | None]]" = (
    weakref.WeakKeyDictionary()
)


def key_for(storage_secret_key: bytes) -> bytes:
    return audit_key(storage_secret_key)


def lend_key(engine: Engine, source: Callable[[], bytes | None]) -> None:
    """Events written through ``engine`` are sealed with what ``source`` returns (if any)."""
    _KEY_SOURCES[engine] = source


def use_key(session: Session, key: bytes) -> None:
    """Seal this session's events with ``key`` (whatever the engine lends)."""
    session.info[AUDIT_KEY] = key


def _session_key(session: Session) -> bytes | None:
    key: bytes | None = session.info.get(AUDIT_KEY)
    if key is not None:
        return key
    bind = session.get_bind()
    engine = bind if isinstance(bind, Engine) else bind.engine
    source = _KEY_SOURCES.get(engine)
    return source() if source is not None else None


def _body(
    event_id: int,
    at: datetime,
    officer_id: int | None,
    action: str,
    case_id: str | None,
    record_id: str | None,
    detail: str,
) -> bytes:
    return json.dumps(
        [event_id, at.isoformat(), officer_id, action, case_id, record_id, detail],
        ensure_ascii=True,
        separators=(",", ":"),
    ).encode("ascii")


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
    """A version 1 entry's hash (no key)."""
    body = _body(event_id, at, officer_id, action, case_id, record_id, detail)
    return hashlib.sha256(DOMAIN + prev_hash + body).digest()


def _hash_2(prev_hash: bytes, body: bytes, seal: bytes | None) -> bytes:
    return hashlib.sha256(DOMAIN_2 + prev_hash + body + (seal or b"")).digest()


def _seal(key: bytes, prev_hash: bytes, body: bytes) -> bytes:
    return audit_seal(key, DOMAIN_2 + prev_hash + body)


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
    """Append one event to the chain (in the caller's transaction), sealed if a key is at hand."""
    key = _session_key(session)
    last = _last(session)
    if key is not None and last is not None and last.seal is None and not _ever_sealed(session):
        _record_keying(session, at, key, last)
        last = _last(session)
    return _append(session, last, key, at, action, officer_id, case_id, record_id, detail[:500])


def record_case_event(
    session: Session, ctx: OfficerContext, action: str, case_id: str, detail: str = ""
) -> AuditEvent:
    """One event of a case action, by the acting officer at the action's instant."""
    return record_event(
        session, ctx.now, action, officer_id=ctx.officer_id, case_id=case_id, detail=detail
    )


def _last(session: Session) -> AuditEvent | None:
    return session.scalars(select(AuditEvent).order_by(AuditEvent.id.desc()).limit(1)).first()


def _ever_sealed(session: Session) -> bool:
    return (
        session.scalar(select(AuditEvent.id).where(AuditEvent.seal.is_not(None)).limit(1))
        is not None
    )


def _append(
    session: Session,
    last: AuditEvent | None,
    key: bytes | None,
    at: datetime,
    action: str,
    officer_id: int | None,
    case_id: str | None,
    record_id: str | None,
    detail: str,
) -> AuditEvent:
    prev = last.entry_hash if last is not None else GENESIS
    event_id = last.id + 1 if last is not None else 1
    naive = at.replace(tzinfo=None)
    body = _body(event_id, naive, officer_id, action, case_id, record_id, detail)
    seal = _seal(key, prev, body) if key is not None else None
    event = AuditEvent(
        id=event_id,
        at=naive,
        officer_id=officer_id,
        action=action,
        case_id=case_id,
        record_id=record_id,
        detail=detail,
        prev_hash=prev,
        chain=2,
        seal=seal,
        entry_hash=_hash_2(prev, body, seal),
    )
    session.add(event)
    session.flush()
    return event


def _record_keying(session: Session, at: datetime, key: bytes, last: AuditEvent) -> None:
    """The first key after the upgrade: check what was written without one, and say so."""
    try:
        head = verify_chain(session)
        detail = f"{head.count} earlier entries verified; unkeyed head {head.head.hex()}"
    except AuditChainError as exc:
        detail = f"earlier entries NOT intact: broken at entry #{exc.entry_id}"
    _append(session, last, key, at, CHAIN_KEYED, None, None, None, detail)


@dataclass(frozen=True)
class ChainHead:
    count: int
    head: bytes
    #: The latest sealed entry and its head (``head_code``), if any entry is sealed.
    sealed_id: int | None = None
    sealed_head: str | None = None
    #: Entries written after the latest sealed one (no officer was signed in).
    unsealed_after: int = 0
    #: Whether the seals were checked (a key was given).
    keyed: bool = False
    #: The entry whose head is the one written down, when one was given and found.
    written_head_at: int | None = None


def _broken(event: AuditEvent, why: str) -> AuditChainError:
    where = f"entry #{event.id} ({event.at.isoformat()} {event.action})"
    return AuditChainError(f"The audit log is broken at {where}: {why}", event.id)


def verify_chain(
    session: Session,
    key: bytes | None = None,
    *,
    written_head: str | None = None,
    batch: int = 5000,
) -> ChainHead:
    """Check every event in order; raise ``AuditChainError`` naming the first broken one.

    With ``key`` the seals are checked too and ``written_head`` (normalised) is looked for.
    """
    prev = GENESIS
    expected_id = 1
    count = 0
    last_id = 0
    version = 1
    sealed_id: int | None = None
    sealed_head: str | None = None
    unsealed_after = 0
    found: int | None = None
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
            if event.id != expected_id:
                raise _broken(event, f"entry #{expected_id} is missing.")
            if event.prev_hash != prev:
                raise _broken(
                    event,
                    "it does not follow the entry before it (that one or this one was "
                    "changed, or an entry was removed or inserted).",
                )
            body = _body(
                event.id,
                event.at,
                event.officer_id,
                event.action,
                event.case_id,
                event.record_id,
                event.detail,
            )
            if event.chain == 1:
                if version == 2:
                    raise _broken(event, "an unkeyed entry after keyed ones.")
                computed = hashlib.sha256(DOMAIN + prev + body).digest()
            else:
                version = 2
                computed = _hash_2(prev, body, event.seal)
            if computed != event.entry_hash:
                raise _broken(event, "its content was changed.")
            if event.seal is not None:
                if key is not None and not same_seal(event.seal, _seal(key, prev, body)):
                    raise _broken(
                        event,
                        "its seal is not the office's (it was written or rewritten by "
                        "someone without an officer's keys).",
                    )
                sealed_id, sealed_head, unsealed_after = event.id, head_code(event.seal), 0
                if written_head is not None and sealed_head == written_head:
                    found = event.id
            elif event.chain == 2:
                unsealed_after += 1
            prev = event.entry_hash
            expected_id += 1
            count += 1
            last_id = event.id
    return ChainHead(
        count,
        prev,
        sealed_id,
        sealed_head,
        unsealed_after,
        keyed=key is not None,
        written_head_at=found,
    )
