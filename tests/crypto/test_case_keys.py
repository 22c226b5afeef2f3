"""Case key announcements: signed by the office for their own purpose, bound to one case."""

import json

import pytest

from whistle.crypto import generate_box_keypair, generate_signing_keypair
from whistle.crypto.case_keys import (
    CaseKeyAnnouncement,
    read_case_key,
    sign_case_key,
    stored_case_key,
)
from whistle.crypto.errors import (
    BadSignatureError,
    MalformedError,
    MisboundError,
    UnsupportedVersionError,
    WrongPurposeError,
)
from whistle.crypto.signing import RECORD_REMOVAL, sign

OFFICE = generate_signing_keypair()
CASE = bytes(range(16))


def _announcement(generation: int = 1) -> CaseKeyAnnouncement:
    return CaseKeyAnnouncement(CASE, generation, generate_box_keypair().public_key)


def test_an_announcement_reads_back_with_the_office_key_and_its_case():
    announcement = _announcement(3)
    blob = sign_case_key(OFFICE.seed, announcement)
    assert read_case_key(blob, office_signing_key=OFFICE.public_key, case_id=CASE) == announcement
    assert stored_case_key(blob) == announcement


def test_another_case_is_refused():
    blob = sign_case_key(OFFICE.seed, _announcement())
    with pytest.raises(MisboundError):
        read_case_key(blob, office_signing_key=OFFICE.public_key, case_id=bytes(16))


def test_another_key_or_purpose_is_refused():
    announcement = _announcement()
    other = generate_signing_keypair()
    with pytest.raises(BadSignatureError):
        read_case_key(sign_case_key(other.seed, announcement), office_signing_key=OFFICE.public_key)
    relabelled = sign(OFFICE.seed, RECORD_REMOVAL, announcement.message())
    with pytest.raises(WrongPurposeError):
        read_case_key(relabelled, office_signing_key=OFFICE.public_key)


def test_an_altered_byte_is_refused():
    blob = bytearray(sign_case_key(OFFICE.seed, _announcement()))
    blob[-70] ^= 1
    with pytest.raises((BadSignatureError, MalformedError)):
        read_case_key(bytes(blob), office_signing_key=OFFICE.public_key)


@pytest.mark.parametrize(
    "body",
    [
        {"case": CASE.hex(), "generation": 0, "key": "00" * 32, "v": 1},
        {"case": CASE.hex(), "generation": True, "key": "00" * 32, "v": 1},
        {"case": CASE.hex(), "generation": "1", "key": "00" * 32, "v": 1},
        {"case": CASE.hex().upper(), "generation": 1, "key": "00" * 32, "v": 1},
        {"case": CASE.hex(), "generation": 1, "key": "00" * 31, "v": 1},
        {"case": CASE.hex(), "generation": 1, "key": "00" * 32, "v": 1, "desk": "x"},
        {"case": CASE.hex(), "generation": 1, "v": 1},
    ],
)
def test_malformed_fields_are_refused(body):
    blob = sign(OFFICE.seed, "whistle/case-key/v1", json.dumps(body, sort_keys=True).encode())
    with pytest.raises(MalformedError):
        read_case_key(blob, office_signing_key=OFFICE.public_key)


def test_a_newer_version_says_so():
    body = {"case": CASE.hex(), "generation": 1, "key": "00" * 32, "v": 2}
    blob = sign(OFFICE.seed, "whistle/case-key/v1", json.dumps(body).encode())
    with pytest.raises(UnsupportedVersionError):
        read_case_key(blob, office_signing_key=OFFICE.public_key)


def test_a_non_canonical_message_is_refused():
    body = {"v": 1, "key": "00" * 32, "generation": 1, "case": CASE.hex()}
    blob = sign(OFFICE.seed, "whistle/case-key/v1", json.dumps(body).encode())
    with pytest.raises(MalformedError):
        read_case_key(blob, office_signing_key=OFFICE.public_key)
