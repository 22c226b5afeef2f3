"""Signed bundle manifests (docs/threat-model.md §3.7, docs/protocol.md).

A manifest says which install a bundle belongs to, which way it travels, its
sequence number, the hash of the previous bundle in that direction, and the id
and hash of every record it carries. Its body is JSON (UTF-8, sorted keys, no
spaces), signed for the purpose ``whistle/bundle/v1``. The bundle format that
carries it is the bundles module's business; this module only builds and
checks the signed statement.
"""

import json
import re
from dataclasses import dataclass, field
from typing import Any

from whistle.crypto import signing
from whistle.crypto.errors import CryptoError, ManifestError, UnsupportedVersionError

VERSION = 1
DIRECTIONS = ("outbox", "replies")
MAX_RECORDS = 100_000
_ID = re.compile(r"[0-9a-f]{32}")
_HASH = re.compile(r"[0-9a-f]{64}")
_KIND = re.compile(r"[a-z][a-z-]{0,31}")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


@dataclass(frozen=True)
class ManifestRecord:
    """A record carried by a bundle: its id, kind, record hash, case and day."""

    id: str
    kind: str
    hash: str
    case: str
    day: str


@dataclass(frozen=True)
class Manifest:
    install_id: str
    direction: str
    sequence: int
    previous: str | None
    created: str
    records: tuple[ManifestRecord, ...]
    extra: dict[str, Any] = field(default_factory=dict)

    def body(self) -> bytes:
        document = {
            "version": VERSION,
            "install_id": self.install_id,
            "direction": self.direction,
            "sequence": self.sequence,
            "previous": self.previous,
            "created": self.created,
            "records": [
                {"id": r.id, "kind": r.kind, "hash": r.hash, "case": r.case, "day": r.day}
                for r in self.records
            ],
            "extra": self.extra,
        }
        return json.dumps(document, sort_keys=True, separators=(",", ":")).encode("utf-8")


def sign_manifest(manifest: Manifest, seed: bytes) -> bytes:
    """The signed manifest (``whistle/bundle/v1``); checks the manifest is well-formed first."""
    body = manifest.body()
    _parse(json.loads(body))
    return signing.sign(seed, signing.BUNDLE, body)


def verify_manifest(blob: bytes, public_key: bytes) -> Manifest:
    """The manifest inside ``blob``, once its purpose and signature check out."""
    message = signing.verify(public_key, signing.BUNDLE, blob)
    try:
        document = json.loads(message.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise ManifestError("the manifest is not JSON") from exc
    return _parse(document)


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise ManifestError(message)


def _parse(document: Any) -> Manifest:
    try:
        return _parse_fields(document)
    except CryptoError:
        raise
    except (KeyError, TypeError, AttributeError) as exc:
        raise ManifestError("the manifest is missing a field or has one of the wrong type") from exc


def _parse_fields(document: Any) -> Manifest:
    _require(isinstance(document, dict), "the manifest is not an object")
    version = document["version"]
    _require(isinstance(version, int), "the manifest has no version")
    if version != VERSION:
        raise UnsupportedVersionError("manifest", version, (VERSION,))
    install_id = document["install_id"]
    _require(isinstance(install_id, str) and bool(_ID.fullmatch(install_id)), "bad install id")
    direction = document["direction"]
    _require(direction in DIRECTIONS, "the direction is neither outbox nor replies")
    sequence = document["sequence"]
    _require(
        isinstance(sequence, int) and not isinstance(sequence, bool) and 1 <= sequence < 2**63,
        "the sequence number is not a positive integer",
    )
    previous = document["previous"]
    _require(previous is None or bool(_HASH.fullmatch(previous)), "bad previous-bundle hash")
    created = document["created"]
    _require(isinstance(created, str) and bool(_DATE.fullmatch(created)), "bad creation date")
    raw_records = document["records"]
    _require(isinstance(raw_records, list) and len(raw_records) <= MAX_RECORDS, "bad record list")
    records = []
    for entry in raw_records:
        _require(isinstance(entry, dict), "a record entry is not an object")
        record = ManifestRecord(
            entry["id"], entry["kind"], entry["hash"], entry["case"], entry["day"]
        )
        _require(isinstance(record.id, str) and bool(_ID.fullmatch(record.id)), "bad record id")
        _require(isinstance(record.kind, str) and bool(_KIND.fullmatch(record.kind)), "bad kind")
        _require(isinstance(record.hash, str) and bool(_HASH.fullmatch(record.hash)), "bad hash")
        _require(isinstance(record.case, str) and bool(_ID.fullmatch(record.case)), "bad case id")
        _require(isinstance(record.day, str) and bool(_DATE.fullmatch(record.day)), "bad day")
        records.append(record)
    # One id, one record: the bundle holds one "record/<id>" part per id, whatever its kind.
    _require(len({r.id for r in records}) == len(records), "a record is listed twice")
    extra = document.get("extra", {})
    _require(isinstance(extra, dict), "the manifest's extra field is not an object")
    return Manifest(install_id, direction, sequence, previous, created, tuple(records), extra)
