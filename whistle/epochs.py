"""Key epochs: the rules both sides follow for office cards and per-epoch reports.

Neutral ground (``whistle.submit`` and ``whistle.inbox`` both import this, never
each other). An office rotates its desk and bundle keys by making a new card
with ``epoch + 1``, signed by the same office signing key (same fingerprint).
The card travels to the server inside a replies bundle (``extra.office_card``,
covered by the manifest signature); the server then reports, in each outbox
bundle, which epoch every record was encrypted to and which epochs it has
closed (``extra.epochs``). docs/protocol.md, "Key epochs", is the reference.
"""

import re
from dataclasses import dataclass
from typing import Any

from whistle.bundling import BundleContentError, BundleRefusedError
from whistle.crypto import CryptoError, OfficeCard, read_card, same_fingerprint

#: Keys in a bundle manifest's ``extra`` object.
CARD_FIELD = "office_card"
RECORD_EPOCHS_FIELD = "record_epochs"
EPOCHS_FIELD = "epochs"
MAX_CARD_CHARS = 64 * 1024
MAX_EPOCH = 2**31 - 1
_ID = re.compile(r"[0-9a-f]{32}")


class CardRefusedError(BundleRefusedError):
    """An office card offered as a rotation is not acceptable; nothing was changed."""


class EpochReportError(BundleContentError):
    """A bundle's per-epoch report is malformed."""


def check_successor(current: OfficeCard, new: OfficeCard, *, pinned_fingerprint: str) -> bool:
    """Whether ``new`` replaces ``current``: True if newer, False if it is the same card.

    Refused (``CardRefusedError``): another signing key than the pinned one, an epoch
    older than the current one (a replayed rotation), or the current epoch with other keys.
    """
    if not same_fingerprint(new.fingerprint, pinned_fingerprint) or (
        new.signing_key != current.signing_key
    ):
        raise CardRefusedError(
            f"the office card in the bundle is signed by another key ({new.fingerprint}), "
            f"not the pinned office key ({pinned_fingerprint}): nothing was changed"
        )
    if new.epoch < current.epoch:
        raise CardRefusedError(
            f"the office card in the bundle is of key epoch {new.epoch}, older than the "
            f"current epoch {current.epoch} (a replayed rotation?): nothing was changed"
        )
    if new.epoch == current.epoch:
        if new != current:
            raise CardRefusedError(
                f"the office card in the bundle claims the current key epoch {new.epoch} "
                "with other keys: nothing was changed"
            )
        return False
    return True


def parse_card_field(value: Any, pinned_fingerprint: str) -> tuple[bytes, OfficeCard]:
    """The office card carried in a manifest's ``extra``: its bytes and the verified card."""
    if not isinstance(value, str) or not 0 < len(value) <= MAX_CARD_CHARS:
        raise CardRefusedError("the bundle's office card field is not a card file")
    raw = value.encode("utf-8")
    try:
        card = read_card(raw)
    except CryptoError as exc:
        raise CardRefusedError(f"the office card in the bundle does not verify: {exc}") from exc
    if not isinstance(card, OfficeCard):
        raise CardRefusedError("the card in the bundle is not an office card")
    if not same_fingerprint(card.fingerprint, pinned_fingerprint):
        raise CardRefusedError(
            f"the office card in the bundle is signed by another key ({card.fingerprint}), "
            f"not the pinned office key ({pinned_fingerprint}): nothing was changed"
        )
    return raw, card


@dataclass(frozen=True)
class EpochReport:
    """What an outbox bundle says about key epochs on the server.

    ``current``: the epoch of the card the server encrypts new records to.
    ``accepting``: the epochs it still takes records for (current, and the previous one
    for a grace period while pages loaded before the rotation may still post).
    ``pending``: per epoch, how many records it still holds (not yet acknowledged).
    ``records``: the epoch each record in the bundle was encrypted to.
    """

    current: int
    accepting: tuple[int, ...]
    pending: dict[int, int]
    records: dict[str, int]

    def collected(self, epoch: int) -> bool:
        """Nothing more can arrive for ``epoch`` and nothing is left on the server for it."""
        return (
            epoch < self.current and epoch not in self.accepting and self.pending.get(epoch, 0) == 0
        )

    def to_extra(self) -> dict[str, Any]:
        return {
            EPOCHS_FIELD: {
                "current": self.current,
                "accepting": list(self.accepting),
                "pending": {str(k): v for k, v in sorted(self.pending.items())},
            },
            RECORD_EPOCHS_FIELD: dict(sorted(self.records.items())),
        }


def _epoch(value: Any) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= MAX_EPOCH:
        raise EpochReportError("an epoch is a positive integer")
    return value


def parse_report(extra: dict[str, Any]) -> EpochReport | None:
    """The epoch report of an outbox manifest, or None (a server from before key epochs)."""
    raw = extra.get(EPOCHS_FIELD)
    if raw is None:
        return None
    try:
        if not isinstance(raw, dict):
            raise EpochReportError("the epoch report is not an object")
        current = _epoch(raw["current"])
        accepting = tuple(_epoch(e) for e in raw["accepting"])
        pending_raw = raw["pending"]
        if not isinstance(pending_raw, dict) or len(pending_raw) > 1000:
            raise EpochReportError("the pending counts are not an object")
        pending: dict[int, int] = {}
        for key, count in pending_raw.items():
            if not isinstance(key, str) or not (key.isascii() and key.isdigit() and len(key) <= 10):
                raise EpochReportError("a pending count is not keyed by epoch")
            if not isinstance(count, int) or isinstance(count, bool) or count < 0:
                raise EpochReportError("a pending count is not a count")
            pending[_epoch(int(key))] = count
        records_raw = extra.get(RECORD_EPOCHS_FIELD, {})
        if not isinstance(records_raw, dict):
            raise EpochReportError("the record epochs are not an object")
        records = {}
        for record_id, epoch in records_raw.items():
            if not isinstance(record_id, str) or not _ID.fullmatch(record_id):
                raise EpochReportError("a record epoch is not keyed by record id")
            records[record_id] = _epoch(epoch)
    except (KeyError, TypeError, ValueError) as exc:
        raise EpochReportError("the epoch report is missing a field") from exc
    if current not in accepting:
        raise EpochReportError("the server's current epoch is not among those it accepts")
    return EpochReport(current, accepting, pending, records)
