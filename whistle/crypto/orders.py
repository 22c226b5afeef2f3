"""Record orders: the office tells the server to drop one record it holds.

Two kinds, each signed by the office signing key for its own purpose, so neither can pass
for the other or for a bundle, a card or a courier proof:

    refusal   whistle/record-refusal/v1   the inbox cannot open or authenticate the record
                                          (a "poison" record) and never will
    removal   whistle/record-removal/v1   a manager ordered the record removed

The signed message is compact JSON with sorted keys (protocol.md, "Record orders"):

    {"case": 32 hex, "hash": 64 hex, "install": the server's install id,
     "kind": "submission" | "followup" | "reply", "reason": short text (≤ 200 characters),
     "record": 32 hex, "v": 2}

``kind`` (version 2) is the kind of record the order is about: the server applies it only to
a record of that kind, so an order about a follow-up can never take a whole case with it
because a database writer relabelled the row as a submission. Version 1 orders (no ``kind``)
are still read; their ``record_kind`` is None, as is that of a removal of a record the inbox
never saw when the manager did not say its kind.

``hash`` is the record hash (BLAKE2b-256, protocol.md §8) of the envelope the order is
about, so an order never deletes other content stored under the same id; a removal may give
``null`` instead (the inbox never saw the record: whatever the server holds under that id
and case goes). ``install`` binds the order to one server. The orders travel in a replies
bundle's manifest (``extra``), covered by its signature too, or alone as a file the server
operator applies (``whistle server remove-record``).
"""

import json
import re
from dataclasses import dataclass
from typing import Any

from whistle.crypto.errors import MalformedError, UnsupportedVersionError
from whistle.crypto.signing import (
    RECORD_REFUSAL,
    RECORD_REMOVAL,
    sign,
    unverified_message,
    verify,
)

VERSION = 2
#: Versions read: 1 (no record kind) and 2.
VERSIONS = (1, 2)
#: Record kinds an order can name (the server's record kinds).
RECORD_KINDS = ("submission", "followup", "reply")
MAX_REASON_CHARS = 200
MAX_ORDER_BYTES = 1024
#: Order kind → signature purpose.
PURPOSE = {"refusal": RECORD_REFUSAL, "removal": RECORD_REMOVAL}
_HEX32 = re.compile(r"[0-9a-f]{32}")
_HEX64 = re.compile(r"[0-9a-f]{64}")
_FIELDS_V1 = {"case", "hash", "install", "reason", "record", "v"}
_FIELDS = {1: _FIELDS_V1, 2: _FIELDS_V1 | {"kind"}}


@dataclass(frozen=True)
class RecordOrder:
    """One record the office wants gone from one server."""

    kind: str  # "refusal" or "removal"
    install_id: str
    record_id: str
    case_id: str
    record_hash: str | None  # hex; None: any content (removals only)
    reason: str
    #: "submission", "followup" or "reply"; None: any kind (a version 1 order, or a removal of a
    #: record the inbox never saw whose kind the manager did not give).
    record_kind: str | None
    version: int = VERSION

    def __post_init__(self) -> None:
        if self.kind not in PURPOSE:
            raise ValueError(f"unknown order kind {self.kind!r}")
        if self.version not in VERSIONS:
            raise ValueError(f"unknown order version {self.version!r}")
        if self.record_hash is None and self.kind != "removal":
            raise MalformedError("a refusal names the record hash it refuses")
        if self.version == 1 and self.record_kind is not None:
            raise ValueError("a version 1 order names no record kind")
        if self.record_kind is None and self.version > 1 and self.kind != "removal":
            raise MalformedError("a refusal names the kind of record it refuses")
        if self.record_kind is not None and self.record_kind not in RECORD_KINDS:
            raise MalformedError("the order's record kind is not submission, followup or reply")
        _check_fields(self.install_id, self.record_id, self.case_id, self.record_hash, self.reason)

    def applies_to(self, record_kind: str) -> bool:
        """Whether this order may be applied to a stored record of ``record_kind``."""
        return self.record_kind is None or self.record_kind == record_kind

    def message(self) -> bytes:
        body: dict[str, Any] = {
            "case": self.case_id,
            "hash": self.record_hash,
            "install": self.install_id,
            "reason": self.reason,
            "record": self.record_id,
            "v": self.version,
        }
        if self.version > 1:
            body["kind"] = self.record_kind
        return json.dumps(body, sort_keys=True, separators=(",", ":")).encode("utf-8")


def _check_fields(install: Any, record: Any, case: Any, digest: Any, reason: Any) -> None:
    if not isinstance(install, str) or not _HEX32.fullmatch(install):
        raise MalformedError("the order's install id is malformed")
    if not isinstance(record, str) or not _HEX32.fullmatch(record):
        raise MalformedError("the order's record id is not 32 lower-case hex characters")
    if not isinstance(case, str) or not _HEX32.fullmatch(case):
        raise MalformedError("the order's case id is not 32 lower-case hex characters")
    if digest is not None and (not isinstance(digest, str) or not _HEX64.fullmatch(digest)):
        raise MalformedError("the order's record hash is not 64 lower-case hex characters")
    if not isinstance(reason, str) or len(reason) > MAX_REASON_CHARS or not reason.isprintable():
        raise MalformedError("the order's reason is not a short line of text")


def sign_order(signing_seed: bytes, order: RecordOrder) -> bytes:
    """The order as a signed object (protocol.md §8) for its kind's purpose."""
    return sign(signing_seed, PURPOSE[order.kind], order.message())


def read_order(blob: bytes, kind: str, *, office_signing_key: bytes) -> RecordOrder:
    """A verified order of ``kind`` (``CryptoError`` subclasses if anything is wrong).

    ``WrongPurposeError``: signed for something else (a removal offered as a refusal, a
    card, …); ``BadSignatureError``: not the office's key; ``MalformedError``: bad fields.
    """
    if len(blob) > MAX_ORDER_BYTES:
        raise MalformedError("the order is too long")
    return _parse(verify(office_signing_key, PURPOSE[kind], blob), kind)


def stored_order(blob: bytes, kind: str) -> RecordOrder:
    """An order the office signed and keeps in its own database (the inbox's ``outgoing``
    rows): read back without verifying again; the inbox trusts its own rows as it does its
    keyring."""
    return _parse(unverified_message(blob), kind)


def _parse(message: bytes, kind: str) -> RecordOrder:
    try:
        body = json.loads(message.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise MalformedError("the order is not JSON") from exc
    version = body.get("v") if isinstance(body, dict) else None
    if isinstance(version, bool) or not isinstance(version, int):
        raise MalformedError("the order's fields are not those of a version 1 or 2 order")
    if version > VERSION:
        raise UnsupportedVersionError("record order", version, VERSIONS)
    if version not in VERSIONS or set(body) != _FIELDS[version]:
        raise MalformedError("the order's fields are not those of a version 1 or 2 order")
    order = RecordOrder(
        kind=kind,
        install_id=body["install"],
        record_id=body["record"],
        case_id=body["case"],
        record_hash=body["hash"],
        reason=body["reason"],
        record_kind=body.get("kind"),
        version=version,
    )
    if order.message() != message:
        raise MalformedError("the order is not in its canonical form")
    return order
