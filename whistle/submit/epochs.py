"""Key epochs on the server: which office card is current, which epochs are accepted.

The current card is the highest-epoch row of ``office_cards`` (brought by replies
bundles), else the card pinned at ``whistle server init``. New submissions and
follow-ups are encrypted to it (plain form), or by the page to the card it was
served (JavaScript: the page says which epoch). The previous epoch is accepted
for a grace period after a rotation — pages loaded before it carry its keys and
their session lasts at most a day — and refused after that; the epoch is
reported closed to the inbox (which may then destroy its keys) only
``CLOSE_AFTER_DAYS`` later, so that no upload that started in the grace period
can still be on its way. Dates are days (docs/threat-model.md §3.9).
"""

import datetime
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from whistle.crypto import CardError, OfficeCard, read_card
from whistle.epochs import EpochReport, check_successor, parse_card_field
from whistle.errors import WhistleError
from whistle.submit.config import SubmitConfig
from whistle.submit.models import OfficeCardRow, Record, RecordKind

#: After the day a rotation is applied, the previous epoch is accepted this many more days
#: (a page's session lasts at most 24 hours: ``limits.session_hours``).
GRACE_DAYS = 1
#: ... and reported closed (its keys may be destroyed) this many days after the rotation.
CLOSE_AFTER_DAYS = 3


class EpochRefusedError(WhistleError):
    """A record was encrypted to a key epoch the server no longer accepts."""


@dataclass(frozen=True)
class Cards:
    """The current card, and the previous one while it is still accepted."""

    current: OfficeCard
    applied: datetime.date | None
    previous: OfficeCard | None

    def accepting(self, today: datetime.date) -> tuple[int, ...]:
        if self.previous is None or self.applied is None:
            return (self.current.epoch,)
        if today <= self.applied + datetime.timedelta(days=GRACE_DAYS):
            return (self.previous.epoch, self.current.epoch)
        return (self.current.epoch,)

    def closed_before(self, today: datetime.date) -> bool:
        """Whether every epoch older than the current one is closed (reported so)."""
        return self.applied is None or today >= self.applied + datetime.timedelta(
            days=CLOSE_AFTER_DAYS
        )

    def card_for(self, epoch: int, today: datetime.date) -> OfficeCard:
        """The card a record of ``epoch`` was encrypted to, if that epoch is accepted today."""
        if epoch == self.current.epoch:
            return self.current
        if epoch in self.accepting(today) and self.previous is not None:
            return self.previous
        if epoch > self.current.epoch:
            raise EpochRefusedError("unknown key epoch")
        raise EpochRefusedError("key epoch no longer accepted")


class StoredCardError(WhistleError):
    """A card in the database that the pinned office key did not sign (or not for its
    epoch): the database was written by something other than a verified replies bundle.
    Nothing is encrypted to it; the site answers "temporarily unavailable"."""


def _parse(raw: bytes, epoch: int, pinned: OfficeCard) -> OfficeCard:
    """A stored card, checked again against the pinned office key: the database may be
    shared (several hosts) and is not trusted to name the keys reports are encrypted to."""
    try:
        card = read_card(raw, pinned_fingerprint=pinned.fingerprint)
    except CardError as exc:
        raise StoredCardError(f"the stored office card of epoch {epoch}: {exc}") from exc
    if (
        not isinstance(card, OfficeCard)
        or card.signing_key != pinned.signing_key
        or card.epoch != epoch
    ):
        raise StoredCardError(f"the stored office card of epoch {epoch} is not the office's")
    return card


def cards(session: Session, config: SubmitConfig) -> Cards:
    """The current card (and the previous one): one small query."""
    rows = session.execute(
        select(OfficeCardRow.epoch, OfficeCardRow.card, OfficeCardRow.applied)
        .order_by(OfficeCardRow.epoch.desc())
        .limit(2)
    ).all()
    pinned = config.office_card
    if not rows or rows[0].epoch <= pinned.epoch:
        return Cards(pinned, None, None)
    current = _parse(rows[0].card, rows[0].epoch, pinned)
    newer = len(rows) > 1 and rows[1].epoch > pinned.epoch
    previous = _parse(rows[1].card, rows[1].epoch, pinned) if newer else pinned
    return Cards(current, rows[0].applied, previous)


def current_card(session: Session, config: SubmitConfig) -> OfficeCard:
    return cards(session, config).current


@dataclass(frozen=True)
class CardChange:
    """What applying a bundle's office card did (or would do)."""

    epoch: int
    changed: bool


def check_card(session: Session, config: SubmitConfig, value: object) -> tuple[bytes, CardChange]:
    """Verify the office card a replies bundle carries, changing nothing.

    ``CardRefusedError``: not signed by the pinned office key, older than the current
    card (a replayed rotation), or the current epoch with other keys.
    """
    raw, card = parse_card_field(value, config.office_card.fingerprint)
    current = current_card(session, config)
    changed = check_successor(current, card, pinned_fingerprint=config.office_card.fingerprint)
    return raw, CardChange(card.epoch, changed)


def store_card(session: Session, raw: bytes, epoch: int, today: datetime.date) -> None:
    session.add(OfficeCardRow(epoch=epoch, card=raw, applied=today))
    session.flush()


def report(
    session: Session, config: SubmitConfig, records: list[Record], today: datetime.date
) -> EpochReport:
    """The outbox's epoch report: current, accepted, pending per epoch, each record's epoch."""
    known = cards(session, config)
    pinned = config.office_card.epoch
    record_epochs = {
        r.id: (r.epoch if r.epoch is not None else pinned)
        for r in records
        if r.kind != RecordKind.REPLY
    }
    pending: dict[int, int] = {}
    for epoch in record_epochs.values():
        pending[epoch] = pending.get(epoch, 0) + 1
    open_epochs = set(known.accepting(today))
    if known.previous is not None and not known.closed_before(today):
        # Refused since the grace period ended, but reported open a while longer, so the
        # inbox keeps the keys until no upload begun in the grace period can still arrive.
        open_epochs.add(known.previous.epoch)
    accepting = tuple(sorted(open_epochs))
    return EpochReport(known.current.epoch, accepting, pending, record_epochs)


def stored_epochs(session: Session) -> dict[int | None, int]:
    """How many submissions and follow-ups are stored per epoch (for ``server status``)."""
    rows = session.execute(
        select(Record.epoch, func.count())
        .where(Record.kind != RecordKind.REPLY)
        .group_by(Record.epoch)
    ).all()
    return {epoch: count for epoch, count in rows}
