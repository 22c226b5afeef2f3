"""Bundle files: verified whole before anything is handed over."""

import io

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from whistle.crypto import (
    BUNDLE,
    COURIER_CHALLENGE,
    BadSignatureError,
    CryptoError,
    EnvelopeWriter,
    UnsupportedVersionError,
    WrongKeyError,
    WrongPurposeError,
    generate_box_keypair,
    generate_signing_keypair,
    sealed_to,
    sign,
)
from whistle.crypto.bundles import (
    BundleMismatchError,
    BundleRecord,
    WrongInstallError,
    bundle_associated_data,
    read_bundle,
    record_hash_hex,
    write_bundle,
)
from whistle.crypto.errors import ManifestError
from whistle.crypto.manifest import Manifest, ManifestRecord, sign_manifest

SERVER = generate_signing_keypair()
INBOX_BUNDLE = generate_box_keypair()
INSTALL = "ab" * 16
RECORDS = [
    BundleRecord("01" * 16, "submission", "cd" * 16, "2026-11-26", b"envelope one" * 100),
    BundleRecord("02" * 16, "followup", "cd" * 16, "2026-11-27", b"envelope two"),
]


def bundle(records=RECORDS, seed=SERVER.seed, install=INSTALL, sequence=1) -> bytes:
    out = io.BytesIO()
    write_bundle(
        out,
        records=records,
        signing_seed=seed,
        recipient_bundle_key=INBOX_BUNDLE.public_key,
        install_id=install,
        direction="outbox",
        sequence=sequence,
        previous=None,
        created="2026-11-27",
        extra={"note": "x"},
    )
    return out.getvalue()


def read(data: bytes, **changes):
    values = {
        "bundle_secret_key": INBOX_BUNDLE.secret_key,
        "signer_public_key": SERVER.public_key,
        "install_id": INSTALL,
        "direction": "outbox",
    } | changes
    return read_bundle(io.BytesIO(data), **values)


GOOD = bundle()


def test_round_trip():
    verified = read(GOOD)
    assert verified.records == tuple(RECORDS)
    assert verified.manifest.sequence == 1
    assert verified.manifest.extra == {"note": "x"}
    assert verified.bundle_id == read(GOOD).bundle_id
    assert read(bundle(records=[])).records == ()


def test_not_addressed_to_us():
    with pytest.raises(WrongKeyError):
        read(GOOD, bundle_secret_key=generate_box_keypair().secret_key)


def test_signed_by_another_key():
    with pytest.raises(BadSignatureError):
        read(bundle(seed=generate_signing_keypair().seed))


def test_from_another_install():
    with pytest.raises(WrongInstallError):
        read(bundle(install="ef" * 16))


def test_sequence_and_id_differ_between_bundles():
    assert read(bundle(sequence=2)).bundle_id != read(GOOD).bundle_id


def forged(manifest_records, parts, purpose_blob=None) -> bytes:
    manifest = Manifest(INSTALL, "outbox", 1, None, "2026-11-27", tuple(manifest_records))
    signed = purpose_blob or sign_manifest(manifest, SERVER.seed)
    out = io.BytesIO()
    writer = EnvelopeWriter(
        out, [sealed_to(INBOX_BUNDLE.public_key)], bundle_associated_data("outbox")
    )
    writer.add_bytes("manifest", signed)
    for name, content in parts:
        writer.add_bytes(name, content)
    writer.finish()
    return out.getvalue()


def listed(record: BundleRecord, digest: str | None = None) -> ManifestRecord:
    return ManifestRecord(
        record.id,
        record.kind,
        digest or record_hash_hex(record.envelope),
        record.case,
        record.day,
    )


def test_record_content_must_match_the_manifest_hash():
    record = RECORDS[0]
    data = forged([listed(record)], [(f"record/{record.id}", b"swapped content")])
    with pytest.raises(BundleMismatchError, match="hash"):
        read(data)


@pytest.mark.parametrize(
    "parts",
    [
        [],  # listed but missing
        [("record/" + "01" * 16, RECORDS[0].envelope)] * 2,  # duplicate
        [("record/" + "01" * 16, RECORDS[0].envelope), ("record/" + "03" * 16, b"x")],  # extra
    ],
)
def test_records_must_be_exactly_those_listed(parts):
    with pytest.raises(BundleMismatchError):
        read(forged([listed(RECORDS[0])], parts))


def test_one_id_listed_under_two_kinds_is_refused_as_listed_twice():
    """Review mismatch: an id listed twice (another kind) used to pass, then fail as "changed"."""
    record = RECORDS[0]
    twice = [
        listed(record),
        listed(BundleRecord(record.id, "reply", record.case, record.day, record.envelope)),
    ]
    with pytest.raises(ManifestError, match="listed twice"):
        read(forged(twice, [(f"record/{record.id}", record.envelope)]))


def test_a_manifest_signed_for_another_purpose_is_refused():
    manifest = Manifest(INSTALL, "outbox", 1, None, "2026-11-27", ())
    blob = sign(SERVER.seed, COURIER_CHALLENGE, manifest.body())
    with pytest.raises(WrongPurposeError):
        read(forged([], [], purpose_blob=blob))


def test_a_newer_manifest_version_says_upgrade():
    manifest = Manifest(INSTALL, "outbox", 1, None, "2026-11-27", ())
    body = manifest.body().replace(b'"version":1', b'"version":2')
    with pytest.raises(UnsupportedVersionError, match="upgrade"):
        read(forged([], [], purpose_blob=sign(SERVER.seed, BUNDLE, body)))


@settings(max_examples=60)
@given(st.data())
def test_any_damage_is_refused(data):
    index = data.draw(st.integers(0, len(GOOD) - 1))
    damaged = bytearray(GOOD)
    damaged[index] ^= 1 << data.draw(st.integers(0, 7))
    with pytest.raises(CryptoError):
        read(bytes(damaged))
    cut = data.draw(st.integers(0, len(GOOD) - 1))
    with pytest.raises(CryptoError):
        read(GOOD[:cut])
