"""Key epochs in the inbox: desk and bundle keys that rotate, and are destroyed once collected.

Every officer's keyring (and the recovery keyring) holds the office storage secret
key and signing seed, nothing else (keyring version 2). The desk and bundle secret
keys of each epoch live in the database (``desk_key``, ``key_epoch``): the bundle key
sealed to the storage public key (whoever imports opens the bundle), each desk's key
granted to that desk's compartment key (``wire/<desk>/<epoch>``), so only its members
and the recovery key open the records in transit to it — in an office from before
desks, sealed to the storage key until ``seal_wire_keys`` moves it. An officer who
rotates writes the new ones once and every member opens them with their own keyring;
destroying an epoch's keys is one update for everybody.

    rotate          new desk and bundle key pairs, a new card (epoch + 1) signed by
                    the office signing key (same fingerprint); every replies bundle
                    carries the current card to the server
    after_outbox    an outbox bundle reports, per epoch, what the server still holds
                    and which epochs it still accepts; an older epoch with nothing
                    pending and nothing more to come is collected — on evidence this
                    inbox holds itself (below) — and its desk and bundle secrets are
                    destroyed (set to NULL with SQLite's ``secure_delete`` on, the WAL
                    truncated) and the audit log says so
    confirm_destroy a manager's recorded confirmation destroys an older epoch's keys now
    adopt_legacy    a version 1 keyring (desks inside) signs in: its keys move here
    seal_wire_keys  desk keys still sealed to the storage key move into their desks'
                    compartments (the first sign-in after ``desks migrate``)

Cases already imported stay readable: at import every record is re-encrypted under
its case key (``store.py``), which does not rotate with the epochs.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from whistle.crypto import (
    CryptoError,
    Desk,
    OfficeCard,
    box_keypair_from_secret,
    generate_box_keypair,
    make_office_card,
    open_grant,
    read_card,
    seal_grant,
)
from whistle.epochs import EpochReport
from whistle.inbox import sealing
from whistle.inbox.audit import record_event
from whistle.inbox.errors import InboxError
from whistle.inbox.keyring import OfficeKeyring
from whistle.inbox.models import (
    AuditEvent,
    Compartment,
    DeskKey,
    HeldRecord,
    KeyEpoch,
    KeyPolicy,
    Office,
)

#: Record type of a sealed epoch secret (associated data, with the all-zero case id).
SEALED_KEY = "epoch-key"
#: Days on this inbox's own clock from when it first saw the server encrypt to a newer epoch
#: (``confirmed_at``, from a bundle it imported) to when an older epoch's keys may go: the
#: server applied the new card by then, and accepts the previous epoch for at most three days
#: after applying it (one of acceptance, two for uploads on their way). Review finding L5: the
#: server's word that it "accepts nothing more" is not enough to destroy keys.
DESTROY_AFTER_DAYS = 3
MAX_REMINDER_DAYS = 3650


class KeysMissingError(InboxError):
    """The database holds no desk keys yet (an office from before key epochs)."""


class KeyEpochError(InboxError):
    """A key epoch's keys cannot be used: destroyed, damaged, or not this office's."""


@dataclass(frozen=True, repr=False)
class EpochKeys:
    """The secret keys of one live epoch, opened for one operation."""

    epoch: int
    desks: dict[str, bytes]
    bundle_secret: bytes

    def __repr__(self) -> str:
        return f"EpochKeys(epoch={self.epoch}, desks={sorted(self.desks)})"


@dataclass(frozen=True)
class EpochStatus:
    epoch: int
    created_at: datetime
    confirmed_at: datetime | None
    destroyed_at: datetime | None
    desks: tuple[str, ...]
    current: bool


# --- sealing -------------------------------------------------------------------------------


def _seal(storage_public: bytes, epoch: int, name: str, secret: bytes) -> bytes:
    body = {"epoch": epoch, "name": name, "secret": secret.hex()}
    return sealing.seal_json(storage_public, SEALED_KEY, sealing.NO_CASE, body)


def wire_context(desk_id: str, epoch: int) -> str:
    """What a desk's key of one epoch is granted for (to the desk's compartment key)."""
    return f"wire/{desk_id}/{epoch}"


#: desk id → (generation, public key) of its newest compartment key; None: no compartments.
Holders = dict[str, tuple[int, bytes]] | None


def _holders(session: Session) -> Holders:
    office = session.get(Office, 1)
    if office is None or office.compartments_at is None:
        return None
    newest: dict[str, tuple[int, bytes]] = {}
    for row in session.scalars(select(Compartment).order_by(Compartment.generation)):
        newest[row.desk_id] = (row.generation, row.public_key)
    return newest


def _seal_desk(
    holders: Holders, storage_public: bytes, epoch: int, desk_id: str, secret: bytes
) -> tuple[bytes, int | None]:
    """A desk's secret of one epoch, sealed for its desk: (blob, compartment generation)."""
    if holders is None:
        return _seal(storage_public, epoch, f"desk/{desk_id}", secret), None
    holder = holders.get(desk_id)
    if holder is None:
        raise KeyEpochError(f"The desk {desk_id!r} has no compartment key to hold its keys.")
    generation, public = holder
    return seal_grant(secret, public, wire_context(desk_id, epoch)), generation


def _open(keyring: OfficeKeyring, blob: bytes, epoch: int, name: str, public: bytes) -> bytes:
    """A sealed secret, checked: bound to its epoch and name, matching its public key."""
    try:
        body = sealing.open_json(keyring.storage_secret, SEALED_KEY, sealing.NO_CASE, blob)
        secret = bytes.fromhex(body["secret"])
        ok = body.get("epoch") == epoch and body.get("name") == name and len(secret) == 32
    except (CryptoError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise KeyEpochError(f"The keys of epoch {epoch} cannot be opened: damaged.") from exc
    if not ok or box_keypair_from_secret(secret).public_key != public:
        raise KeyEpochError(f"The stored key {name!r} of epoch {epoch} does not match its card.")
    return secret


# --- reading ---------------------------------------------------------------------------------


def _card(row: KeyEpoch) -> OfficeCard:
    card = read_card(row.card)
    if not isinstance(card, OfficeCard):
        raise KeyEpochError(f"The card of epoch {row.epoch} is not an office card.")
    return card


def current_row(session: Session) -> KeyEpoch:
    row = session.scalar(select(KeyEpoch).order_by(KeyEpoch.epoch.desc()).limit(1))
    if row is None:
        raise KeysMissingError(
            "This office's desk keys are still inside the officers' keyrings (an office "
            "made before key epochs): sign in once to move them."
        )
    return row


def current_card(session: Session) -> OfficeCard:
    return _card(current_row(session))


def card_before(session: Session, epoch: int) -> OfficeCard | None:
    """The newest card older than ``epoch`` (a card stays when its epoch's keys go)."""
    row = session.scalar(
        select(KeyEpoch).where(KeyEpoch.epoch < epoch).order_by(KeyEpoch.epoch.desc()).limit(1)
    )
    return _card(row) if row is not None else None


def current_epoch(session: Session) -> int:
    return current_row(session).epoch


def desk_public_key(session: Session, desk_id: str) -> bytes:
    """The current epoch's public key of a desk (replies are sealed to it for the office)."""
    row = session.get(DeskKey, (current_epoch(session), desk_id))
    if row is None:
        raise KeyEpochError(f"The current key epoch has no desk {desk_id!r}.")
    return row.public_key


def desk_ids(session: Session) -> list[str]:
    return sorted(set(session.scalars(select(DeskKey.desk_id))))


def _open_desk(
    keyring: OfficeKeyring, row: DeskKey, compartments: Mapping[tuple[str, int], bytes]
) -> bytes | None:
    """A desk's secret of one epoch, if ``keyring`` (through ``compartments``, the desk
    compartment keys it opens) holds it; None when it is another desk's."""
    if row.sealed_secret is None:
        return None
    if row.generation is None:
        return _open(keyring, row.sealed_secret, row.epoch, f"desk/{row.desk_id}", row.public_key)
    holder = compartments.get((row.desk_id, row.generation))
    if holder is None:
        return None
    try:
        return open_grant(
            row.sealed_secret, holder, wire_context(row.desk_id, row.epoch), row.public_key
        )
    except CryptoError as exc:
        raise KeyEpochError(
            f"The key of desk {row.desk_id!r} in epoch {row.epoch} cannot be opened: damaged."
        ) from exc


def live_keys(
    session: Session,
    keyring: OfficeKeyring,
    compartments: Mapping[tuple[str, int], bytes] | None = None,
) -> list[EpochKeys]:
    """Every epoch whose keys are not destroyed, newest first, opened with ``keyring``: the
    bundle key, and the keys of the desks whose compartment keys (``compartments``,
    ``compartments.open_desks``) it holds — without them, only desk keys still sealed to
    the storage key (an office from before desks)."""
    rows = session.scalars(
        select(KeyEpoch).where(KeyEpoch.destroyed_at.is_(None)).order_by(KeyEpoch.epoch.desc())
    ).all()
    found = []
    for row in rows:
        if row.bundle_secret is None:
            continue
        desks = {}
        for d in session.scalars(select(DeskKey).where(DeskKey.epoch == row.epoch)):
            secret = _open_desk(keyring, d, compartments or {})
            if secret is not None:
                desks[d.desk_id] = secret
        bundle = _open(keyring, row.bundle_secret, row.epoch, "bundle", row.bundle_public)
        found.append(EpochKeys(row.epoch, desks, bundle))
    return found


def live_desks(session: Session) -> set[str]:
    """The desks that have a live key of some epoch (records in transit may be for any)."""
    return set(
        session.scalars(
            select(DeskKey.desk_id)
            .join(KeyEpoch, KeyEpoch.epoch == DeskKey.epoch)
            .where(KeyEpoch.destroyed_at.is_(None), DeskKey.sealed_secret.is_not(None))
        )
    )


def seal_wire_keys(session: Session, keyring: OfficeKeyring, now: datetime) -> int:
    """Desk keys still sealed to the storage key go to their desks' compartment keys (an
    office moved into desks; the move needs the storage secret, so it happens at the first
    sign-in after it, or in ``desks migrate``). The storage-key copy is overwritten in the
    same row. Returns how many moved."""
    holders = _holders(session)
    if holders is None:
        return 0
    rows = session.scalars(
        select(DeskKey).where(DeskKey.generation.is_(None), DeskKey.sealed_secret.is_not(None))
    ).all()
    moved = 0
    for row in rows:
        secret = _open_desk(keyring, row, {})
        if secret is None or row.desk_id not in holders:
            continue  # a desk without a compartment has no members to hand it to: it stays
        moved += 1
        row.sealed_secret, row.generation = _seal_desk(
            holders, keyring.storage_public, row.epoch, row.desk_id, secret
        )
    if moved:
        session.flush()
        record_event(
            session,
            now,
            "wire-keys-sealed-to-desks",
            detail=f"{moved} desk key(s) of live epochs: storage-key copies replaced",
        )
    return moved


def is_destroyed(session: Session, epoch: int) -> bool:
    row = session.get(KeyEpoch, epoch)
    return row is not None and row.destroyed_at is not None


def status(session: Session) -> list[EpochStatus]:
    rows = session.scalars(select(KeyEpoch).order_by(KeyEpoch.epoch)).all()
    newest = rows[-1].epoch if rows else 0
    return [
        EpochStatus(
            r.epoch,
            r.created_at,
            r.confirmed_at,
            r.destroyed_at,
            tuple(session.scalars(select(DeskKey.desk_id).where(DeskKey.epoch == r.epoch))),
            r.epoch == newest,
        )
        for r in rows
    ]


# --- writing ---------------------------------------------------------------------------------


def install_epoch(
    session: Session,
    keyring: OfficeKeyring,
    card_bytes: bytes,
    desk_secrets: dict[str, bytes],
    bundle_secret: bytes,
    now: datetime,
) -> KeyEpoch:
    """Store an epoch's card and its secrets: the bundle key sealed to the storage key, each
    desk's to its compartment key (caller commits)."""
    card = read_card(card_bytes)
    if not isinstance(card, OfficeCard):
        raise KeyEpochError("Not an office card.")
    bundle_public = box_keypair_from_secret(bundle_secret).public_key
    if bundle_public != card.bundle_key:
        raise KeyEpochError("The bundle key does not match the card.")
    storage_public = keyring.storage_public
    holders = _holders(session)
    row = KeyEpoch(
        epoch=card.epoch,
        card=card_bytes,
        bundle_public=bundle_public,
        bundle_secret=_seal(storage_public, card.epoch, "bundle", bundle_secret),
        created_at=now.replace(tzinfo=None),
    )
    session.add(row)
    session.flush()
    for desk in card.desks:
        secret = desk_secrets.get(desk.id)
        if secret is None or box_keypair_from_secret(secret).public_key != desk.public_key:
            raise KeyEpochError(f"The key of desk {desk.id!r} does not match the card.")
        sealed, generation = _seal_desk(holders, storage_public, card.epoch, desk.id, secret)
        session.add(
            DeskKey(
                epoch=card.epoch,
                desk_id=desk.id,
                public_key=desk.public_key,
                sealed_secret=sealed,
                generation=generation,
            )
        )
    session.flush()
    return row


def adopt_legacy(session: Session, keyring: OfficeKeyring, now: datetime) -> bool:
    """Move a version 1 keyring's desk and bundle keys into the database, once.

    Only when the database holds no epoch yet: once it does, the keys a v1 keyring
    carries are either there already or were destroyed since — never brought back.
    Returns whether they were moved.
    """
    if keyring.legacy is None:
        return False
    if session.scalar(select(func.count()).select_from(KeyEpoch)):
        return False
    office = session.get(Office, 1)
    if office is None:
        raise KeyEpochError("This directory holds no office.")
    install_epoch(
        session, keyring, office.card, keyring.legacy.desks, keyring.legacy.bundle_secret, now
    )
    record_event(session, now, "keys-moved-to-epochs", detail=f"epoch {_card_epoch(office.card)}")
    return True


def _card_epoch(raw: bytes) -> int:
    card = read_card(raw)
    return card.epoch if isinstance(card, OfficeCard) else 0


def rotate(
    session: Session,
    keyring: OfficeKeyring,
    now: datetime,
    officer_id: int | None = None,
    *,
    without: str | None = None,
) -> OfficeCard:
    """New desk and bundle keys under a new card (epoch + 1); returns the card (caller commits).
    ``without``: a desk the new card no longer lists (``compartments.remove_desk``).

    The old epoch's keys stay until the server has collected everything sent to them
    (``after_outbox``): records still on the server, or on their way, need them.
    """
    row = current_row(session)
    old = _card(row)
    kept = [d for d in old.desks if d.id != without]
    pairs = {d.id: generate_box_keypair() for d in kept}
    bundle = generate_box_keypair()
    card_bytes = make_office_card(
        keyring.signing_seed,
        name=old.name,
        bundle_key=bundle.public_key,
        desks=[Desk(d.id, d.name, pairs[d.id].public_key) for d in kept],
        custodian_key=old.custodian_key,
        epoch=old.epoch + 1,
        created=now.date().isoformat(),
        time_zone=old.time_zone,
    )
    card = read_card(card_bytes)
    if not isinstance(card, OfficeCard) or card.signing_key != old.signing_key:
        raise KeyEpochError("This keyring's signing key is not the office's.")
    install_epoch(
        session,
        keyring,
        card_bytes,
        {k: p.secret_key for k, p in pairs.items()},
        bundle.secret_key,
        now,
    )
    office = session.get(Office, 1)
    if office is not None:
        office.card = card_bytes
    record_event(
        session,
        now,
        "keys-rotated",
        officer_id=officer_id,
        detail=f"epoch {card.epoch}: new desk and bundle keys"
        + (f", without desk {without}" if without else ""),
    )
    return card


def destroy(
    session: Session, epoch: int, now: datetime, officer_id: int | None = None, why: str = ""
) -> None:
    """Destroy an epoch's desk and bundle secret keys (the card and public keys stay)."""
    row = session.get(KeyEpoch, epoch)
    if row is None or row.destroyed_at is not None:
        return
    if epoch == current_epoch(session):
        raise KeyEpochError("The current epoch's keys are in use: rotate first.")
    row.bundle_secret = None
    row.destroyed_at = now.replace(tzinfo=None)
    for desk in session.scalars(select(DeskKey).where(DeskKey.epoch == epoch)):
        desk.sealed_secret = None
    session.flush()
    detail = f"desk keys of epoch {epoch} destroyed" + (f" ({why})" if why else "")
    record_event(session, now, "keys-destroyed", officer_id=officer_id, detail=detail)
    from whistle.inbox import compartments  # compartments imports this module

    compartments.finish_removals(session, now)


def after_outbox(
    session: Session,
    report: EpochReport | None,
    now: datetime,
    officer_id: int | None = None,
    *,
    chained: bool = True,
) -> list[int]:
    """What an imported outbox bundle's epoch report allows: returns the epochs destroyed.

    An epoch older than the server's current one is collected when the server accepts
    nothing more for it and holds nothing of it (everything was imported here and
    acknowledged, so it is under the storage key now), *and* this inbox's own records agree:
    it saw the server encrypt to a newer epoch at least ``DESTROY_AFTER_DAYS`` ago by its own
    clock, and this bundle follows the last one imported (``chained``; a bundle after a gap or
    a fork in the chain destroys nothing, a manager can confirm with ``confirm_destroy``).
    """
    if report is None:
        return []
    confirmed = session.get(KeyEpoch, report.current)
    if confirmed is not None and confirmed.confirmed_at is None:
        confirmed.confirmed_at = now.replace(tzinfo=None)
    if not chained:
        return []
    mine = current_epoch(session)
    destroyed = []
    live = session.scalars(
        select(KeyEpoch.epoch).where(KeyEpoch.destroyed_at.is_(None), KeyEpoch.epoch < mine)
    ).all()
    for epoch in live:
        seen = _newer_epoch_seen(session, epoch)
        if seen is None or now.replace(tzinfo=None) < seen + timedelta(days=DESTROY_AFTER_DAYS):
            continue
        if epoch < report.current and report.collected(epoch) and not held_for(session, epoch):
            destroy(session, epoch, now, officer_id, "everything sent to them has been collected")
            destroyed.append(epoch)
    return destroyed


def held_for(session: Session, epoch: int) -> int:
    """How many held-back records may need this epoch's keys (theirs, or not known)."""
    return (
        session.scalar(
            select(func.count())
            .select_from(HeldRecord)
            .where((HeldRecord.epoch == epoch) | HeldRecord.epoch.is_(None))
        )
        or 0
    )


def _newer_epoch_seen(session: Session, epoch: int) -> datetime | None:
    """When an imported outbox first showed the server encrypting to an epoch after ``epoch``."""
    return session.scalar(
        select(func.min(KeyEpoch.confirmed_at)).where(
            KeyEpoch.epoch > epoch, KeyEpoch.confirmed_at.is_not(None)
        )
    )


def confirm_destroy(session: Session, epoch: int, now: datetime, officer_id: int) -> None:
    """A manager's recorded confirmation that an older epoch's keys may go now (the caller
    checks the role): for when the automatic rule waits on a broken bundle chain or a server
    that is gone. Refuses the current epoch and one the server was never seen to leave."""
    row = session.get(KeyEpoch, epoch)
    if row is None:
        raise KeyEpochError(f"There is no key epoch {epoch}.")
    if row.destroyed_at is not None:
        raise KeyEpochError(f"The keys of epoch {epoch} are destroyed already.")
    if epoch == current_epoch(session):
        raise KeyEpochError("The current epoch's keys are in use: rotate first.")
    waiting = held_for(session, epoch)
    if waiting:
        raise KeyEpochError(
            f"{waiting} record(s) held back for a desk wait for one of its members: the keys "
            f"of epoch {epoch} may be the only ones that open them. Have them filed first."
        )
    if _newer_epoch_seen(session, epoch) is None:
        raise KeyEpochError(
            f"No outbox bundle has shown the server using keys newer than epoch {epoch}: "
            "records may still be encrypted to them. Import an outbox bundle first."
        )
    destroy(session, epoch, now, officer_id, "confirmed by a manager")


def scrub(engine: Engine) -> bool:
    """After destroying keys (committed): copy the WAL into the database and truncate it;
    whether SQLite could.

    With ``secure_delete`` on, SQLite zeroes the freed cells in the database file; this
    empties the write-ahead log that still held the old pages. It cannot while another
    connection reads (the web inbox open beside the command line): the pages then stay in
    the log until the next scrub, which every import and every start of the inbox runs.
    Best effort: the file system and the disk may keep copies (docs/officer-guide.md).
    """
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        row = cursor.fetchone()  # (busy, frames in the log, frames copied)
        cursor.close()
    finally:
        raw.close()
    return row is not None and not row[0]


# --- the reminder ----------------------------------------------------------------------------


def reminder_days(session: Session) -> int | None:
    policy = session.get(KeyPolicy, 1)
    return policy.reminder_days if policy is not None else None


def set_reminder(
    session: Session, days: int | None, now: datetime, officer_id: int | None = None
) -> None:
    """Remind to rotate every ``days`` days (None: never)."""
    if days is not None and not 1 <= days <= MAX_REMINDER_DAYS:
        raise InboxError(f"The rotation reminder is 1 to {MAX_REMINDER_DAYS} days, or none.")
    policy = session.get(KeyPolicy, 1)
    if policy is None:
        session.add(KeyPolicy(id=1, reminder_days=days))
    else:
        policy.reminder_days = days
    record_event(
        session,
        now,
        "rotation-reminder-set",
        officer_id=officer_id,
        detail=f"every {days} days" if days else "none",
    )


#: Audit actions after which someone who held a desk's keys no longer does.
LEFT_A_DESK = ("desk-member-removed", "officer-removed")


def left_since_rotation(session: Session) -> int:
    """How many times someone left a desk (or the office) since the current keys were made.

    They may have kept their desk's key of this epoch, which opens the reports sent to that
    desk until the next rotation; their grants are gone, but a copy is a copy."""
    row = session.scalar(select(KeyEpoch).order_by(KeyEpoch.epoch.desc()).limit(1))
    if row is None:
        return 0
    found = session.scalar(
        select(func.count())
        .select_from(AuditEvent)
        .where(AuditEvent.action.in_(LEFT_A_DESK), AuditEvent.at >= row.created_at)
    )
    return found or 0


def rotation_due(session: Session, today: date) -> date | None:
    """The day a rotation is due by the office's reminder (None: no reminder, or no keys)."""
    days = reminder_days(session)
    if days is None:
        return None
    row = session.scalar(select(KeyEpoch).order_by(KeyEpoch.epoch.desc()).limit(1))
    if row is None:
        return None
    return row.created_at.date() + timedelta(days=days)
