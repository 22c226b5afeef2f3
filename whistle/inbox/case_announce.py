"""Case key announcements in the outgoing queue (docs/protocol.md §17).

The server seals a case's follow-ups to the public half of the case's newest key generation
once the office announced it, so that only the holders of that key (its desk, less anyone who
stepped aside) open them in transit. Each announcement is an outgoing row of kind
``case-key`` (``models/outgoing.py``): queued at export for every case whose newest generation
has none, held until a backup's snapshot holds the key (or the office acknowledges on
import), sent until the server confirms it — and only a server that keeps announcements
confirms them (``bundles._confirm``). Confirmed rows stay, so that a generation is announced
once.
"""

from datetime import datetime

from sqlalchemy import ColumnElement, String, cast, delete, func, select
from sqlalchemy.orm import Session

from whistle.crypto.case_keys import CaseKeyAnnouncement, sign_case_key
from whistle.inbox.keyring import OfficeKeyring
from whistle.inbox.models import CaseKey, Outgoing
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
    """``(sendable, held)``: an announcement waits until a backup's snapshot holds its key
    (``CaseKey.backed_up_at``), unless the office acknowledges on import (``split_acks``'
    rule): were the laptop lost before, follow-ups sealed to that key would be lost with it.
    The snapshot, not a timestamp, says so: a key made while a backup is being written is
    not in it."""
    if not announcements or acknowledge_on_import(session):
        return list(announcements), []
    ready = set(
        session.scalars(
            select(Outgoing.id)
            .join(CaseKey, _announced())
            .where(
                Outgoing.kind == CASE_KEY,
                Outgoing.confirmed.is_(None),
                CaseKey.backed_up_at.is_not(None),
            )
        )
    )
    return (
        [a for a in announcements if a.id in ready],
        [a for a in announcements if a.id not in ready],
    )
