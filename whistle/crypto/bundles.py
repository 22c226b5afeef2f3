"""Bundle files: what a person carries between the server and the offline inbox.

A bundle is one envelope (protocol §5) sealed to the receiving side's bundle
key, record type ``bundle-outbox`` (server → inbox) or ``bundle-replies``
(inbox → server), case id all zeros. Its parts, in order:

    "manifest"        bytes: the signed manifest (purpose whistle/bundle/v1)
    "record/<id>"     bytes: one record's envelope, once per manifest record

Reading verifies everything before handing anything to the caller: the
envelope opens with our key (else: not addressed to us), the manifest's
signature checks with the pinned key, it belongs to our install and travels in
the expected direction, and every record is present exactly once with the hash
the manifest lists. Only then does the caller see the records.

A bundle's id is BLAKE2b-256("whistle/bundle-id/v1" ‖ signed manifest): the
next bundle in the same direction names it as ``previous``.
"""

import io
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, BinaryIO

from whistle.crypto.envelope import (
    EnvelopeWriter,
    associated_data,
    open_envelope,
    sealed_to,
)
from whistle.crypto.errors import CryptoError, TamperedError
from whistle.crypto.framing import PartData, PartKind, PartStart
from whistle.crypto.hashing import RecordHasher, generic_hash
from whistle.crypto.manifest import (
    DIRECTIONS,
    MAX_RECORDS,
    Manifest,
    ManifestRecord,
    sign_manifest,
    verify_manifest,
)

MAX_MANIFEST_BYTES = 32 * 1024 * 1024
_NO_CASE = bytes(16)


class BundleError(CryptoError):
    """A bundle was refused; nothing from it was applied."""


class BundleMismatchError(BundleError):
    """The bundle's records do not match its signed manifest."""


class WrongInstallError(BundleError):
    """The bundle belongs to another install, or travels the other way."""


@dataclass(frozen=True)
class BundleRecord:
    id: str
    kind: str
    case: str
    day: str
    envelope: bytes


@dataclass(frozen=True)
class VerifiedBundle:
    bundle_id: str
    manifest: Manifest
    records: tuple[BundleRecord, ...]


def bundle_id(signed_manifest: bytes) -> str:
    return generic_hash(b"whistle/bundle-id/v1" + signed_manifest).hex()


def bundle_associated_data(direction: str) -> bytes:
    if direction not in DIRECTIONS:
        raise ValueError(f"a bundle travels as {' or '.join(DIRECTIONS)}")
    return associated_data(f"bundle-{direction}", _NO_CASE)


def record_hash_hex(envelope: bytes) -> str:
    hasher = RecordHasher()
    hasher.update(envelope)
    return hasher.digest().hex()


def signed_manifest(
    *,
    records: Sequence[BundleRecord],
    signing_seed: bytes,
    install_id: str,
    direction: str,
    sequence: int,
    previous: str | None,
    created: str,
    extra: dict[str, Any] | None = None,
) -> tuple[Manifest, bytes]:
    """A bundle's manifest and its signed form, without writing the bundle.

    Signing is deterministic: the same content gives the same bytes, so the same ``bundle_id``.
    """
    if len(records) > MAX_RECORDS:
        raise ValueError(f"a bundle carries at most {MAX_RECORDS} records")
    manifest = Manifest(
        install_id=install_id,
        direction=direction,
        sequence=sequence,
        previous=previous,
        created=created,
        records=tuple(
            ManifestRecord(r.id, r.kind, record_hash_hex(r.envelope), r.case, r.day)
            for r in records
        ),
        extra=extra or {},
    )
    return manifest, sign_manifest(manifest, signing_seed)


def write_bundle(
    out: BinaryIO,
    *,
    records: Sequence[BundleRecord],
    signing_seed: bytes,
    recipient_bundle_key: bytes,
    install_id: str,
    direction: str,
    sequence: int,
    previous: str | None,
    created: str,
    extra: dict[str, Any] | None = None,
) -> VerifiedBundle:
    """Write a bundle to ``out``; returns what the other side will see when it verifies it."""
    manifest, signed = signed_manifest(
        records=records,
        signing_seed=signing_seed,
        install_id=install_id,
        direction=direction,
        sequence=sequence,
        previous=previous,
        created=created,
        extra=extra,
    )
    writer = EnvelopeWriter(
        out, [sealed_to(recipient_bundle_key)], bundle_associated_data(direction)
    )
    writer.add_bytes("manifest", signed)
    for record in records:
        writer.add_bytes(f"record/{record.id}", record.envelope)
    writer.finish()
    return VerifiedBundle(bundle_id(signed), manifest, tuple(records))


def read_bundle(
    source: BinaryIO,
    *,
    bundle_secret_key: bytes,
    signer_public_key: bytes,
    install_id: str,
    direction: str,
) -> VerifiedBundle:
    """Verify a whole bundle and return its manifest and records.

    Raises ``WrongKeyError`` (not addressed to this side), ``TamperedError`` /
    ``TruncatedError`` / ``MalformedError`` (damaged), ``BadSignatureError`` /
    ``WrongPurposeError`` (not signed by the pinned key for bundles),
    ``UnsupportedVersionError`` (made by a newer Whistle: upgrade),
    ``WrongInstallError`` and ``BundleMismatchError``.
    """
    opened = open_envelope(
        source, bundle_secret_key, bundle_associated_data(direction), max_parts=MAX_RECORDS + 1
    )
    parts = opened.parts
    if not parts or parts[0].name != "manifest" or parts[0].kind != PartKind.BYTES:
        raise BundleMismatchError("the bundle does not start with its manifest")
    if parts[0].size > MAX_MANIFEST_BYTES:
        raise BundleMismatchError("the manifest is too large")
    events = opened.events()
    signed = bytearray()
    next(events)
    for event in events:
        if not isinstance(event, PartData):
            break
        signed += event.data
    manifest = verify_manifest(bytes(signed), signer_public_key)
    if manifest.install_id != install_id:
        raise WrongInstallError("the bundle belongs to another install")
    if manifest.direction != direction:
        raise WrongInstallError(f"the bundle travels as {manifest.direction}, not {direction}")
    expected = {f"record/{r.id}": r for r in manifest.records}
    names = [p.name for p in parts[1:]]
    if len(names) != len(set(names)) or set(names) != set(expected):
        raise BundleMismatchError("the bundle's records are not the ones its manifest lists")
    records: list[BundleRecord] = []
    current: ManifestRecord | None = None
    content = io.BytesIO()
    for event in events:
        if isinstance(event, PartStart):
            current, content = expected[event.name], io.BytesIO()
        elif isinstance(event, PartData):
            content.write(event.data)
        elif current is not None:
            envelope = content.getvalue()
            if record_hash_hex(envelope) != current.hash:
                raise BundleMismatchError(f"record {current.id} does not match its manifest hash")
            records.append(
                BundleRecord(current.id, current.kind, current.case, current.day, envelope)
            )
    if len(records) != len(manifest.records):
        raise TamperedError("the bundle changed while it was read")
    return VerifiedBundle(bundle_id(bytes(signed)), manifest, tuple(records))
