"""Case key announcements in the outgoing queue (docs/protocol.md §17).

The server seals a case's follow-ups to the public half of the case's newest key generation
once the office announced it, so that only the holders of that key (its desk, less anyone who
stepped aside) open them in transit. Each announcement is an outgoing row of kind
``case-key`` (``models/outgoing.py``): queued at export for every case whose newest generation
has none, held until a backup's snapshot holds the key (or the office acknowledges on
import), sent until an outbox names it among the keys the server holds (``confirm_held``).
Confirmed rows stay, so that a generation is announced once; so do superseded rows that ever
went out (the server may hold them: migration 0015's downgrade guard counts them), but only
each case's newest row is sent.
"""

from datetime import datetime
from itertools import groupby

from sqlalchemy import ColumnElement, ScalarSelect, String, cast, delete, func, select, update
from sqlalchemy.orm import Session, aliased

from whistle.crypto.case_keys import MAX_GENERATION, CaseKeyAnnouncement, sign_case_key
from whistle.inbox import compartments
from whistle.inbox.audit import record_event
from whistle.inbox.keyring import OfficeKeyring
from whistle.inbox.models import Case, CaseKey, Outgoing
from whistle.inbox.settings import acknowledge_on_import

#: The outgoing kind that announces a case key to the server.
CASE_KEY = "case-key"
#: At most this many announcements in one replies bundle: the server refuses a bundle with
#: more (``whistle.submit.case_keys``, like record orders); the rest go with the next one.
MAX_PER_BUNDLE = 10_000


def _announced() -> ColumnElement[bool]:
    """The case key row an announcement row names (its ``record_id`` is the generation)."""
    return (CaseKey.case_id == Outgoing.case_id) & (
        cast(CaseKey.generation, String) == Outgoing.record_id
    )


def _newest_of_row() -> ScalarSelect[str]:
    """The newest generation of the row's case, as text (compared with ``record_id``)."""
    keys = aliased(CaseKey)
    return (
        select(cast(func.max(keys.generation), String))
        .where(keys.case_id == Outgoing.case_id)
        .correlate(Outgoing)
        .scalar_subquery()
    )


def queue_case_keys(session: Session, keyring: OfficeKeyring, *, now: datetime) -> int:
    """Sign and queue an announcement of every case's newest key generation that has none
    yet; the same case's older ones that never went out are superseded and go. Returns how
    many.

    One query finds them all (not one per case). An office not yet in compartments has no
    case keys and announces nothing.
    """
    newest = (
        select(CaseKey.case_id, func.max(CaseKey.generation).label("generation"))
        .group_by(CaseKey.case_id)
        .subquery()
    )
    queued = select(Outgoing.id).where(Outgoing.kind == CASE_KEY, _announced())
    rows = session.execute(
        select(CaseKey.case_id, CaseKey.generation, CaseKey.public_key)
        .join(
            newest,
            (CaseKey.case_id == newest.c.case_id) & (CaseKey.generation == newest.c.generation),
        )
        .where(~queued.exists())
    ).all()
    for case_id, generation, public in rows:
        announcement = CaseKeyAnnouncement(bytes.fromhex(case_id), generation, public)
        session.add(
            Outgoing(
                kind=CASE_KEY,
                case_id=case_id,
                record_id=str(generation),
                envelope=sign_case_key(keyring.signing_seed, announcement),
                created=now.replace(tzinfo=None),
            )
        )
    session.flush()
    # One announcement per case leaves (the server keeps the highest anyway). An older one
    # that went out stays: the server may hold it, and the downgrade guard must see it.
    session.execute(
        delete(Outgoing).where(
            Outgoing.kind == CASE_KEY,
            Outgoing.confirmed.is_(None),
            Outgoing.bundle_sequence.is_(None),
            Outgoing.record_id != _newest_of_row(),
        )
    )
    return len(rows)


def split_case_keys(
    session: Session, announcements: list[Outgoing]
) -> tuple[list[Outgoing], list[Outgoing]]:
    """``(sendable, held)``: an announcement waits until a backup's snapshot holds its key
    (``CaseKey.backed_up_at``), unless the office acknowledges on import (``split_acks``'
    rule): were the laptop lost before, follow-ups sealed to that key would be lost with it.
    The snapshot, not a timestamp, says so: a key made while a backup is being written is
    not in it. A superseded row (not its case's newest generation) is in neither list."""
    if not announcements:
        return [], []
    newest: dict[int, bool] = dict(
        session.execute(
            select(Outgoing.id, CaseKey.backed_up_at.is_not(None))
            .join(CaseKey, _announced())
            .where(
                Outgoing.kind == CASE_KEY,
                Outgoing.confirmed.is_(None),
                Outgoing.record_id == _newest_of_row(),
            )
        ).all()
    )
    if acknowledge_on_import(session):
        newest = dict.fromkeys(newest, True)
    return (
        [a for a in announcements if newest.get(a.id) is True],
        [a for a in announcements if newest.get(a.id) is False],
    )


def confirm_held(
    session: Session, held: dict[str, tuple[int, bytes]], *, now: datetime
) -> list[str]:
    """Confirm by what the server holds (an outbox's ``case_keys_held``, §17); returns the
    cases given a new generation.

    Each case's newest announcement row is confirmed iff the server names its generation
    and key, else it is pending again (a server upgraded after it applied the bundle, or
    restored from an older backup). Older rows that went out are settled with a confirmed
    newest one. A case whose server key is none of its keys here, at a generation at least
    this inbox's newest, was announced from a database newer than the backup this inbox was
    restored from (a lost laptop): a new generation above it takes the case's next
    follow-ups back."""
    rows = session.execute(
        select(
            Outgoing.id,
            Outgoing.case_id,
            Outgoing.confirmed.is_not(None),
            CaseKey.generation,
            CaseKey.public_key,
        )
        .join(CaseKey, _announced())
        .where(Outgoing.kind == CASE_KEY)
        .order_by(Outgoing.case_id, CaseKey.generation)
    ).all()
    confirm: list[int] = []
    again: list[int] = []
    for case_id, group in groupby(rows, key=lambda row: row[1]):
        announced = list(group)
        newest_id, _case, newest_confirmed, generation, public = announced[-1]
        if held.get(case_id) != (generation, public):
            if newest_confirmed:
                again.append(newest_id)
            continue
        confirm.extend(row[0] for row in announced if not row[2])
    stamp = now.replace(tzinfo=None)
    for ids, value in ((confirm, stamp), (again, None)):
        for start in range(0, len(ids), 500):
            session.execute(
                update(Outgoing)
                .where(Outgoing.id.in_(ids[start : start + 500]))
                .values(confirmed=value)
            )
    return _above_server(session, held, now)


def _above_server(session: Session, held: dict[str, tuple[int, bytes]], now: datetime) -> list[str]:
    ids = list(held)
    keys: dict[str, list[tuple[int, bytes]]] = {}
    for start in range(0, len(ids), 500):
        for case_id, generation, public in session.execute(
            select(CaseKey.case_id, CaseKey.generation, CaseKey.public_key).where(
                CaseKey.case_id.in_(ids[start : start + 500])
            )
        ):
            keys.setdefault(case_id, []).append((generation, public))
    made = []
    for case_id, ours in sorted(keys.items()):
        generation, public = held[case_id]
        if generation < max(g for g, _ in ours) or public in {k for _, k in ours}:
            continue
        if generation >= MAX_GENERATION:
            continue  # nothing above it can be announced (§17); the follow-ups stay there
        case = session.get(Case, case_id)
        if case is None:
            continue
        compartments.new_case_key(session, case_id, case.desk_id, above=generation)
        record_event(
            session,
            now,
            "case-key-above-server",
            case_id=case_id,
            detail=f"the server holds generation {generation}, which this inbox does not: "
            "a new generation above it (restored from an older backup?)",
        )
        made.append(case_id)
    return made
