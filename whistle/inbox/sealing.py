"""Small values at rest (record summaries, notes, reasons) sealed to a case key (or, for the
office's own logs, and in an office not yet moved into desk compartments, the storage key).

Each is an envelope (``whistle.crypto.seal``) whose associated data is an
inbox-internal record type and the case id, so a sealed note cannot be passed
off as another case's, or as a record summary.
"""

import json
from collections.abc import Sequence
from typing import Any

from whistle.crypto import PartKind, associated_data, open_bytes, seal, sealed_to

STORED_PREFIX = "stored-"
META = "stored-meta"
NOTE = "note"
REASON = "disclosure-reason"
DECISION = "decision-reason"
LABELS = "labels"
DRAFT = "reply-draft"
INDEX = "search-index"
REGISTER = "register-line"
RECUSAL = "recusal-reason"
VERIFICATION = "source-keys"
#: The index belongs to no case: its associated data carries 16 zero bytes.
NO_CASE = "00" * 16


def case_bytes(case_id: str) -> bytes:
    return bytes.fromhex(case_id)


def seal_text(storage_public: bytes, record_type: str, case_id: str, text: str) -> bytes:
    return seal(
        [(PartKind.TEXT, "text", text.encode("utf-8"))],
        [sealed_to(storage_public)],
        associated_data(record_type, case_bytes(case_id)),
    )


def open_text(secret: bytes | Sequence[bytes], record_type: str, case_id: str, blob: bytes) -> str:
    message = open_bytes(blob, secret, associated_data(record_type, case_bytes(case_id)))
    return message.part("text").text


def seal_json(storage_public: bytes, record_type: str, case_id: str, value: Any) -> bytes:
    return seal_text(storage_public, record_type, case_id, json.dumps(value, ensure_ascii=False))


def open_json(secret: bytes | Sequence[bytes], record_type: str, case_id: str, blob: bytes) -> Any:
    return json.loads(open_text(secret, record_type, case_id, blob))
