"""Record orders in bundles: the rules both sides follow (docs/bundles.md, "Poison records").

Neutral ground (``whistle.submit`` and ``whistle.inbox`` both import this, never each
other). A replies bundle's manifest carries the office's signed record orders in
``extra``: ``refused`` (records the inbox can never open) and ``removed`` (records a
manager ordered removed), each a list of base64 signed objects (``whistle.crypto.orders``).
The manifest signature covers them, and each order is verified again on its own, so an
order is worth exactly what the office key signed, wherever it travels (a bundle, or a
file the server operator applies).
"""

import base64
import binascii
from typing import Any

from whistle.bundling import BundleContentError
from whistle.crypto.errors import CryptoError, WrongPurposeError
from whistle.crypto.orders import RecordOrder, read_order

#: ``extra`` key per order kind.
FIELDS = {"refusal": "refused", "removal": "removed"}
MAX_ORDERS = 10_000


class OrderRefusedError(BundleContentError):
    """A record order does not verify (forged, for another server, malformed): nothing was
    changed."""


def read_one(blob: bytes, kind: str, *, office_signing_key: bytes, install_id: str) -> RecordOrder:
    """One order, verified against the pinned office key and bound to this server."""
    try:
        order = read_order(blob, kind, office_signing_key=office_signing_key)
    except CryptoError as exc:
        raise OrderRefusedError(f"a record {kind} order does not verify: {exc}") from exc
    if order.install_id != install_id:
        raise OrderRefusedError(f"a record {kind} order is for another server")
    return order


def read_any(blob: bytes, *, office_signing_key: bytes, install_id: str) -> RecordOrder:
    """An order file of either kind (its signature's purpose says which), verified."""
    for kind in FIELDS:
        try:
            return read_one(
                blob, kind, office_signing_key=office_signing_key, install_id=install_id
            )
        except OrderRefusedError as exc:
            if not isinstance(exc.__cause__, WrongPurposeError):
                raise
    raise OrderRefusedError("the file is not a record order (signed for something else)")


def from_extra(
    extra: dict[str, Any], *, office_signing_key: bytes, install_id: str
) -> list[RecordOrder]:
    """Every order a manifest carries, each verified; refused whole if any one is not."""
    orders: list[RecordOrder] = []
    for kind, key in FIELDS.items():
        values = extra.get(key, [])
        if not isinstance(values, list) or len(values) > MAX_ORDERS:
            raise OrderRefusedError(f"the record {kind} orders are not a list")
        for value in values:
            if not isinstance(value, str):
                raise OrderRefusedError(f"a record {kind} order is not base64 text")
            try:
                blob = base64.b64decode(value, validate=True)
            except (binascii.Error, ValueError) as exc:
                raise OrderRefusedError(f"a record {kind} order is not base64 text") from exc
            orders.append(
                read_one(blob, kind, office_signing_key=office_signing_key, install_id=install_id)
            )
    return orders
