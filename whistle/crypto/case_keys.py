"""Case key announcements: the office tells the server which key a case's follow-ups go to.

Once a case is in the inbox its readers are the holders of its case key (its desk, less
anyone who stepped aside), so a follow-up sealed to that key alone reaches exactly them; one
sealed to every desk's key of the card would be open to every desk while in transit. The
inbox announces the public half of each case's newest key generation in a replies bundle,
signed by the office signing key for its own purpose (docs/protocol.md, "Case keys"):

    purpose   whistle/case-key/v1
    message   compact JSON, sorted keys:
              {"case": 32 hex, "generation": integer ≥ 1, "key": 64 hex, "v": 1}

The browser checks the signature with the key of the card it pinned and the case id with
the one its code found, so a server can neither make up a key nor move one to another case.
A public key says nothing about the desk: case keys are made per case.
"""

import json
import re
from dataclasses import dataclass
from typing import Any

from whistle.crypto.errors import MalformedError, MisboundError, UnsupportedVersionError
from whistle.crypto.signing import CASE_KEY, sign, unverified_message, verify

VERSION = 1
MAX_ANNOUNCEMENT_BYTES = 512
#: Far above any case's key generations (one per step-aside or move).
MAX_GENERATION = 1_000_000
_HEX32 = re.compile(r"[0-9a-f]{32}")
_HEX64 = re.compile(r"[0-9a-f]{64}")
_FIELDS = {"case", "generation", "key", "v"}


@dataclass(frozen=True)
class CaseKeyAnnouncement:
    """The public half of one generation of one case's key."""

    case_id: bytes
    generation: int
    public_key: bytes

    def __post_init__(self) -> None:
        if len(self.case_id) != 16:
            raise MalformedError("a case id is 16 bytes")
        if len(self.public_key) != 32:
            raise MalformedError("a case key is 32 bytes")
        generation = self.generation
        if isinstance(generation, bool) or not isinstance(generation, int):
            raise MalformedError("the case key's generation is not a whole number")
        if not 1 <= generation <= MAX_GENERATION:
            raise MalformedError("the case key's generation is out of range")

    def message(self) -> bytes:
        body = {
            "case": self.case_id.hex(),
            "generation": self.generation,
            "key": self.public_key.hex(),
            "v": VERSION,
        }
        return json.dumps(body, sort_keys=True, separators=(",", ":")).encode("utf-8")


def sign_case_key(signing_seed: bytes, announcement: CaseKeyAnnouncement) -> bytes:
    """The announcement as a signed object (docs/protocol.md §15)."""
    return sign(signing_seed, CASE_KEY, announcement.message())


def read_case_key(
    blob: bytes, *, office_signing_key: bytes, case_id: bytes | None = None
) -> CaseKeyAnnouncement:
    """A verified announcement; with ``case_id``, it must be that case's.

    ``WrongPurposeError``: signed for something else; ``BadSignatureError``: not the
    office's key; ``MisboundError``: another case's key; ``MalformedError``: bad fields.
    """
    if len(blob) > MAX_ANNOUNCEMENT_BYTES:
        raise MalformedError("the case key announcement is too long")
    announcement = _parse(verify(office_signing_key, CASE_KEY, blob))
    if case_id is not None and announcement.case_id != case_id:
        raise MisboundError("the case key announced is another case's")
    return announcement


def stored_case_key(blob: bytes) -> CaseKeyAnnouncement:
    """An announcement this side signed or verified earlier, read back without verifying."""
    return _parse(unverified_message(blob))


def _parse(message: bytes) -> CaseKeyAnnouncement:
    try:
        body: Any = json.loads(message.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise MalformedError("the case key announcement is not JSON") from exc
    version = body.get("v") if isinstance(body, dict) else None
    if isinstance(version, int) and not isinstance(version, bool) and version > VERSION:
        raise UnsupportedVersionError("case key announcement", version, (VERSION,))
    if version != VERSION or set(body) != _FIELDS:
        raise MalformedError("the case key announcement's fields are not those of version 1")
    case, key = body["case"], body["key"]
    if not isinstance(case, str) or not _HEX32.fullmatch(case):
        raise MalformedError("the announced case id is not 32 lower-case hex characters")
    if not isinstance(key, str) or not _HEX64.fullmatch(key):
        raise MalformedError("the announced case key is not 64 lower-case hex characters")
    announcement = CaseKeyAnnouncement(bytes.fromhex(case), body["generation"], bytes.fromhex(key))
    if announcement.message() != message:
        raise MalformedError("the case key announcement is not in its canonical form")
    return announcement
