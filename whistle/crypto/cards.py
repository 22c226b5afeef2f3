"""Key cards: the public half of an office or a server, self-signed, pinned by fingerprint.

A card file is JSON: ``{"format": "whistle-card", "fingerprint": …, "signed": …}``
where ``signed`` is the base64 of a signed object (purpose ``whistle/card/v1``)
whose message is the card body, JSON in UTF-8. The fingerprint shown outside is
only a convenience: reading a card recomputes it from the signing key inside.

The fingerprint is 160 bits of BLAKE2b over the signing public key, written as
32 Crockford base32 characters in eight groups of four — short enough to read
aloud over the phone, long enough that nobody can make a key to match one.
Pinning the signing key rather than the whole card lets an office rotate its
desk keys (a new card, higher epoch, same signing key) without a new pin.

Each card also carries a ``bundle_key`` (X25519): bundles travelling to that
side are sealed to it, so only the other side can read even their manifest.
"""

import base64
import binascii
import json
import re
import zoneinfo
from dataclasses import dataclass, field, replace
from typing import Any

from whistle.crypto import signing
from whistle.crypto.codes import encode_base32, group
from whistle.crypto.errors import CardError, CryptoError, UnsupportedVersionError
from whistle.crypto.hashing import generic_hash
from whistle.crypto.keys import signing_keypair_from_seed

VERSION = 1
FINGERPRINT_BITS = 160
MAX_CARD_BYTES = 64 * 1024
MAX_DESKS = 32
_DESK_ID = re.compile(r"[a-z0-9][a-z0-9-]{0,31}")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def fingerprint(signing_public_key: bytes) -> str:
    """The fingerprint people compare, grouped: ``XXXX XXXX … XXXX`` (8 groups)."""
    digest = generic_hash(b"whistle/fingerprint/v1" + signing_public_key, size=20)
    return group(encode_base32(int.from_bytes(digest, "big"), FINGERPRINT_BITS // 5))


def same_fingerprint(a: str, b: str) -> bool:
    """Whether two fingerprints as people typed them are the same."""

    def compact(text: str) -> str:
        return text.replace(" ", "").replace("-", "").upper()

    return compact(a) == compact(b)


@dataclass(frozen=True)
class Desk:
    id: str
    name: str
    public_key: bytes


@dataclass(frozen=True)
class OfficeCard:
    name: str
    signing_key: bytes
    bundle_key: bytes
    desks: tuple[Desk, ...]
    custodian_key: bytes
    epoch: int
    created: str
    #: The office's time zone (IANA name): the server dates reports there, the inbox counts
    #: the legal clocks there. None on cards made before offices declared it.
    time_zone: str | None = None
    #: The signed object (§8) the card was read from: what a page verifies for itself.
    signed: bytes = field(default=b"", compare=False, repr=False)

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.signing_key)

    def desk(self, desk_id: str) -> Desk:
        for desk in self.desks:
            if desk.id == desk_id:
                return desk
        raise CardError(f"the office card has no desk {desk_id!r}")


@dataclass(frozen=True)
class ServerCard:
    name: str
    signing_key: bytes
    bundle_key: bytes
    install_id: str
    created: str

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.signing_key)


Card = OfficeCard | ServerCard


def make_office_card(
    seed: bytes,
    *,
    name: str,
    bundle_key: bytes,
    desks: list[Desk],
    custodian_key: bytes,
    epoch: int,
    created: str,
    time_zone: str | None = None,
) -> bytes:
    """The card file an office gives its server."""
    body: dict[str, Any] = {
        "kind": "office",
        "version": VERSION,
        "name": name,
        "signing_key": signing_keypair_from_seed(seed).public_key.hex(),
        "bundle_key": bundle_key.hex(),
        "desks": [{"id": d.id, "name": d.name, "public_key": d.public_key.hex()} for d in desks],
        "custodian_key": custodian_key.hex(),
        "epoch": epoch,
        "created": created,
    }
    if time_zone is not None:
        body["time_zone"] = time_zone
    card = _parse_body(body)
    return _card_file(seed, body, card.fingerprint)


def make_server_card(
    seed: bytes, *, name: str, bundle_key: bytes, install_id: str, created: str
) -> bytes:
    """The card file a server gives the inbox."""
    body = {
        "kind": "server",
        "version": VERSION,
        "name": name,
        "signing_key": signing_keypair_from_seed(seed).public_key.hex(),
        "bundle_key": bundle_key.hex(),
        "install_id": install_id,
        "created": created,
    }
    card = _parse_body(body)
    return _card_file(seed, body, card.fingerprint)


def _card_file(seed: bytes, body: dict[str, Any], shown_fingerprint: str) -> bytes:
    raw = json.dumps(body, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    signed = signing.sign(seed, signing.CARD, raw.encode("utf-8"))
    document = {
        "format": "whistle-card",
        "fingerprint": shown_fingerprint,
        "signed": base64.b64encode(signed).decode("ascii"),
    }
    return (json.dumps(document, indent=2) + "\n").encode("utf-8")


def read_card(data: bytes, *, pinned_fingerprint: str | None = None) -> Card:
    """Parse and verify a card file; with a pin, also require that fingerprint."""
    if len(data) > MAX_CARD_BYTES:
        raise CardError("a card file is at most 64 KiB")
    try:
        document = json.loads(data.decode("utf-8"))
        if not isinstance(document, dict) or document.get("format") != "whistle-card":
            raise CardError("not a Whistle card file")
        signed = base64.b64decode(document["signed"], validate=True)
        unverified = json.loads(signing.unverified_message(signed).decode("utf-8"))
        signing_key = _hex_key(unverified, "signing_key")
        message = signing.verify(signing_key, signing.CARD, signed)
        body = json.loads(message.decode("utf-8"))
    except CryptoError as exc:
        if isinstance(exc, CardError | UnsupportedVersionError):
            raise
        raise CardError(f"the card does not verify: {exc}") from exc
    except (KeyError, TypeError, ValueError, binascii.Error) as exc:
        raise CardError("the card file is malformed") from exc
    card = _parse_body(body)
    if isinstance(card, OfficeCard):
        card = replace(card, signed=signed)
    if pinned_fingerprint is not None and not same_fingerprint(
        card.fingerprint, pinned_fingerprint
    ):
        raise CardError(
            f"this card's fingerprint is {card.fingerprint}, not the pinned {pinned_fingerprint}"
        )
    return card


def _hex_key(body: Any, field: str) -> bytes:
    if not isinstance(body, dict):
        raise CardError("the card body is not an object")
    value = body.get(field)
    if not isinstance(value, str) or not re.fullmatch(r"[0-9a-f]{64}", value):
        raise CardError(f"the card's {field} is not a 32-byte key")
    return bytes.fromhex(value)


def _text(body: dict[str, Any], field: str, limit: int = 200) -> str:
    value = body.get(field)
    if not isinstance(value, str) or not 0 < len(value) <= limit or "\x00" in value:
        raise CardError(f"the card's {field} is missing or too long")
    return value


def _time_zone(body: dict[str, Any]) -> str | None:
    if "time_zone" not in body:
        return None
    value = _text(body, "time_zone", 64)
    try:
        zoneinfo.ZoneInfo(value)
    except (ValueError, zoneinfo.ZoneInfoNotFoundError) as exc:
        raise CardError("the card's time zone is not a zone name like Europe/Madrid") from exc
    return value


def _parse_body(body: Any) -> Card:
    if not isinstance(body, dict):
        raise CardError("the card body is not an object")
    version = body.get("version")
    if not isinstance(version, int):
        raise CardError("the card has no version")
    if version != VERSION:
        raise UnsupportedVersionError("card", version, (VERSION,))
    created = _text(body, "created", 10)
    if not _DATE.fullmatch(created):
        raise CardError("the card's creation date is not YYYY-MM-DD")
    kind = body.get("kind")
    if kind == "office":
        desks_raw = body.get("desks")
        if not isinstance(desks_raw, list) or not 1 <= len(desks_raw) <= MAX_DESKS:
            raise CardError(f"an office card lists 1 to {MAX_DESKS} desks")
        desks = []
        for entry in desks_raw:
            desk_id = _text(entry, "id", 32) if isinstance(entry, dict) else ""
            if not _DESK_ID.fullmatch(desk_id):
                raise CardError("a desk id is lower-case letters, digits and dashes")
            desks.append(Desk(desk_id, _text(entry, "name"), _hex_key(entry, "public_key")))
        if len({d.id for d in desks}) != len(desks):
            raise CardError("two desks share an id")
        epoch = body.get("epoch")
        if not isinstance(epoch, int) or isinstance(epoch, bool) or not 1 <= epoch < 2**31:
            raise CardError("the card's epoch is not a positive integer")
        return OfficeCard(
            name=_text(body, "name"),
            signing_key=_hex_key(body, "signing_key"),
            bundle_key=_hex_key(body, "bundle_key"),
            desks=tuple(desks),
            custodian_key=_hex_key(body, "custodian_key"),
            epoch=epoch,
            created=created,
            time_zone=_time_zone(body),
        )
    if kind == "server":
        install_id = _text(body, "install_id", 64)
        if not re.fullmatch(r"[0-9a-f]{32}", install_id):
            raise CardError("the install id is 16 bytes in hex")
        return ServerCard(
            name=_text(body, "name"),
            signing_key=_hex_key(body, "signing_key"),
            bundle_key=_hex_key(body, "bundle_key"),
            install_id=install_id,
            created=created,
        )
    raise CardError("the card is neither an office nor a server card")
