"""Wrapped keys, recovery keys, sealed tokens, and the record formats' own checks."""

import io
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st
from nacl.bindings import crypto_box_seal

from whistle import crypto
from whistle.crypto import (
    BadSignatureError,
    CodeChecksumError,
    MalformedError,
    MisboundError,
    TamperedError,
    UnsupportedVersionError,
    WrongPassphraseError,
    derive_source_keys,
    generate_box_keypair,
    generate_code,
    generate_recovery_key,
    generate_signing_keypair,
    open_token,
    recovery_wrapping_key,
    seal_token,
    unwrap_with_key,
    unwrap_with_passphrase,
    wrap_with_key,
    wrap_with_passphrase,
)
from whistle.crypto.conversation import Position
from whistle.crypto.records import (
    IDENTIFICATION_BYTES,
    SEALED_IDENTIFICATION_BYTES,
    SubmissionWriter,
    open_as_source,
    open_followup_as_office,
    open_identification,
    open_submission,
    seal_followup,
    seal_identification,
    seal_reply,
)

SECRET = bytes(range(32))


def test_passphrase_wrap_round_trip(insecure_kdf_params):
    wrapped = wrap_with_passphrase(SECRET, "correct horse", insecure_kdf_params)
    assert SECRET.hex() not in wrapped.decode()
    assert unwrap_with_passphrase(wrapped, "correct horse") == SECRET
    with pytest.raises(WrongPassphraseError):
        unwrap_with_passphrase(wrapped, "wrong horse")


def test_production_parameters_are_the_design_minimum():
    assert crypto.DEFAULT_PARAMS.memlimit >= 256 * 1024 * 1024
    assert crypto.DEFAULT_PARAMS.opslimit >= 3


def test_kdf_parameters_are_bound_to_the_file(insecure_kdf_params):
    document = json.loads(wrap_with_passphrase(SECRET, "pw", insecure_kdf_params))
    document["kdf"]["opslimit"] = 2
    with pytest.raises(WrongPassphraseError):
        unwrap_with_passphrase(json.dumps(document).encode(), "pw")


def test_hostile_kdf_parameters_are_refused_before_any_work(insecure_kdf_params):
    document = json.loads(wrap_with_passphrase(SECRET, "pw", insecure_kdf_params))
    document["kdf"]["memlimit"] = 64 * 1024**3
    with pytest.raises(MalformedError, match="memory"):
        unwrap_with_passphrase(json.dumps(document).encode(), "pw")


@given(st.binary(max_size=300))
def test_random_key_files_are_refused(data):
    with pytest.raises((MalformedError, UnsupportedVersionError, WrongPassphraseError)):
        unwrap_with_key(data, bytes(32))


def test_recovery_key_round_trip_and_typos():
    recovery = generate_recovery_key()
    assert len(recovery.replace(" ", "")) == 53
    wrapped = wrap_with_key(SECRET, recovery_wrapping_key(recovery))
    typed = recovery.lower().replace(" ", "-")
    assert unwrap_with_key(wrapped, recovery_wrapping_key(typed)) == SECRET
    typo = recovery[:3] + ("0" if recovery[3] != "0" else "1") + recovery[4:]
    with pytest.raises(CodeChecksumError):
        recovery_wrapping_key(typo)


def test_tokens_are_bound_to_key_and_purpose():
    key, other = bytes(32), bytes([1]) * 32
    token = seal_token(key, b"case-id", "session")
    assert open_token([other, key], token, "session") == b"case-id"
    with pytest.raises(TamperedError):
        open_token(key, token, "csrf")
    with pytest.raises(TamperedError):
        open_token(other, token, "session")
    with pytest.raises(MalformedError):
        open_token(key, "!!!", "session")


DESK = generate_box_keypair()
DESK2 = generate_box_keypair()
CUSTODIAN = generate_box_keypair()
CASE = bytes(range(16))
SOURCE = derive_source_keys(generate_code(), bytes(32))
INTRUDER = derive_source_keys(generate_code(), bytes(32))


def submission(identification) -> bytes:
    out = io.BytesIO()
    writer = SubmissionWriter(
        out,
        desk_key=DESK.public_key,
        custodian_key=CUSTODIAN.public_key,
        reply_public_key=SOURCE.reply_public_key,
        source_signing_key=SOURCE.signing_public_key,
        case_id=CASE,
    )
    writer.add_form({"language": "en", "desk": "d", "fields": []})
    writer.add_identification(identification)
    writer.finish()
    return out.getvalue()


def _block(fields, case_id=CASE, reply_public_key=None) -> bytes:
    return seal_identification(
        fields,
        CUSTODIAN.public_key,
        case_id=case_id,
        reply_public_key=reply_public_key or SOURCE.reply_public_key,
    )


def _open_block(block, case_id=CASE, reply_public_key=None):
    return open_identification(
        block,
        CUSTODIAN.secret_key,
        case_id=case_id,
        reply_public_key=reply_public_key or SOURCE.reply_public_key,
    )


def test_identification_block_has_one_size_whatever_it_holds():
    empty = _block([])
    full = _block([{"key": "name", "label": "Name", "value": "x" * 1000}])
    assert len(empty) == len(full) == SEALED_IDENTIFICATION_BYTES
    assert len(submission([])) == len(submission([{"key": "n", "label": "N", "value": "A B"}]))
    with pytest.raises(ValueError, match="fixed size"):
        _block([{"key": "n", "label": "N", "value": "x" * IDENTIFICATION_BYTES}])
    opened = _open_block(full)
    assert opened.version == 2
    assert opened.fields[0]["value"] == "x" * 1000


def test_identification_copied_into_another_case_is_refused():
    """H1: an officer copies case A's block into a report B; it does not open for B."""
    block = _block([{"key": "name", "label": "Name", "value": "Anna"}])
    other_case = bytes(range(1, 17))
    with pytest.raises(MisboundError, match="another case"):
        _open_block(block, case_id=other_case)
    # Same case id but another submission (another reply key): refused too.
    with pytest.raises(MisboundError, match="another submission"):
        _open_block(block, reply_public_key=INTRUDER.reply_public_key)
    assert _open_block(block).fields[0]["value"] == "Anna"


def test_identification_version_1_opens_unbound():
    """Blocks written before protocol 2 name nothing: the caller is told it is version 1."""
    raw = b'{"version": 1, "fields": [{"key": "n", "label": "N", "value": "B"}]}'
    block = crypto_box_seal(raw + bytes(IDENTIFICATION_BYTES - len(raw)), CUSTODIAN.public_key)
    opened = _open_block(block, case_id=bytes(16))
    assert (opened.version, opened.fields[0]["value"]) == (1, "B")


def test_identification_of_an_unknown_version_is_refused():
    raw = b'{"version": 3, "fields": []}'
    block = crypto_box_seal(raw + bytes(IDENTIFICATION_BYTES - len(raw)), CUSTODIAN.public_key)
    with pytest.raises(UnsupportedVersionError):
        _open_block(block)


def test_submission_needs_its_parts():
    data = crypto.seal(
        [(crypto.PartKind.TEXT, "form", b"{}")],
        [crypto.sealed_to(DESK.public_key)],
        crypto.associated_data("submission", CASE),
    )
    with pytest.raises(MalformedError, match="has no"):
        open_submission(io.BytesIO(data), [DESK.secret_key], CASE)


OFFICE = generate_signing_keypair()
SIGNED = {
    "office_key": OFFICE.public_key,
    "source_signing_key": SOURCE.signing_public_key,
    "signed_case": True,
}


def _followup(keys, **signing) -> bytes:  # type: ignore[no-untyped-def]
    return seal_followup(
        "more",
        [],
        reply_secret_key=keys.reply_secret_key,
        office_keys=[DESK2.public_key, DESK.public_key],
        case_id=CASE,
        **signing,
    )


def test_protocol_1_followup_must_come_from_the_case_reply_key():
    genuine = _followup(SOURCE)
    opened = open_followup_as_office(
        genuine, [DESK.secret_key], CASE, SOURCE.reply_public_key, None
    )
    assert (opened.message, opened.signed) == ("more", False)
    forged = _followup(INTRUDER)
    with pytest.raises(TamperedError, match="not sent by"):
        open_followup_as_office(forged, [DESK.secret_key], CASE, SOURCE.reply_public_key, None)
    unsigned = {**SIGNED, "signed_case": False}
    assert (
        open_as_source(genuine, "followup", SOURCE.reply_secret_key, CASE, **unsigned).message
        == "more"
    )


def test_protocol_2_followup_is_signed_and_names_no_key_in_clear():
    genuine = _followup(SOURCE, signing_seed=SOURCE.signing_seed, position=Position(3, 1))
    assert SOURCE.reply_public_key not in genuine  # sealed slots only: no sender key
    opened = open_followup_as_office(
        genuine, [DESK.secret_key], CASE, SOURCE.reply_public_key, SOURCE.signing_public_key
    )
    assert (opened.message, opened.position) == ("more", Position(3, 1))
    own = open_as_source(genuine, "followup", SOURCE.reply_secret_key, CASE, **SIGNED)
    assert own.position == Position(3, 1)
    # Another source's signature, or none at all, in a signed case: refused.
    intruder = _followup(INTRUDER, signing_seed=INTRUDER.signing_seed, position=Position(3, 1))
    with pytest.raises(BadSignatureError):
        open_followup_as_office(
            intruder, [DESK.secret_key], CASE, SOURCE.reply_public_key, SOURCE.signing_public_key
        )
    with pytest.raises(BadSignatureError, match="not signed"):
        open_followup_as_office(
            _followup(SOURCE),
            [DESK.secret_key],
            CASE,
            SOURCE.reply_public_key,
            SOURCE.signing_public_key,
        )
    # A signed follow-up where the case has no signing key (protocol 1): refused, not trusted.
    with pytest.raises(TamperedError):
        open_followup_as_office(genuine, [DESK.secret_key], CASE, SOURCE.reply_public_key, None)


def test_reply_is_signed_and_readable_by_source_and_office_only():
    reply = seal_reply(
        "answer",
        [("minutes.txt", b"m")],
        reply_public_key=SOURCE.reply_public_key,
        desk_key=DESK.public_key,
        case_id=CASE,
        office_seed=OFFICE.seed,
        position=Position(1, 0),
    )
    opened = open_as_source(reply, "reply", SOURCE.reply_secret_key, CASE, **SIGNED)
    assert (opened.files[0].content, opened.position) == (b"m", Position(1, 0))
    as_office = crypto.records.open_reply_as_office(
        reply, [DESK.secret_key], CASE, OFFICE.public_key
    )
    assert as_office.message == "answer"
    with pytest.raises(crypto.WrongKeyError):
        open_as_source(reply, "reply", INTRUDER.reply_secret_key, CASE, **SIGNED)
    with pytest.raises(TamperedError):
        open_as_source(reply, "followup", SOURCE.reply_secret_key, CASE, **SIGNED)
    # Checked against another office key (a page given swapped keys): refused.
    with pytest.raises(BadSignatureError):
        open_as_source(
            reply,
            "reply",
            SOURCE.reply_secret_key,
            CASE,
            **{**SIGNED, "office_key": generate_signing_keypair().public_key},
        )
