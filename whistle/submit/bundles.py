"""Bundles on the server: the outbox it writes, the replies bundles it applies, housekeeping.

    export_outbox     every submission and follow-up still stored (not yet
                      acknowledged), signed with the server key, sealed to the
                      office card's bundle key; sequence = last + 1
    apply_replies     a replies bundle signed by the pinned office key: replies
                      stored under the office's record ids, acknowledged records
                      deleted (by record hash), purged cases deleted whole with
                      their login row, records the office refused or ordered
                      removed deleted (``record_orders``), a tombstone left behind,
                      the office's case keys kept (``case_keys``) — all verified
                      first, then applied in the caller's one transaction
    housekeeping      replies expire (read + N days, or a maximum age), expired
                      courier challenges go; SQLite is vacuumed afterwards

Dates are days in the office's time zone; nothing finer is stored.
"""

import datetime
import io
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, BinaryIO

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from whistle.bundling import (
    BundleContentError,
    BundleSummary,
    Held,
    check_logged,
    deletions_extra,
    deletions_from_extra,
    held_records,
    last_logged,
    read_bundle_bytes,
)
from whistle.crypto.bundles import (
    BundleRecord,
    VerifiedBundle,
    bundle_id,
    signed_manifest,
    write_bundle,
)
from whistle.crypto.orders import RecordOrder
from whistle.epochs import CARD_FIELD
from whistle.record_orders import from_extra
from whistle.submit import case_keys, epochs, store
from whistle.submit.case_keys import Announced
from whistle.submit.config import SubmitConfig
from whistle.submit.models import (
    BundleLog,
    Chunk,
    CourierChallenge,
    DeletionListRow,
    Login,
    Record,
    RecordKind,
    Tombstone,
)
from whistle.submit.record_orders import apply_orders

OUTBOX = "outbox"
REPLIES = "replies"
MAX_INSTRUCTIONS = 100_000
_HEX32 = re.compile(r"[0-9a-f]{32}")
_HEX64 = re.compile(r"[0-9a-f]{64}")


def _last(session: Session, direction: str) -> BundleLog | None:
    return last_logged(session, BundleLog, direction)


def _read_envelope(session: Session, record_id: str) -> bytes:
    buffer = io.BytesIO()
    store.read_record(session, record_id, buffer)
    return buffer.getvalue()


def export_outbox(
    session: Session,
    config: SubmitConfig,
    out: BinaryIO,
    *,
    today: datetime.date,
    after: int = 0,
) -> BundleSummary:
    """Write the outbox bundle into ``out`` and log it (commit once ``out`` is safe).

    When the outbox is empty and nothing changed since the last bundle (no records then either,
    the same report, the same signing key), that bundle is written again, under its number and
    date, and nothing is logged: the inbox finds it already applied, and a server polled with
    nothing to collect does not count up (not when ``after`` names that number: the office's
    may be another bundle). A bundle with records always gets a new number: the inbox may have
    refused some for a passing reason, and takes them from the next bundle.
    ``after``: number this bundle above it too — after a restore from a backup, the inbox
    may have applied later numbers than this database remembers (docs/deployment.md §15).
    """
    rows = session.scalars(
        select(Record)
        .where(Record.kind != RecordKind.REPLY)
        .order_by(Record.case_id, Record.position)
    ).all()
    records = [
        BundleRecord(
            row.id,
            row.kind.value,
            row.case_id,
            row.created.isoformat(),
            _read_envelope(session, row.id),
        )
        for row in rows
    ]
    last = _last(session, OUTBOX)
    replies = _last(session, REPLIES)
    known = epochs.cards(session, config)
    report = epochs.report(session, config, list(rows), today)
    kept = session.get(DeletionListRow, 1)
    keyed = {row.id: row.case_key.hex() for row in rows if row.case_key is not None}
    extra = {
        "replies_applied": replies.sequence if replies else 0,
        REPLIES_SEEN: replies_seen(session),
        **report.to_extra(),
        **(deletions_extra(kept.entries, kept.blob) if kept is not None else {}),
        # Absent when empty: a manifest without case keys stays as it was (_unchanged).
        **({RECORD_CASE_KEYS: keyed} if keyed else {}),
        # In every outbox: the inbox counts an announcement confirmed only when the server
        # names it here (one from before §17 ignored them and confirmed the bundle all the same).
        CASE_KEYS_HELD: case_keys.held_extra(session),
    }
    # Only an empty outbox is written again: a bundle that carries records gets a new number,
    # so that a record the inbox could not take then (its keys missing) comes again.
    same = (
        last is not None
        and not records
        and after < last.sequence  # not when told the office applied this number already
        and _unchanged(session, config, last, records, extra)
    )
    if last is not None and same:
        sequence, previous, created = last.sequence, _before(session, last), last.day
    else:
        sequence = max(last.sequence if last else 0, after) + 1
        previous, created = (last.bundle_id if last else None), today
    verified = write_bundle(
        out,
        records=records,
        signing_seed=config.signing_seed,
        recipient_bundle_key=known.current.bundle_key,
        install_id=config.install_id,
        direction=OUTBOX,
        sequence=sequence,
        previous=previous,
        created=created.isoformat(),
        extra=extra,
    )
    summary = _summary(verified)
    if same:
        summary.notes.append("nothing changed since this bundle was written: the same bundle again")
    else:
        session.add(
            BundleLog(direction=OUTBOX, sequence=sequence, bundle_id=verified.bundle_id, day=today)
        )
        session.flush()
    summary.counts = _count_kinds(verified)
    summary.counts["office key epoch"] = report.current
    for epoch, count in report.pending.items():
        summary.notes.append(f"key epoch {epoch}: {count} record(s) still here")
    return summary


def _before(session: Session, logged: BundleLog) -> str | None:
    """The id of the outbox bundle written before ``logged`` (its ``previous``)."""
    return session.scalar(
        select(BundleLog.bundle_id)
        .where(BundleLog.direction == OUTBOX, BundleLog.sequence < logged.sequence)
        .order_by(BundleLog.sequence.desc())
        .limit(1)
    )


def _unchanged(
    session: Session,
    config: SubmitConfig,
    last: BundleLog,
    records: list[BundleRecord],
    extra: dict[str, Any],
) -> bool:
    """Whether the outbox now is what ``last`` carried: the same manifest, signed again under
    its number and date, has its id (signing is deterministic)."""
    _manifest, signed = signed_manifest(
        records=records,
        signing_seed=config.signing_seed,
        install_id=config.install_id,
        direction=OUTBOX,
        sequence=last.sequence,
        previous=_before(session, last),
        created=last.day.isoformat(),
        extra=extra,
    )
    return bundle_id(signed) == last.bundle_id


#: The outbox field saying, per follow-up sealed to a case key, that key (docs/protocol.md
#: §17): {record id: its public key's 64 hex characters}. By key, not generation: an inbox
#: restored from an older backup can make a generation again with another key.
RECORD_CASE_KEYS = "record_case_keys"

#: The outbox field naming the case keys this server holds (§17): {case id: [generation, key
#: hex]}; ``{}`` when none, absent from a server from before §17.
CASE_KEYS_HELD = "case_keys_held"

#: The outbox field saying, per reply still here, the day it was stored here and the day the
#: source first read it: what the office's acknowledgement and feedback clocks need.
REPLIES_SEEN = "replies_seen"


def replies_seen(session: Session) -> dict[str, list[str | None]]:
    """{reply id: [day stored here, day first read or None]} for every reply still here."""
    rows = session.execute(
        select(Record.id, Record.created, Record.first_read).where(Record.kind == RecordKind.REPLY)
    )
    return {
        rid: [created.isoformat(), read.isoformat() if read is not None else None]
        for rid, created, read in rows
    }


def _summary(verified: VerifiedBundle) -> BundleSummary:
    m = verified.manifest
    return BundleSummary(m.direction, m.sequence, verified.bundle_id, m.created)


def _count_kinds(verified: VerifiedBundle) -> dict[str, int]:
    counts: dict[str, int] = {}
    for record in verified.manifest.records:
        counts[record.kind + "s"] = counts.get(record.kind + "s", 0) + 1
    return counts


@dataclass(frozen=True)
class ReplyInstructions:
    acknowledged: tuple[str, ...]
    purged: tuple[str, ...]
    orders: tuple[RecordOrder, ...] = ()
    case_keys: tuple[Announced, ...] = ()


def _instructions(config: SubmitConfig, extra: dict[str, Any]) -> ReplyInstructions:
    acks = extra.get("acknowledged", [])
    purges = extra.get("purged", [])
    if not isinstance(acks, list) or not all(
        isinstance(h, str) and _HEX64.fullmatch(h) for h in acks
    ):
        raise BundleContentError("the acknowledgements are not a list of record hashes")
    if not isinstance(purges, list) or not all(
        isinstance(c, str) and _HEX32.fullmatch(c) for c in purges
    ):
        raise BundleContentError("the purge orders are not a list of case ids")
    if len(acks) > MAX_INSTRUCTIONS or len(purges) > MAX_INSTRUCTIONS:
        raise BundleContentError("the bundle carries too many instructions")
    # Each refusal or removal is signed on its own too: one that does not verify (forged,
    # for another server) refuses the whole bundle.
    orders = from_extra(
        extra,
        office_signing_key=config.office_card.signing_key,
        install_id=config.install_id,
    )
    # So is each case key announcement (docs/protocol.md §17).
    announced = case_keys.from_extra(extra, office_signing_key=config.office_card.signing_key)
    return ReplyInstructions(tuple(acks), tuple(purges), tuple(orders), tuple(announced))


def _held_note(extra: dict[str, Any]) -> list[str]:
    """The inbox holds acknowledgements back until a backup holds those records (it says so)."""
    held = extra.get("acknowledgements_held")
    if not isinstance(held, int) or isinstance(held, bool) or held <= 0:
        return []
    why = extra.get("acknowledgements_held_why")
    reason = (
        "waiting for a backup in the office" if why == "waiting-for-backup" else "by the office"
    )
    return [f"{held} acknowledgement(s) held back ({reason}): those records stay here until then"]


def verify_replies(config: SubmitConfig, data: bytes) -> VerifiedBundle:
    """Verify a replies bundle against the pinned office key (``BundleRefusedError`` if not)."""
    return read_bundle_bytes(
        data,
        max_bytes=config.max_bundle_bytes,
        bundle_secret_key=config.bundle_secret,
        signer_public_key=config.office_card.signing_key,
        install_id=config.install_id,
        direction=REPLIES,
    )


def preview_replies(session: Session, config: SubmitConfig, data: bytes) -> BundleSummary:
    """What applying would do, without changing anything."""
    verified = verify_replies(config, data)
    instructions = _instructions(config, verified.manifest.extra)
    summary = _summary(verified)
    summary.counts = {
        "replies": len(verified.records),
        "acknowledgements": len(instructions.acknowledged),
        "purge orders": len(instructions.purged),
        "record refusals and removals": len(instructions.orders),
        "case keys announced": len(instructions.case_keys),
    }
    summary.notes += _held_note(verified.manifest.extra)
    check = check_logged(session, BundleLog, REPLIES, verified)
    summary.missed = check.missed
    summary.chain_note = check.chain_note
    if not check.apply:
        summary.already_applied = True  # applying it would change nothing, the card neither
        return summary
    if CARD_FIELD in verified.manifest.extra:
        _raw, change = epochs.check_card(session, config, verified.manifest.extra[CARD_FIELD])
        summary.counts["office key epoch"] = change.epoch
        if change.changed:
            summary.notes.append(f"new office keys (epoch {change.epoch}) would be applied")
    return summary


def apply_replies(
    session: Session, config: SubmitConfig, data: bytes, *, today: datetime.date
) -> BundleSummary:
    """Verify, then apply a replies bundle inside the caller's transaction.

    Refusals (``BundleRefusedError`` and its subclasses) happen before any write.
    """
    verified = verify_replies(config, data)
    manifest = verified.manifest
    instructions = _instructions(config, manifest.extra)
    deletions = deletions_from_extra(manifest.extra)
    if any(r.kind != "reply" for r in verified.records):
        raise BundleContentError("a replies bundle carries only replies")
    check = check_logged(session, BundleLog, REPLIES, verified)
    summary = _summary(verified)
    summary.missed = check.missed
    summary.chain_note = check.chain_note
    if not check.apply:
        summary.already_applied = True
        return summary
    # A key rotation: the new card must be the pinned key's and newer (checked, not yet stored).
    card = None
    if CARD_FIELD in manifest.extra:
        card = epochs.check_card(session, config, manifest.extra[CARD_FIELD])
    # Every record checked against what is here before anything is written. A reply to a case
    # this server does not have is dropped quietly, as one to a purged case is.
    checked = held_records(
        verified.records,
        stored=lambda record_id: _stored(session, record_id),
        tombstoned=lambda record: _tombstoned(session, record.id, record.case),
    )
    to_store = [
        record for record, h in checked if h is Held.NEW and _case_exists(session, record.case)
    ]
    skipped = len(checked) - len(to_store)
    for record in to_store:
        store.add_reply(
            session,
            case_id=bytes.fromhex(record.case),
            envelope=io.BytesIO(record.envelope),
            today=today,
            record_id=record.id,
        )
    if card is not None and card[1].changed:
        epochs.store_card(session, card[0], card[1].epoch, today)
    deleted = _acknowledge(session, instructions.acknowledged)
    purged = _purge(session, instructions.purged, today)
    ordered = apply_orders(session, instructions.orders, today)
    # After purges and removals: a key for a case they deleted is one for a case not here.
    keyed = case_keys.apply(session, instructions.case_keys, today)
    kept_deletions = _keep_deletions(session, deletions, today)
    session.add(
        BundleLog(
            direction=REPLIES, sequence=manifest.sequence, bundle_id=verified.bundle_id, day=today
        )
    )
    session.flush()
    summary.counts = {
        "replies stored": len(to_store),
        "replies already here or for a deleted case": skipped,
        "acknowledged records deleted": deleted,
        "cases purged": purged,
        **ordered.counts(),
        **keyed.counts(),
        "deletions on the office's list kept": kept_deletions,
    }
    summary.notes += _held_note(manifest.extra)
    if card is not None:
        summary.counts["office key epoch"] = card[1].epoch
        if card[1].changed:
            summary.notes.append(
                f"new office keys (epoch {card[1].epoch}) applied: new reports are encrypted "
                "to them"
            )
    return summary


def _keep_deletions(
    session: Session, deletions: tuple[int, bytes] | None, today: datetime.date
) -> int:
    """Keep the office's list of deletions unless the one kept is longer: an inbox restored
    from an older backup sends its shorter list before it has read the longer one back."""
    if deletions is None:
        return 0
    entries, blob = deletions
    kept = session.get(DeletionListRow, 1)
    if kept is None:
        session.add(DeletionListRow(id=1, entries=entries, blob=blob, day=today))
    elif entries >= kept.entries:
        kept.entries, kept.blob, kept.day = entries, blob, today
    return max(entries, kept.entries if kept is not None else 0)


def _stored(session: Session, record_id: str) -> tuple[str, bytes] | None:
    row = session.get(Record, record_id)
    return None if row is None else (row.case_id, row.record_hash)


def _tombstoned(session: Session, record_id: str, case_id: str) -> bool:
    return (
        session.scalar(
            select(func.count())
            .select_from(Tombstone)
            .where(Tombstone.id.in_([record_id, case_id]))
        )
        or 0
    ) > 0


def _case_exists(session: Session, case_id: str) -> bool:
    return session.scalar(select(Login.case_id).where(Login.case_id == case_id)) is not None


def _delete_records(session: Session, ids: Sequence[str]) -> None:
    if ids:
        session.execute(delete(Chunk).where(Chunk.record_id.in_(ids)))
        session.execute(delete(Record).where(Record.id.in_(ids)))


def _acknowledge(session: Session, hashes: Sequence[str]) -> int:
    """Delete the submissions and follow-ups the office holds safely (replies are not acked)."""
    wanted = {bytes.fromhex(h) for h in hashes}
    if not wanted:
        return 0
    ids = list(
        session.scalars(
            select(Record.id).where(Record.record_hash.in_(wanted), Record.kind != RecordKind.REPLY)
        )
    )
    _delete_records(session, ids)
    return len(ids)


def _purge(session: Session, case_ids: Sequence[str], today: datetime.date) -> int:
    count = 0
    for case_id in dict.fromkeys(case_ids):
        # Login row first (the case's lock), then its records: store.purge_case.
        store.purge_case(session, bytes.fromhex(case_id))
        if session.get(Tombstone, case_id) is None:
            session.add(Tombstone(id=case_id, kind="case", day=today))
            count += 1
    session.flush()
    return count


def mark_replies_read(session: Session, record_ids: Sequence[str], today: datetime.date) -> None:
    """The source has seen these replies at check-in: their expiry clock starts today."""
    rows = session.scalars(
        select(Record).where(
            Record.id.in_(list(record_ids)),
            Record.kind == RecordKind.REPLY,
            Record.first_read.is_(None),
        )
    )
    for row in rows:
        row.first_read = today


@dataclass(frozen=True)
class HousekeepingReport:
    replies_expired: int
    challenges_removed: int


def housekeeping(
    session: Session, config: SubmitConfig, *, today: datetime.date, now_minute: int
) -> HousekeepingReport:
    """Expire replies (read + N days, or older than the maximum age); drop stale challenges."""
    read_limit = today - datetime.timedelta(days=config.reply_days_after_read)
    age_limit = today - datetime.timedelta(days=config.reply_max_age_days)
    replies = session.scalars(select(Record).where(Record.kind == RecordKind.REPLY)).all()
    expired = [
        r.id
        for r in replies
        if r.created <= age_limit or (r.first_read is not None and r.first_read <= read_limit)
    ]
    _delete_records(session, expired)
    for record_id in expired:
        session.add(Tombstone(id=record_id, kind="record", day=today))
    result = session.execute(delete(CourierChallenge).where(CourierChallenge.expires < now_minute))
    session.flush()
    return HousekeepingReport(len(expired), int(getattr(result, "rowcount", 0) or 0))
