"""Record orders on the server: the office's refusals and removals, applied.

A refusal (the inbox cannot open the record, and never will) and a removal (a manager
ordered it) do the same here, once the order verified against the pinned office key
(``whistle.record_orders``): the named record is deleted if its id, case *and* hash match,
and a tombstone keeps it from coming back; an order that names a record kind (version 2)
applies only to a record of that kind, so a row relabelled by a database writer is kept,
not taken for a submission whose removal would empty its case. An order naming a case's
submission removes the whole case (its login row first, as a purge does): without its
submission nothing of the case can ever be opened, and its code must stop taking
follow-ups. An order whose record is gone already deletes nothing; one whose hash or case
differs deletes nothing either (a removal without a hash takes whatever the server holds
under that id and case).
Applied in the caller's transaction (a replies bundle's, or ``whistle server remove-record``'s).
"""

import datetime
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy.orm import Session

from whistle.crypto.orders import RecordOrder
from whistle.submit import store
from whistle.submit.models import Record, RecordKind, Tombstone


@dataclass
class OrdersApplied:
    records_deleted: int = 0
    cases_removed: int = 0
    already_gone: int = 0
    not_matching: int = 0

    def counts(self) -> dict[str, int]:
        return {
            "records refused or removed by the office": self.records_deleted,
            "cases removed with their submission": self.cases_removed,
            "ordered records already gone": self.already_gone,
            "ordered records with other content (kept)": self.not_matching,
        }


def _tombstone(session: Session, item_id: str, kind: str, today: datetime.date) -> None:
    if session.get(Tombstone, item_id) is None:
        session.add(Tombstone(id=item_id, kind=kind, day=today))


def apply_orders(
    session: Session, orders: Sequence[RecordOrder], today: datetime.date
) -> OrdersApplied:
    """Delete and tombstone what verified ``orders`` name (the caller commits)."""
    done = OrdersApplied()
    for order in orders:
        row = session.get(Record, order.record_id)
        if row is None:
            done.already_gone += 1
            _tombstone(session, order.record_id, "record", today)
            continue
        wanted = order.record_hash or row.record_hash.hex()  # None: whatever is stored
        if (
            row.case_id != order.case_id
            or row.record_hash.hex() != wanted
            or not order.applies_to(row.kind.value)
        ):
            done.not_matching += 1
            continue
        if row.kind == RecordKind.SUBMISSION:
            done.records_deleted += store.purge_case(session, bytes.fromhex(row.case_id))
            done.cases_removed += 1
            _tombstone(session, order.case_id, "case", today)
        else:
            done.records_deleted += store.acknowledge(
                session, [(order.record_id, bytes.fromhex(wanted))]
            )
        _tombstone(session, order.record_id, "record", today)
        session.flush()
    return done
