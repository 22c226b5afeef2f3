"""Purpose-bound signatures, self-signed cards pinned by fingerprint, signed manifests."""

import base64
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from whistle import crypto
from whistle.crypto import (
    BUNDLE,
    COURIER_CHALLENGE,
    BadSignatureError,
    CardError,
    Desk,
    MalformedError,
    Manifest,
    ManifestError,
    ManifestRecord,
    UnsupportedVersionError,
    WrongPurposeError,
    generate_box_keypair,
    generate_signing_keypair,
    make_office_card,
    make_server_card,
    read_card,
    sign,
    sign_manifest,
    verify,
    verify_manifest,
)

KEY = generate_signing_keypair()
OTHER = generate_signing_keypair()


def test_verify_returns_the_message():
    assert verify(KEY.public_key, BUNDLE, sign(KEY.seed, BUNDLE, b"m")) == b"m"


def test_wrong_purpose_is_named_before_the_signature_is_checked():
    blob = sign(KEY.seed, BUNDLE, b"m")
    with pytest.raises(WrongPurposeError, match="whistle/bundle/v1"):
        verify(KEY.public_key, COURIER_CHALLENGE, blob)


def test_relabelled_purpose_fails_the_signature():
    blob = bytearray(sign(KEY.seed, COURIER_CHALLENGE, b"m"))
    # Same length labels are impossible here, so splice the label: any change breaks it.
    blob[10] ^= 1
    with pytest.raises((BadSignatureError, WrongPurposeError)):
        verify(KEY.public_key, COURIER_CHALLENGE, bytes(blob))


def test_other_key_and_unknown_purpose():
    blob = sign(KEY.seed, BUNDLE, b"m")
    with pytest.raises(BadSignatureError):
        verify(OTHER.public_key, BUNDLE, blob)
    with pytest.raises(ValueError, match="purpose"):
        sign(KEY.seed, "whistle/anything/v1", b"m")


@given(st.binary(max_size=300))
def test_random_blobs_are_refused(blob):
    with pytest.raises(
        (MalformedError, BadSignatureError, WrongPurposeError, UnsupportedVersionError)
    ):
        verify(KEY.public_key, BUNDLE, blob)


@given(st.integers(0, 200), st.integers(0, 7))
def test_every_bit_of_a_signed_object_matters(index, bit):
    blob = bytearray(sign(KEY.seed, BUNDLE, b"the message"))
    index %= len(blob)
    blob[index] ^= 1 << bit
    with pytest.raises(
        (MalformedError, BadSignatureError, WrongPurposeError, UnsupportedVersionError)
    ):
        verify(KEY.public_key, BUNDLE, bytes(blob))


def office_card(**changes) -> bytes:
    desk = generate_box_keypair()
    values = {
        "name": "Oficina Antifrau",
        "bundle_key": generate_box_keypair().public_key,
        "desks": [Desk("antifrau", "Anti-fraud", desk.public_key)],
        "custodian_key": generate_box_keypair().public_key,
        "epoch": 1,
        "created": "2026-11-27",
    } | changes
    return make_office_card(KEY.seed, **values)


def test_office_card_round_trip_and_pinning():
    card = read_card(office_card())
    assert isinstance(card, crypto.OfficeCard)
    assert card.fingerprint == crypto.fingerprint(KEY.public_key)
    assert len(card.fingerprint.replace(" ", "")) == 32  # 160 bits
    read_card(office_card(), pinned_fingerprint=card.fingerprint.lower().replace(" ", "-"))
    with pytest.raises(CardError, match="not the pinned"):
        read_card(office_card(), pinned_fingerprint=crypto.fingerprint(OTHER.public_key))


def test_server_card_round_trip():
    data = make_server_card(
        OTHER.seed,
        name="Bústia",
        bundle_key=generate_box_keypair().public_key,
        install_id="ab" * 16,
        created="2026-11-27",
    )
    card = read_card(data)
    assert isinstance(card, crypto.ServerCard)
    assert card.install_id == "ab" * 16


def test_card_body_cannot_be_edited():
    document = json.loads(office_card())
    signed = bytearray(base64.b64decode(document["signed"]))
    at = signed.index(b"Antifrau")
    signed[at] = ord("X")
    document["signed"] = base64.b64encode(bytes(signed)).decode()
    with pytest.raises(CardError, match="does not verify"):
        read_card(json.dumps(document).encode())


def test_card_shown_fingerprint_is_not_trusted():
    document = json.loads(office_card())
    document["fingerprint"] = crypto.fingerprint(OTHER.public_key)
    card = read_card(json.dumps(document).encode())
    assert card.fingerprint == crypto.fingerprint(KEY.public_key)


@pytest.mark.parametrize(
    "changes",
    [{"desks": []}, {"epoch": 0}, {"created": "yesterday"}, {"name": ""}],
)
def test_invalid_card_contents_are_refused(changes):
    with pytest.raises(CardError):
        office_card(**changes)


@given(st.binary(max_size=400))
def test_random_card_files_are_refused(data):
    with pytest.raises((CardError, UnsupportedVersionError)):
        read_card(data)


def test_duplicate_desk_ids_are_refused():
    key = generate_box_keypair().public_key
    with pytest.raises(CardError, match="share an id"):
        office_card(desks=[Desk("a", "A", key), Desk("a", "B", key)])


def manifest(**changes) -> Manifest:
    values = {
        "install_id": "0" * 32,
        "direction": "outbox",
        "sequence": 1,
        "previous": None,
        "created": "2026-11-27",
        "records": (ManifestRecord("1" * 32, "submission", "2" * 64, "3" * 32, "2026-11-26"),),
    } | changes
    return Manifest(**values)


def test_manifest_round_trip():
    signed = sign_manifest(manifest(extra={"held_back": 2}), KEY.seed)
    result = verify_manifest(signed, KEY.public_key)
    assert result == manifest(extra={"held_back": 2})


def test_manifest_signed_by_another_key_or_purpose():
    signed = sign_manifest(manifest(), KEY.seed)
    with pytest.raises(BadSignatureError):
        verify_manifest(signed, OTHER.public_key)
    challenge = sign(KEY.seed, COURIER_CHALLENGE, manifest().body())
    with pytest.raises(WrongPurposeError):
        verify_manifest(challenge, KEY.public_key)


@pytest.mark.parametrize(
    "changes",
    [
        {"direction": "sideways"},
        {"sequence": 0},
        {"install_id": "xyz"},
        {"previous": "00"},
        {
            "records": (ManifestRecord("1" * 32, "submission", "2" * 64, "3" * 32, "2026-11-26"),)
            * 2
        },
        {"records": (ManifestRecord("short", "submission", "2" * 64, "3" * 32, "2026-11-26"),)},
    ],
)
def test_malformed_manifests_cannot_be_signed(changes):
    with pytest.raises(ManifestError):
        sign_manifest(manifest(**changes), KEY.seed)


def test_signed_garbage_is_a_manifest_error():
    with pytest.raises(ManifestError):
        verify_manifest(sign(KEY.seed, BUNDLE, b"[1, 2]"), KEY.public_key)
    with pytest.raises(ManifestError):
        verify_manifest(sign(KEY.seed, BUNDLE, b"\xff"), KEY.public_key)
    newer = json.loads(manifest().body()) | {"version": 2}
    with pytest.raises(UnsupportedVersionError):
        verify_manifest(sign(KEY.seed, BUNDLE, json.dumps(newer).encode()), KEY.public_key)


def test_an_office_card_carries_a_checked_time_zone() -> None:
    from whistle.crypto import (
        CardError,
        Desk,
        generate_box_keypair,
        generate_signing_keypair,
        make_office_card,
        read_card,
    )

    def card(time_zone: str | None) -> bytes:
        return make_office_card(
            generate_signing_keypair().seed,
            name="O",
            bundle_key=generate_box_keypair().public_key,
            desks=[Desk("a", "A", generate_box_keypair().public_key)],
            custodian_key=generate_box_keypair().public_key,
            epoch=1,
            created="2026-11-01",
            time_zone=time_zone,
        )

    assert read_card(card("Europe/Madrid")).time_zone == "Europe/Madrid"
    assert read_card(card(None)).time_zone is None  # cards made before the field
    for bad in ("Mars/Olympus", "../../etc/passwd", ""):
        with pytest.raises(CardError):
            card(bad)
