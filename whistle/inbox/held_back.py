"""Records held back: what an import brought for desks the importing officer is not in.

A desk's key of each epoch is granted to that desk's compartment key (``epochs.py``), so an
officer imports only what their desks' keys open. The rest is not refused (it is genuine) and
not dropped: each record is kept here exactly as the bundle carried it — ciphertext sealed to
the desk keys of its epoch — and neither acknowledged to the server nor counted as filed.
A member of its desk files it (``bundles.file_held_back``) when they sign in, open the Bundles
page or run ``whistle inbox file-held``; only then is it acknowledged, so the server
keeps its copy until the inbox holds it in a form someone can read.

Which desk a held report is for cannot be read without its key (slots name nobody,
docs/decisions.md "Trial decryption"): it is for one of the desks whose keys have not been
tried on it yet (``tried``). A follow-up's desk is its case's.
"""

from collections import defaultdict
from collections.abc import Collection
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session, defer

from whistle.inbox import epochs
from whistle.inbox.audit import record_event
from whistle.inbox.models import Case, HeldRecord, Tombstone
from whistle.inbox.naming import DeskNames, desk_names


@dataclass(frozen=True)
class Waiting:
    """Records held back for one desk, or for one of several (``desks``, by name)."""

    desks: tuple[str, ...]
    reports: int
    followups: int
    since: date

    def line(self) -> str:
        """In English, for the command line and the bundle's summary."""
        where = (
            f"the desk {self.desks[0]}"
            if len(self.desks) == 1
            else "one of the desks " + ", ".join(self.desks)
        )
        return (
            f"{self.reports} report(s) and {self.followups} follow-up(s) for {where} wait for "
            "one of its members to collect them (kept as they came; the server keeps them "
            "until then)"
        )


def _tried(row: HeldRecord | None) -> set[str]:
    return {d for d in (row.tried if row is not None else "").split(",") if d}


def tried(session: Session, record_id: str) -> set[str]:
    """The desks whose keys were tried on a held record and did not open it."""
    return _tried(session.get(HeldRecord, record_id))


def held_report(session: Session, case_id: str) -> bool:
    """Whether the report of this case is held back (its follow-ups then wait with it)."""
    found = session.scalar(
        select(HeldRecord.record_id).where(
            HeldRecord.case_id == case_id, HeldRecord.kind == "submission"
        )
    )
    return found is not None


def hold(
    session: Session,
    *,
    record_id: str,
    kind: str,
    case_id: str,
    received_day: date,
    epoch: int | None,
    envelope: bytes,
    desk_id: str | None,
    tried_desks: set[str],
    now: datetime,
    officer_id: int | None = None,
    case_key: bytes | None = None,
) -> bool:
    """Keep a record for its desk's members (again: the desks tried are added). Returns
    whether it was not held before."""
    row = session.get(HeldRecord, record_id)
    if row is not None:
        row.tried = ",".join(sorted(_tried(row) | tried_desks))
        row.desk_id = desk_id or row.desk_id
        row.case_key = case_key if case_key is not None else row.case_key
        session.flush()
        return False
    session.add(
        HeldRecord(
            record_id=record_id,
            kind=kind,
            case_id=case_id,
            received_day=received_day,
            epoch=epoch,
            envelope=envelope,
            desk_id=desk_id,
            tried=",".join(sorted(tried_desks)),
            held_at=now.replace(tzinfo=None),
            case_key=case_key,
        )
    )
    session.flush()
    record_event(
        session,
        now,
        "record-held-back",
        officer_id=officer_id,
        case_id=case_id,
        record_id=record_id,
        detail=f"{kind} for {desk_id or 'another desk'}",
    )
    return True


def release(session: Session, record_id: str) -> None:
    """The record is filed (or was here already): it is no longer held."""
    session.execute(delete(HeldRecord).where(HeldRecord.record_id == record_id))


def rows(
    session: Session, *, envelopes: bool = True, only: Collection[str] | None = None
) -> list[HeldRecord]:
    """Every held record (or those ``only`` names), reports first, in arrival order
    (``envelopes=False``: without loading the envelopes, for lists)."""
    query = select(HeldRecord).order_by(
        HeldRecord.kind != "submission", HeldRecord.received_day, HeldRecord.record_id
    )
    if only is not None:
        query = query.where(HeldRecord.record_id.in_(list(only)))
    if not envelopes:
        query = query.options(defer(HeldRecord.envelope))
    return list(session.scalars(query))


def for_desks(session: Session, desks: set[str]) -> list[str]:
    """The held records worth trying with the keys of ``desks``: those that may be for one
    of them, and those whose case or record was deleted or ordered removed since (to drop)."""
    gone = set(session.scalars(select(Tombstone.id)))
    return [
        row.record_id
        for row in rows(session, envelopes=False)
        if desks & set(candidates(session, row)) or {row.case_id, row.record_id} & gone
    ]


def count(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(HeldRecord)) or 0


def candidates(session: Session, row: HeldRecord) -> tuple[str, ...]:
    """The desks a held record may be for: a follow-up's is its case's desk as it is now
    (the case may have moved, or its desk been removed, since the follow-up was held)."""
    if row.kind != "submission":
        desk = session.scalar(select(Case.desk_id).where(Case.id == row.case_id))
        if desk is not None:
            return (desk,)
    if row.desk_id is not None:
        return (row.desk_id,)
    if row.kind != "submission":
        report = session.scalar(
            select(HeldRecord).where(
                HeldRecord.case_id == row.case_id, HeldRecord.kind == "submission"
            )
        )
        if report is not None:
            return candidates(session, report)
    return tuple(sorted(epochs.live_desks(session) - _tried(row)))


def waiting(session: Session, names: DeskNames | None = None) -> list[Waiting]:
    """What waits, grouped by the desk (or desks) it may be for: "3 reports for Urbanism".
    Desks by ``names`` (a page's, in its language), else by their names on the cards; a
    removed desk too, as records sent before its removal may wait for it."""
    groups: dict[tuple[str, ...], list[HeldRecord]] = defaultdict(list)
    for row in rows(session, envelopes=False):
        groups[candidates(session, row)].append(row)
    if not groups:
        return []
    names = names if names is not None else desk_names(session)
    return [
        Waiting(
            tuple(names[d] for d in desks),
            sum(1 for r in found if r.kind == "submission"),
            sum(1 for r in found if r.kind != "submission"),
            min(r.received_day for r in found),
        )
        for desks, found in sorted(groups.items())
    ]
