"""Record orders (protocol.md §15): what verifies, and each way one is refused."""

import json

import pytest

from whistle.crypto import generate_signing_keypair, sign
from whistle.crypto.errors import (
    BadSignatureError,
    MalformedError,
    UnsupportedVersionError,
    WrongPurposeError,
)
from whistle.crypto.orders import RecordOrder, read_order, sign_order
from whistle.crypto.signing import CARD, RECORD_REFUSAL

OFFICE = generate_signing_keypair()
FIELDS = {
    "install_id": "0a" * 16,
    "record_id": "1b" * 16,
    "case_id": "2c" * 16,
    "record_hash": "3d" * 32,
    "reason": "the envelope fails authentication",
    "record_kind": "followup",
}


def test_an_order_verifies_for_its_own_kind_only() -> None:
    order = RecordOrder(kind="refusal", **FIELDS)  # type: ignore[arg-type]
    blob = sign_order(OFFICE.seed, order)
    assert read_order(blob, "refusal", office_signing_key=OFFICE.public_key) == order
    with pytest.raises(WrongPurposeError):
        read_order(blob, "removal", office_signing_key=OFFICE.public_key)
    with pytest.raises(BadSignatureError):
        read_order(blob, "refusal", office_signing_key=generate_signing_keypair().public_key)
    flipped = bytearray(blob)
    flipped[40] ^= 1
    with pytest.raises((BadSignatureError, MalformedError)):
        read_order(bytes(flipped), "refusal", office_signing_key=OFFICE.public_key)


def test_a_removal_may_name_no_hash_a_refusal_may_not() -> None:
    removal = RecordOrder(kind="removal", **{**FIELDS, "record_hash": None})  # type: ignore[arg-type]
    blob = sign_order(OFFICE.seed, removal)
    assert read_order(blob, "removal", office_signing_key=OFFICE.public_key).record_hash is None
    with pytest.raises(MalformedError):
        RecordOrder(kind="refusal", **{**FIELDS, "record_hash": None})  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("install_id", "0A" * 16),
        ("record_id", "1b" * 15),
        ("case_id", "../" * 10),
        ("record_hash", "3d" * 31),
        ("reason", "x" * 201),
        ("reason", "two\nlines"),
    ],
)
def test_malformed_fields_are_refused(field: str, value: str) -> None:
    with pytest.raises(MalformedError):
        RecordOrder(kind="refusal", **{**FIELDS, field: value})  # type: ignore[arg-type]


def _signed_message(body: object, raw: bytes | None = None) -> bytes:
    message = raw if raw is not None else json.dumps(body).encode()
    return sign(OFFICE.seed, RECORD_REFUSAL, message)


@pytest.mark.parametrize(
    "message",
    [
        b"not json",
        b"[]",
        # Spaces: not the canonical form, even though it parses to a good order.
        json.dumps(
            {
                "case": "2c" * 16,
                "hash": "3d" * 32,
                "install": "0a" * 16,
                "reason": "r",
                "record": "1b" * 16,
                "v": 1,
            }
        ).encode(),
        json.dumps({"v": 2}).encode(),
        json.dumps(
            {
                "case": "2c" * 16,
                "hash": "3d" * 32,
                "install": "0a" * 16,
                "reason": "r",
                "record": "1b" * 16,
                "v": 1,
                "extra": 1,
            },
            separators=(",", ":"),
            sort_keys=True,
        ).encode(),
    ],
)
def test_messages_that_are_not_a_canonical_order_are_refused(message: bytes) -> None:
    with pytest.raises(MalformedError):
        read_order(_signed_message(None, message), "refusal", office_signing_key=OFFICE.public_key)


def test_an_order_names_its_record_kind_and_applies_to_that_kind_only() -> None:
    order = RecordOrder(kind="refusal", **FIELDS)  # type: ignore[arg-type]
    assert b'"kind":"followup"' in order.message()
    assert b'"v":2' in order.message()
    read = read_order(
        sign_order(OFFICE.seed, order), "refusal", office_signing_key=OFFICE.public_key
    )
    assert read.record_kind == "followup"
    assert read.applies_to("followup")
    assert not read.applies_to("submission")
    with pytest.raises(MalformedError):
        RecordOrder(kind="refusal", **{**FIELDS, "record_kind": None})  # type: ignore[arg-type]
    with pytest.raises(MalformedError):
        RecordOrder(kind="refusal", **{**FIELDS, "record_kind": "bundle"})  # type: ignore[arg-type]


def test_a_version_1_order_still_reads_and_names_no_kind() -> None:
    message = json.dumps(
        {
            "case": "2c" * 16,
            "hash": "3d" * 32,
            "install": "0a" * 16,
            "reason": "r",
            "record": "1b" * 16,
            "v": 1,
        },
        separators=(",", ":"),
        sort_keys=True,
    ).encode()
    order = read_order(
        _signed_message(None, message), "refusal", office_signing_key=OFFICE.public_key
    )
    assert order.version == 1
    assert order.record_kind is None
    assert order.applies_to("submission")
    assert order.applies_to("followup")
    assert order.message() == message


@pytest.mark.parametrize(
    ("change", "error"),
    [
        ({"v": 3}, UnsupportedVersionError),
        ({"v": True}, MalformedError),
        ({"kind": "bundle-outbox"}, MalformedError),
        ({"kind": None}, MalformedError),  # a refusal names its kind
    ],
)
def test_bad_version_2_orders_are_refused(change: dict[str, object], error: type) -> None:
    body = {
        "case": "2c" * 16,
        "hash": "3d" * 32,
        "install": "0a" * 16,
        "kind": "followup",
        "reason": "r",
        "record": "1b" * 16,
        "v": 2,
        **change,
    }
    message = json.dumps(body, separators=(",", ":"), sort_keys=True).encode()
    with pytest.raises(error):
        read_order(_signed_message(None, message), "refusal", office_signing_key=OFFICE.public_key)


def test_a_card_signature_is_not_an_order() -> None:
    with pytest.raises(WrongPurposeError):
        read_order(sign(OFFICE.seed, CARD, b"{}"), "refusal", office_signing_key=OFFICE.public_key)
