"""Case key announcements in the outgoing queue (docs/protocol.md §17).

The server seals a case's follow-ups to the public half of the case's newest key generation
once the office announced it, so that only the holders of that key (its desk, less anyone who
stepped aside) open them in transit. Each announcement is an outgoing row of kind
``case-key`` (``models/outgoing.py``): queued at export for every case whose newest generation
has none, held until a backup holds the key (or the office acknowledges on import), sent
until the server confirms it like every other row. Confirmed rows stay: they say which
generations the server knows (``confirmed_case_key``, what the importer asks).
"""

from datetime import datetime

from sqlalchemy import ColumnElement, String, cast, delete, func, select
from sqlalchemy.orm import Session

from whistle.crypto.case_keys import CaseKeyAnnouncement, sign_case_key, stored_case_key
from whistle.inbox.keyring import OfficeKeyring
from whistle.inbox.models import Backup, CaseKey, Outgoing
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


def queue_case_keys(session: Session, keyring: OfficeKeyring, *, now: datetime) -> int:
    """Sign and queue an announcement of every case's newest key generation that has none
    yet; the same case's older unconfirmed ones are superseded and go. Returns how many.

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
    # One announcement per case leaves (the server keeps the highest anyway): an older one not
    # confirmed yet — or pending again after a server restore — is superseded.
    newest_of_row = (
        select(cast(func.max(CaseKey.generation), String))
        .where(CaseKey.case_id == Outgoing.case_id)
        .scalar_subquery()
    )
    session.execute(
        delete(Outgoing).where(
            Outgoing.kind == CASE_KEY,
            Outgoing.confirmed.is_(None),
            Outgoing.record_id != newest_of_row,
        )
    )
    return len(rows)


def split_case_keys(
    session: Session, announcements: list[Outgoing]
) -> tuple[list[Outgoing], list[Outgoing]]:
    """``(sendable, held)``: an announcement waits until a backup made after its key was
    created holds it, unless the office acknowledges on import (``split_acks``' rule): were
    the laptop lost before, follow-ups sealed to that key would be lost with it."""
    if not announcements or acknowledge_on_import(session):
        return list(announcements), []
    last_backup = session.scalar(select(func.max(Backup.made_at)))
    ready: set[int] = set()
    if last_backup is not None:
        ready.update(
            session.scalars(
                select(Outgoing.id)
                .join(CaseKey, _announced())
                .where(
                    Outgoing.kind == CASE_KEY,
                    Outgoing.confirmed.is_(None),
                    CaseKey.created_at <= last_backup,
                )
            )
        )
    return (
        [a for a in announcements if a.id in ready],
        [a for a in announcements if a.id not in ready],
    )


def confirmed_case_key(session: Session, case_id: str, generation: int) -> bool:
    """Whether the server confirmed this inbox's announcement of that generation of the
    case's key (of the key this inbox holds for it: an inbox restored from an older backup
    may have made the same generation again with another key)."""
    public = session.scalar(
        select(CaseKey.public_key).where(
            CaseKey.case_id == case_id, CaseKey.generation == generation
        )
    )
    rows = session.scalars(
        select(Outgoing.envelope).where(
            Outgoing.kind == CASE_KEY,
            Outgoing.case_id == case_id,
            Outgoing.record_id == str(generation),
            Outgoing.confirmed.is_not(None),
        )
    )
    return public is not None and any(stored_case_key(e).public_key == public for e in rows)
