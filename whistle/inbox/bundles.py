"""Bundles in the inbox: outbox bundles from the server in, replies bundles out.

    import_outbox    verify with the pinned server card and the office bundle key,
                     check the sequence (not newer: a no-op if it is the bundle
                     applied under that number, else refused), refuse a record id
                     held here with other content, skip tombstoned cases and
                     records, import the rest (``store.import_records``), queue an
                     acknowledgement for each record now held safely and a signed
                     refusal for each one it can never open (a poison record), and mark
                     outgoing rows the server confirmed — in the caller's one
                     transaction, after everything was verified
    export_replies   the pending replies, purge orders, acknowledgements, record
                     orders (refusals, removals) and case key announcements, signed by
                     the office key, sealed to the server card's bundle key

Acknowledgements are queued at import but leave only once a backup holds their record,
unless the office acknowledges on import (``outgoing.split_acks``, docs/threat-model.md §3.8); the
replies bundle says how many it holds back and why (manifest ``extra``). Case key announcements
(docs/protocol.md §17) are queued at export and wait for a backup by the same rule.
"""

import base64
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any, BinaryIO

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from whistle.bundling import (
    BundleContentError,
    BundleRefusedError,
    BundleSummary,
    Held,
    check_logged,
    deletions_extra,
    deletions_from_extra,
    held_records,
    last_logged,
    read_bundle_bytes,
)
from whistle.crypto import ServerCard, WrongKeyError
from whistle.crypto.bundles import BundleRecord, VerifiedBundle, record_hash_hex, write_bundle
from whistle.crypto.case_keys import MAX_GENERATION
from whistle.crypto.manifest import MAX_RECORDS
from whistle.crypto.orders import MAX_REASON_CHARS, RecordOrder
from whistle.epochs import CARD_FIELD, parse_report
from whistle.inbox import compartments, epochs, held_back
from whistle.inbox.audit import record_event
from whistle.inbox.case_announce import CASE_KEY, MAX_PER_BUNDLE, confirm_held, queue_case_keys
from whistle.inbox.deletions import reapply_server_copy, server_copy
from whistle.inbox.errors import DeletionListError
from whistle.inbox.keyring import OfficeKeyring
from whistle.inbox.models import Backup, BundleLog, KeyEpoch, Outgoing, Record, Tombstone
from whistle.inbox.office_setup import load_office, read_server_card
from whistle.inbox.outgoing import (
    HELD_FOR_BACKUP,
    ORDER_KINDS,
    ordered_earlier,
    orders_extra,
    pending,
    queue_ack,
    queue_order,
    split_pending,
)
from whistle.inbox.replies import note_delivery
from whistle.inbox.settings import (
    acknowledge_on_import,
    note_server_replies_applied,
    server_replies_applied,
)
from whistle.inbox.store import ImportReport, IncomingRecord, import_records

OUTBOX = "outbox"
REPLIES = "replies"
#: Replies manifest: the case key announcements (base64), docs/protocol.md §17.
CASE_KEYS_FIELD = "case_keys"
#: Outbox manifest: {record id: case key, 64 hex} of follow-ups sealed to a case key.
RECORD_CASE_KEYS_FIELD = "record_case_keys"
#: Outbox manifest: {case id: [generation, public key hex]} of the announcements the server
#: holds; they alone confirm announcements (absent: a server from before §17).
CASE_KEYS_HELD_FIELD = "case_keys_held"
MAX_BUNDLE_BYTES = 4 * 1024 * 1024 * 1024
_RECORD_ID = re.compile(r"[0-9a-f]{32}")
_PUBLIC_KEY = re.compile(r"[0-9a-f]{64}")


class NoServerPinnedError(BundleRefusedError):
    """No server card is pinned yet: ``whistle inbox trust-server`` first."""


class NoBundleKeyError(BundleRefusedError):
    """No live epoch holds a bundle key this inbox can use (sign in once first)."""


def pinned_server(session: Session) -> ServerCard:
    office = load_office(session)
    if office.server_card is None:
        raise NoServerPinnedError(
            "No server is trusted yet: pin its card with `whistle inbox trust-server`."
        )
    return read_server_card(office.server_card)


def _last(session: Session, direction: str) -> BundleLog | None:
    return last_logged(session, BundleLog, direction)


def verify_outbox(session: Session, keyring: OfficeKeyring, data: bytes) -> VerifiedBundle:
    """Verify with the pinned server key; opened with the newest live epoch's bundle key
    that it is sealed to (a server that has not applied a rotation yet uses the older)."""
    server = pinned_server(session)
    live = epochs.live_keys(session, keyring)
    for index, keys in enumerate(live):
        try:
            return read_bundle_bytes(
                data,
                max_bytes=MAX_BUNDLE_BYTES,
                bundle_secret_key=keys.bundle_secret,
                signer_public_key=server.signing_key,
                install_id=server.install_id,
                direction=OUTBOX,
            )
        except BundleRefusedError as exc:
            if not isinstance(exc.__cause__, WrongKeyError) or index == len(live) - 1:
                raise
    raise NoBundleKeyError("this inbox holds no live bundle key (sign in once first)")


class CaseKeyFieldError(BundleContentError):
    """The outbox manifest's ``record_case_keys`` is not {record id: public key in hex}."""


def record_case_keys(extra: dict[str, Any]) -> dict[str, bytes]:
    """The case key (public, 32 bytes) each follow-up of an outbox bundle was sealed to
    (absent: none was, a server from before case keys). Checked whole before anything is
    written."""
    raw = extra.get(RECORD_CASE_KEYS_FIELD, {})
    if not isinstance(raw, dict) or len(raw) > MAX_RECORDS:
        raise CaseKeyFieldError("the follow-ups' case keys are not an object")
    for record_id, key in raw.items():
        if not isinstance(record_id, str) or not _RECORD_ID.fullmatch(record_id):
            raise CaseKeyFieldError("a case key is not keyed by record id")
        if not isinstance(key, str) or not _PUBLIC_KEY.fullmatch(key):
            raise CaseKeyFieldError("a follow-up's case key is not 64 lower-case hex characters")
    return {record_id: bytes.fromhex(key) for record_id, key in raw.items()}


class CaseKeysHeldError(BundleContentError):
    """The outbox manifest's ``case_keys_held`` is not {case id: [generation, key hex]}."""


def case_keys_held(extra: dict[str, Any]) -> dict[str, tuple[int, bytes]] | None:
    """The announcement (generation, public key) the server holds for each case, or None
    from a server from before §17 (whose confirmation says nothing about case keys).
    Checked whole before anything is written."""
    if CASE_KEYS_HELD_FIELD not in extra:
        return None
    raw = extra[CASE_KEYS_HELD_FIELD]
    if not isinstance(raw, dict):
        raise CaseKeysHeldError("the case keys the server holds are not an object")
    held: dict[str, tuple[int, bytes]] = {}
    for case_id, value in raw.items():
        if not isinstance(case_id, str) or not _RECORD_ID.fullmatch(case_id):
            raise CaseKeysHeldError("a case key the server holds is not keyed by case id")
        if not isinstance(value, list) or len(value) != 2:
            raise CaseKeysHeldError("a case key the server holds is not [generation, key]")
        generation, key = value
        if (
            not isinstance(generation, int)
            or isinstance(generation, bool)
            or not 1 <= generation <= MAX_GENERATION
        ):
            raise CaseKeysHeldError("a case key generation the server holds is out of range")
        if not isinstance(key, str) or not _PUBLIC_KEY.fullmatch(key):
            raise CaseKeysHeldError(
                "a case key the server holds is not 64 lower-case hex characters"
            )
        held[case_id] = (generation, bytes.fromhex(key))
    return held


def _summary(verified: VerifiedBundle) -> BundleSummary:
    m = verified.manifest
    return BundleSummary(m.direction, m.sequence, verified.bundle_id, m.created)


def preview_outbox(session: Session, keyring: OfficeKeyring, data: bytes) -> BundleSummary:
    """What the bundle holds and what importing it would do; changes nothing."""
    verified = verify_outbox(session, keyring, data)
    record_case_keys(verified.manifest.extra)  # refused at preview as at import
    case_keys_held(verified.manifest.extra)
    summary = _summary(verified)
    check = check_logged(session, BundleLog, OUTBOX, verified)
    summary.already_applied = not check.apply
    summary.missed = check.missed
    summary.chain_note = check.chain_note
    new = sum(1 for r in verified.records if session.get(Record, r.id) is None)
    summary.counts = {
        "submissions": sum(1 for r in verified.records if r.kind == "submission"),
        "follow-ups": sum(1 for r in verified.records if r.kind == "followup"),
        "not yet in this inbox": new,
    }
    return summary


def import_outbox(
    session: Session,
    keyring: OfficeKeyring,
    data: bytes,
    *,
    store_dir: Path,
    now: datetime,
    officer_id: int | None = None,
) -> BundleSummary:
    """Verify, then apply an outbox bundle inside the caller's transaction."""
    verified = verify_outbox(session, keyring, data)
    manifest = verified.manifest
    case_keys = record_case_keys(manifest.extra)
    held_keys = case_keys_held(manifest.extra)
    check = check_logged(session, BundleLog, OUTBOX, verified)
    summary = _summary(verified)
    summary.missed = check.missed
    summary.chain_note = check.chain_note
    if not check.apply:
        summary.already_applied = True
        if manifest.sequence == check.last:
            # The server's latest bundle again (it re-exports it while it has nothing new):
            # days have passed on this inbox's clock, which may now let old keys go.
            destroyed = epochs.after_outbox(
                session,
                parse_report(manifest.extra),
                now,
                officer_id,
                chained=_chained(session, manifest.sequence),
            )
            _note_destroyed(summary, destroyed)
        return summary
    if check.chain_note is not None:
        # Shown to officers in the audit log too, not only in this import's summary (L5).
        record_event(
            session,
            now,
            "bundle-chain",
            officer_id=officer_id,
            detail=f"outbox bundle no. {manifest.sequence}: {check.chain_note}"[:500],
        )
    report = parse_report(manifest.extra)
    # Before the records: a case deleted after this inbox's backup gets its tombstone back
    # first, so its records in this bundle are skipped, not imported again.
    made_again, list_note = _server_deletions(session, keyring, manifest.extra, store_dir, now)
    applied = _apply_records(
        session,
        keyring,
        verified.records,
        {r.id: report.records.get(r.id) for r in verified.records} if report is not None else {},
        case_keys,
        store_dir=store_dir,
        now=now,
        officer_id=officer_id,
    )
    imported = applied.imported
    seen = note_replies_seen(session, manifest.extra.get("replies_seen"))
    resent = _resend_forgotten(session, manifest.extra.get("replies_applied"))
    confirmed = _confirm(session, manifest.extra.get("replies_applied"), now)
    above = [] if held_keys is None else confirm_held(session, held_keys, now=now)
    note_server_replies_applied(session, manifest.extra.get("replies_applied"))
    session.add(
        BundleLog(
            direction=OUTBOX,
            sequence=manifest.sequence,
            bundle_id=verified.bundle_id,
            previous=manifest.previous,
            at=now.replace(tzinfo=None),
        )
    )
    session.flush()
    summary.counts = applied.counts() | {
        "replies the server confirmed": confirmed,
        "replies delivered or read since": seen,
    }
    if above:
        summary.note(
            "case-keys-above-server",
            "the server holds case keys this inbox does not (restored from an older backup?): "
            f"{len(above)} case(s) get a new key, sent to the server once a backup holds it "
            "(make a backup, then export again)",
            n=len(above),
        )
    if made_again:
        summary.counts["deletions made again (from the server's copy of the list)"] = made_again
    for rid, reason in imported.refused:
        summary.note("refused", f"refused {rid}: {reason}", record=rid)
    note_waiting(session, summary)
    if list_note:
        summary.note(
            "deletion-list-refused", f"the server's copy of the list of deletions: {list_note}"
        )
    if resent:
        summary.note(
            "resent",
            f"the server no longer has {resent} item(s) it had confirmed (restored from an "
            "older backup?): they go again with the next replies bundle",
            n=resent,
        )
    destroyed = epochs.after_outbox(session, report, now, officer_id, chained=check.chain.unbroken)
    if report is not None:
        summary.counts["server's office key epoch"] = report.current
        for epoch, count in sorted(report.pending.items()):
            summary.note(
                "pending",
                f"key epoch {epoch}: {count} record(s) still on the server",
                epoch=epoch,
                n=count,
            )
    _note_destroyed(summary, destroyed)
    return summary


@dataclass
class Applied:
    """What applying a bundle's records (or the held-back ones) did."""

    imported: ImportReport
    skipped: int = 0
    refused_earlier: int = 0
    refusals: int = 0
    acked: int = 0

    def counts(self) -> dict[str, int]:
        return {
            "records imported": len(self.imported.imported),
            "already here": len(self.imported.already_present),
            "held back for another desk": len(self.imported.held),
            "refused (see the audit log)": len(self.imported.refused),
            "purged earlier, skipped": self.skipped,
            "refusals queued": self.refusals,
            "refused earlier, skipped": self.refused_earlier,
            "acknowledgements queued": self.acked,
        }


def _apply_records(
    session: Session,
    keyring: OfficeKeyring,
    records: Sequence[BundleRecord],
    record_epochs: dict[str, int | None],
    case_keys: Mapping[str, bytes | None],
    *,
    store_dir: Path,
    now: datetime,
    officer_id: int | None,
) -> Applied:
    """Import what is new, skip what was purged or refused, queue a refusal for what nobody
    here can ever open and an acknowledgement for what is now filed here. Records for desks
    the importer is not in are held back (``held_back.py``): not acknowledged."""
    checked = held_records(
        records,
        stored=lambda record_id: _stored(session, record_id),
        tombstoned=lambda record: _refused_earlier(session, record) or _purged(session, record),
    )
    # Records already here go to import_records too: it reports them as such, and their
    # acknowledgement is queued again if it was lost.
    incoming: list[IncomingRecord] = []
    applied = Applied(ImportReport())
    for record, h in checked:
        if h is Held.TOMBSTONED:
            # A held-back record of a case deleted since (or refused) waits no longer.
            held_back.release(session, record.id)
            if _refused_earlier(session, record):
                applied.refused_earlier += 1  # the order is on its way: not refused again
            else:
                applied.skipped += 1
            continue
        incoming.append(
            IncomingRecord(
                record.kind,
                record.id,
                record.case,
                date.fromisoformat(record.day),
                record.envelope,
                record_epochs.get(record.id),
                case_keys.get(record.id) if record.kind == "followup" else None,
            )
        )
    applied.imported = import_records(
        session, keyring, incoming, store_dir=store_dir, now=now, officer_id=officer_id
    )
    applied.refusals = _refuse(session, keyring, records, applied.imported, now)
    for record_id in applied.imported.unopenable:
        if _ordered(session, record_id):  # refused to the server for good: it waits no more
            held_back.release(session, record_id)
    filed = set(applied.imported.imported) | set(applied.imported.already_present)
    queued = set(
        session.scalars(
            select(Outgoing.record_id).where(
                Outgoing.kind == "ack", Outgoing.record_id.in_(list(filed))
            )
        )
    )
    for record in records:
        if record.id in filed and record.id not in queued:
            queue_ack(
                session,
                case_id=record.case,
                record_id=record.id,
                original_hash=bytes.fromhex(record_hash_hex(record.envelope)),
                now=now,
            )
            applied.acked += 1
    return applied


def file_held_back(
    session: Session,
    keyring: OfficeKeyring,
    *,
    store_dir: Path,
    now: datetime,
    officer_id: int | None = None,
) -> Applied | None:
    """File the held-back records ``keyring`` opens (a member of their desk signed in), as
    an import would: acknowledged from now on, refused only once every desk's keys failed.
    None when nothing waits. The caller commits."""
    if not held_back.count(session):
        return None
    # Only the envelopes its keys may open are read (a sign-in runs this).
    mine = compartments.open_desks(session, keyring).desk_ids()
    rows = held_back.rows(session, only=held_back.for_desks(session, mine))
    if not rows:
        return Applied(ImportReport())
    records = [
        BundleRecord(r.record_id, r.kind, r.case_id, r.received_day.isoformat(), r.envelope)
        for r in rows
    ]
    applied = _apply_records(
        session,
        keyring,
        records,
        {r.record_id: r.epoch for r in rows},
        {r.record_id: r.case_key for r in rows},
        store_dir=store_dir,
        now=now,
        officer_id=officer_id,
    )
    if applied.imported.imported:
        record_event(
            session,
            now,
            "held-records-filed",
            officer_id=officer_id,
            detail=f"{len(applied.imported.imported)} record(s)",
        )
    return applied


def note_waiting(session: Session, summary: BundleSummary) -> None:
    """What is held back for other desks, in the summary (``held_back.py``)."""
    for group in held_back.waiting(session):
        summary.note(
            "waiting",
            group.line(),
            desks=", ".join(group.desks),
            several=len(group.desks) != 1,
            reports=group.reports,
            followups=group.followups,
        )


def _note_destroyed(summary: BundleSummary, destroyed: list[int]) -> None:
    for epoch in destroyed:
        summary.note(
            "destroyed",
            f"desk keys of epoch {epoch} destroyed: everything sent to them is collected",
            epoch=epoch,
        )


def _chained(session: Session, sequence: int) -> bool:
    """Whether the outbox bundle applied here as ``sequence`` named the one applied before it
    as its ``previous`` (or was the first and named none)."""
    row = session.scalar(
        select(BundleLog).where(BundleLog.direction == OUTBOX, BundleLog.sequence == sequence)
    )
    before = session.scalar(
        select(BundleLog.bundle_id)
        .where(BundleLog.direction == OUTBOX, BundleLog.sequence < sequence)
        .order_by(BundleLog.sequence.desc())
        .limit(1)
    )
    return row is not None and row.previous == before


def _server_deletions(
    session: Session,
    keyring: OfficeKeyring,
    extra: dict[str, Any],
    store_dir: Path,
    now: datetime,
) -> tuple[int, str | None]:
    """Apply the server's copy of the list of deletions; a copy that is not this office's is
    reported and logged, and the bundle's records still come in."""
    copy = deletions_from_extra(extra)
    if copy is None:
        return 0, None
    try:
        return reapply_server_copy(session, keyring, copy[1], now=now, store_dir=store_dir), None
    except DeletionListError as exc:
        record_event(session, now, "deletion-list-refused", detail=str(exc)[:200])
        return 0, str(exc)


def note_replies_seen(session: Session, seen: object) -> int:
    """Apply the server's ``replies_seen`` ({id: [stored day, first read day]}) to our
    replies; malformed entries are ignored (an older server sends none)."""
    if not isinstance(seen, dict):
        return 0
    changed = 0
    for record_id, days in seen.items():
        if not isinstance(record_id, str) or not isinstance(days, list) or len(days) != 2:
            continue
        try:
            delivered, read = (date.fromisoformat(d) if isinstance(d, str) else None for d in days)
        except ValueError:
            continue
        changed += note_delivery(session, record_id, delivered=delivered, read=read)
    return changed


def _refuse(
    session: Session,
    keyring: OfficeKeyring,
    records: Sequence[BundleRecord],
    imported: ImportReport,
    now: datetime,
) -> int:
    """Queue a signed refusal for each record this inbox can never open (a poison record):
    the server deletes it, stops sending it, and stops counting it (docs/bundles.md)."""
    unopenable = imported.unopenable
    if not unopenable:
        return 0
    install_id = pinned_server(session).install_id
    why = dict(imported.refused)
    by_id = {r.id: r for r in records}
    # A case with a record refused for a passing reason (keys missing here) may be whole
    # next time: none of its records is refused for good now (its follow-ups would be
    # "for a case this inbox does not have" only because its report did not import).
    waiting = {by_id[rid].case for rid in why if rid in by_id and rid not in unopenable}
    # A record whose case is not here is refused for good only with its report: alone, it
    # may be genuine (its report collected by an inbox since restored from an older backup,
    # or withheld by the server), and a refusal would have the server delete it.
    orphans = set(imported.orphans)
    refused_reports = {
        by_id[rid].case
        for rid in unopenable
        if rid not in orphans and by_id[rid].kind == "submission"
    }
    unopenable = [
        rid for rid in unopenable if rid not in orphans or by_id[rid].case in refused_reports
    ]
    queued = 0
    for record_id in unopenable:
        record = by_id[record_id]
        if record.case in waiting:
            continue
        reason = "".join(c for c in why.get(record_id, "") if c.isprintable())
        order = RecordOrder(
            kind="refusal",
            install_id=install_id,
            record_id=record.id,
            case_id=record.case,
            record_hash=record_hash_hex(record.envelope),
            reason=reason[:MAX_REASON_CHARS],
            record_kind=record.kind,
        )
        queued += queue_order(session, keyring, order, now=now)
    return queued


def _stored(session: Session, record_id: str) -> tuple[str, bytes] | None:
    row = session.get(Record, record_id)
    return None if row is None else (row.case_id, row.original_hash)


def _ordered(session: Session, record_id: str) -> bool:
    tombstone = session.get(Tombstone, record_id)
    return tombstone is not None and tombstone.kind in ORDER_KINDS


def _refused_earlier(session: Session, record: BundleRecord) -> bool:
    """This very record (id, case and hash) was refused or ordered removed here already."""
    return _ordered(session, record.id) and ordered_earlier(
        session, record.id, record.case, record_hash_hex(record.envelope)
    )


def _purged(session: Session, record: BundleRecord) -> bool:
    """Its case was purged, or the record itself (an order tombstone that names other content
    leaves the record to be looked at again: only its case's tombstone counts then)."""
    ids = [record.case] if _ordered(session, record.id) else [record.id, record.case]
    return _tombstoned(session, ids)


def _tombstoned(session: Session, ids: list[str]) -> bool:
    found = session.scalar(select(func.count()).select_from(Tombstone).where(Tombstone.id.in_(ids)))
    return bool(found)


def _confirm(session: Session, replies_applied: object, now: datetime) -> int:
    """Outgoing rows carried by a replies bundle the server says it applied. Not case key
    announcements: only what the server says it holds confirms them (``confirm_held``) —
    a server that applied the bundle before its upgrade to §17 ignored them."""
    if not isinstance(replies_applied, int) or isinstance(replies_applied, bool):
        return 0
    rows = session.scalars(
        select(Outgoing).where(
            Outgoing.kind != CASE_KEY,
            Outgoing.confirmed.is_(None),
            Outgoing.bundle_sequence.is_not(None),
            Outgoing.bundle_sequence <= replies_applied,
        )
    ).all()
    for row in rows:
        row.confirmed = now.replace(tzinfo=None)
    return sum(1 for r in rows if r.kind == "reply")


def _resend_forgotten(session: Session, replies_applied: object) -> int:
    """Rows the server confirmed in replies bundles it no longer remembers applying.

    A newer outbox naming a lower ``replies_applied`` than bundles already confirmed means
    the server was restored from an older backup: the replies, acknowledgements and purge
    orders of those bundles are pending again (applying them twice is harmless there).
    """
    if not isinstance(replies_applied, int) or isinstance(replies_applied, bool):
        return 0
    rows = session.scalars(
        select(Outgoing).where(
            Outgoing.kind != CASE_KEY,  # confirm_held says what the server holds
            Outgoing.confirmed.is_not(None),
            Outgoing.bundle_sequence > replies_applied,
        )
    ).all()
    for row in rows:
        row.confirmed = None
        row.bundle_sequence = None
    return len(rows)


def export_replies(
    session: Session, keyring: OfficeKeyring, out: BinaryIO, *, now: datetime
) -> BundleSummary:
    """Write a replies bundle with everything still pending (commit once ``out`` is safe).

    Rows the server has not confirmed travel again: applying is idempotent there.
    """
    server = pinned_server(session)
    queue_case_keys(session, keyring, now=now)
    rows, held, held_keys = split_pending(session, pending(session))
    announcements = [r for r in rows if r.kind == CASE_KEY]
    case_keys = announcements[:MAX_PER_BUNDLE]
    later = {r.id for r in announcements[MAX_PER_BUNDLE:]}
    rows = [r for r in rows if r.id not in later]
    replies = [r for r in rows if r.kind == "reply"]
    acks = [r for r in rows if r.kind == "ack"]
    purges = [r for r in rows if r.kind == "purge"]
    orders = [r for r in rows if r.kind in ORDER_KINDS]
    last = _last(session, REPLIES)
    # Above what the server applied too: an inbox restored from a backup does not remember
    # the replies bundles it wrote after that backup, and their numbers are taken.
    sequence = max(last.sequence if last else 0, server_replies_applied(session)) + 1
    outbox = _last(session, OUTBOX)
    announced = announced_epoch(session)
    verified = write_bundle(
        out,
        records=[
            BundleRecord(
                r.record_id or "", "reply", r.case_id, r.created.date().isoformat(), r.envelope
            )
            for r in replies
        ],
        signing_seed=keyring.signing_seed,
        recipient_bundle_key=server.bundle_key,
        install_id=server.install_id,
        direction=REPLIES,
        sequence=sequence,
        previous=last.bundle_id if last else None,
        created=now.date().isoformat(),
        extra={
            "acknowledged": sorted({r.envelope.hex() for r in acks}),
            "purged": sorted({r.case_id for r in purges}),
            "outbox_applied": outbox.sequence if outbox else 0,
            **orders_extra(orders),
            **(
                {CASE_KEYS_FIELD: sorted(base64.b64encode(r.envelope).decode() for r in case_keys)}
                if case_keys
                else {}
            ),
            **(
                {"acknowledgements_held": len(held), "acknowledgements_held_why": HELD_FOR_BACKUP}
                if held
                else {}
            ),
            # The newest card a backup holds, every time: the server applies it once (a
            # rotation) and then finds it the same; a server restored from an old backup
            # catches up.
            CARD_FIELD: announced.card.decode("utf-8"),
            # The server keeps it for an inbox restored from an older backup (deletions.py).
            **deletions_extra(*server_copy(session, keyring)),
        },
    )
    for row in rows:
        row.bundle_sequence = sequence
    session.add(
        BundleLog(
            direction=REPLIES,
            sequence=sequence,
            bundle_id=verified.bundle_id,
            previous=last.bundle_id if last else None,
            at=now.replace(tzinfo=None),
        )
    )
    session.flush()
    summary = _summary(verified)
    summary.counts = {
        "replies": len(replies),
        "acknowledgements": len(acks),
        "purge orders": len(purges),
    }
    for kind in ORDER_KINDS:
        count = sum(1 for r in orders if r.kind == kind)
        if count:
            summary.counts[f"record {kind}s"] = count
    if case_keys:
        summary.counts["case keys announced"] = len(case_keys)
    if later:
        summary.counts["case keys left for the next bundle"] = len(later)
    if held_keys:
        summary.counts["case keys held back until a backup"] = len(held_keys)
        summary.note(
            "case-keys-held",
            f"{len(held_keys)} new case key(s) held back: the server keeps sealing those cases' "
            "follow-ups as before until a backup made after the keys were created holds them "
            "(make a backup, then export again)",
            n=len(held_keys),
        )
    if held:
        summary.counts["acknowledgements held back until a backup"] = len(held)
        summary.note(
            "held",
            f"{len(held)} acknowledgement(s) held back: the server keeps those reports until "
            "a backup made after their import holds them (make a backup, then export again)",
            n=len(held),
        )
    current = epochs.current_row(session)
    if announced.epoch != current.epoch:
        summary.note(
            "keys-wait",
            f"the new keys (epoch {current.epoch}) wait for a backup: until one holds them the "
            f"server keeps encrypting to epoch {announced.epoch} (make a backup, then export)",
            new=current.epoch,
            old=announced.epoch,
        )
    return summary


def announced_epoch(session: Session) -> KeyEpoch:
    """The key epoch replies bundles announce to the server: the newest one a backup holds.

    New keys exist only in this inbox's database until a backup holds them; were the laptop
    lost before that, a server already encrypting to them would send reports nobody can
    open. So a rotation waits for a backup, like the acknowledgements — unless the office
    acknowledges on import (it chose not to wait for backups). Never older than an epoch the
    server has already confirmed (it would refuse that as a replayed rotation).
    """
    current = epochs.current_row(session)
    if acknowledge_on_import(session):
        return current
    last_backup = session.scalar(select(func.max(Backup.made_at)))
    held = select(KeyEpoch).order_by(KeyEpoch.epoch.desc()).limit(1)
    backed_up = (
        session.scalar(held.where(KeyEpoch.created_at <= last_backup))
        if last_backup is not None
        else None
    )
    confirmed = session.scalar(held.where(KeyEpoch.confirmed_at.is_not(None)))
    oldest = session.scalar(select(KeyEpoch).order_by(KeyEpoch.epoch).limit(1))
    candidates = [row for row in (backed_up, confirmed, oldest) if row is not None]
    return max(candidates, key=lambda row: row.epoch, default=current)
