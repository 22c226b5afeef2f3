"""Every vector in tests/vectors/*.json, checked against whistle.crypto."""

import base64
import hashlib
import io
import json

import pytest

from tests.crypto.vectors import load
from whistle import crypto
from whistle.crypto import records
from whistle.crypto.case_keys import read_case_key, sign_case_key
from whistle.crypto.codes import check_symbol, code_bits, generate_code, normalize_code
from whistle.crypto.conversation import ContentDigest, Position, conversation_json
from whistle.crypto.framing import PartKind
from whistle.crypto.padding import padded_size, padme
from whistle.crypto.records import identification_plaintext, open_identification, open_submission

CODES = load("codes")
DERIVATION = load("derivation")
SIGNATURES = load("signatures")
ENVELOPES = load("envelopes")
CODE_ERRORS = {"checksum": crypto.CodeChecksumError, "format": crypto.CodeFormatError}


@pytest.mark.parametrize("vector", CODES["valid"], ids=lambda v: v["code"])
def test_code_vectors(vector):
    raw = bytes.fromhex(vector["random"])
    assert generate_code(lambda n: raw) == vector["code"]
    assert code_bits(vector["code"]).hex() == vector["bits"]
    for typed in vector["typed"]:
        assert normalize_code(typed) == vector["code"]


@pytest.mark.parametrize("vector", CODES["check_symbols"], ids=lambda v: v["data"])
def test_check_symbol_vectors(vector):
    assert check_symbol(vector["data"]) == vector["check"]


@pytest.mark.parametrize("vector", CODES["legacy"], ids=lambda v: v["code"])
def test_legacy_code_vectors(vector):
    assert code_bits(vector["code"]).hex() == vector["bits"]
    for typed in vector["typed"]:
        assert normalize_code(typed) == vector["code"]


@pytest.mark.parametrize("vector", CODES["invalid"], ids=lambda v: v["why"])
def test_invalid_code_vectors(vector):
    with pytest.raises(CODE_ERRORS[vector["error"]]) as caught:
        normalize_code(vector["input"])
    assert (caught.value.kind, caught.value.position) == (vector["kind"], vector["position"])


@pytest.mark.parametrize("vector", DERIVATION["valid"], ids=lambda v: v["code"])
def test_derivation_vectors(vector):
    keys = crypto.derive_source_keys(vector["code"], bytes.fromhex(vector["install_salt"]))
    assert keys.login_token.hex() == vector["login_token"]
    assert keys.reply_secret_key.hex() == vector["reply_secret_key"]
    assert keys.reply_public_key.hex() == vector["reply_public_key"]
    assert keys.copy_public_key.hex() == vector["copy_public_key"]
    lookup = crypto.login_lookup(keys.login_token, bytes.fromhex(vector["pepper"]))
    assert lookup.hex() == vector["lookup"]


def test_derivation_master_matches_hashlib():
    # An independent computation of the first step, with the standard library.
    for vector in DERIVATION["valid"]:
        master = hashlib.blake2b(
            b"whistle-code-v1" + code_bits(vector["code"]),
            key=bytes.fromhex(vector["install_salt"]),
            digest_size=32,
        )
        assert master.hexdigest() == vector["master"]


@pytest.mark.parametrize("vector", load("padding")["valid"], ids=lambda v: str(v["length"]))
def test_padding_vectors(vector):
    assert padme(vector["length"]) == vector["padme"]
    assert padded_size(vector["length"]) == vector["padded"]


@pytest.mark.parametrize("vector", SIGNATURES["valid"])
def test_signature_vectors(vector):
    seed = bytes.fromhex(vector["seed"])
    message = bytes.fromhex(vector["message"])
    assert crypto.sign(seed, vector["purpose"], message).hex() == vector["signed"]
    public = bytes.fromhex(vector["public_key"])
    assert crypto.verify(public, vector["purpose"], bytes.fromhex(vector["signed"])) == message


SIGNATURE_ERRORS = {
    "bad-signature": crypto.BadSignatureError,
    "wrong-purpose": crypto.WrongPurposeError,
    "malformed": crypto.MalformedError,
}


@pytest.mark.parametrize("vector", SIGNATURES["invalid"], ids=lambda v: v["error"])
def test_invalid_signature_vectors(vector):
    with pytest.raises(SIGNATURE_ERRORS[vector["error"]]):
        crypto.verify(
            bytes.fromhex(vector["public_key"]), vector["purpose"], bytes.fromhex(vector["signed"])
        )


CASE_KEYS = load("case_keys")
#: generate.py's det("office-seed"): the office that signed cards.json and case_keys.json.
OFFICE_SEED = hashlib.blake2b(b"office-seed", digest_size=32).digest()
CASE_KEY_ERRORS = {
    "misbound": crypto.MisboundError,
    "bad-signature": crypto.BadSignatureError,
    "wrong-purpose": crypto.WrongPurposeError,
    "malformed": crypto.MalformedError,
    "version": crypto.UnsupportedVersionError,
}


@pytest.mark.parametrize("vector", CASE_KEYS["valid"], ids=lambda v: v["name"])
def test_case_key_vectors(vector):
    blob = base64.b64decode(vector["announcement"])
    case_id = bytes.fromhex(CASE_KEYS["case_id"])
    office_key = bytes.fromhex(CASE_KEYS["office_signing_public_key"])
    announcement = read_case_key(blob, office_signing_key=office_key, case_id=case_id)
    assert announcement.generation == vector["generation"]
    assert announcement.public_key.hex() == CASE_KEYS["case_public_key"]
    assert sign_case_key(OFFICE_SEED, announcement) == blob  # deterministic, byte for byte


@pytest.mark.parametrize("vector", CASE_KEYS["invalid"], ids=lambda v: v["name"])
def test_invalid_case_key_vectors(vector):
    with pytest.raises(CASE_KEY_ERRORS[vector["error"]]):
        read_case_key(
            base64.b64decode(vector["announcement"]),
            office_signing_key=bytes.fromhex(CASE_KEYS["office_signing_public_key"]),
            case_id=bytes.fromhex(vector["case_id"]),
        )


@pytest.mark.parametrize("vector", load("cards")["valid"], ids=lambda v: v["kind"])
def test_card_vectors(vector):
    card = crypto.read_card(vector["card"].encode(), pinned_fingerprint=vector["fingerprint"])
    assert card.fingerprint == vector["fingerprint"]
    assert isinstance(card, crypto.OfficeCard if vector["kind"] == "office" else crypto.ServerCard)


def test_manifest_vectors():
    for vector in load("manifests")["valid"]:
        manifest = crypto.verify_manifest(
            bytes.fromhex(vector["signed"]), bytes.fromhex(vector["public_key"])
        )
        assert manifest.sequence == vector["sequence"]
        assert len(manifest.records) == vector["records"]


def test_keyfile_vectors():
    first, second = load("keyfiles")["valid"]
    assert crypto.unwrap_with_passphrase(first["keyfile"].encode(), first["passphrase"]) == (
        bytes.fromhex(first["secret"])
    )
    assert crypto.unwrap_with_key(second["keyfile"].encode(), bytes.fromhex(second["key"])) == (
        bytes.fromhex(second["secret"])
    )


def test_token_vectors():
    for vector in load("tokens")["valid"]:
        value = crypto.open_token(bytes.fromhex(vector["key"]), vector["token"], vector["purpose"])
        assert value.hex() == vector["value"]


def _key(name: str) -> bytes:
    return bytes.fromhex(ENVELOPES["keys"][name])


def _ad(kind: str, case_id: str | None = None) -> bytes:
    return crypto.associated_data(kind, bytes.fromhex(case_id or ENVELOPES["case_id"]))


@pytest.mark.parametrize("vector", ENVELOPES["valid"], ids=lambda v: v["name"])
def test_envelope_vectors(vector):
    data = bytes.fromhex(vector["envelope"])
    for key_name in vector["open_with"]:
        opened = crypto.open_envelope(io.BytesIO(data), _key(key_name), _ad(vector["kind"]))
        sender = (vector["sender"] or {}).get(key_name)
        assert opened.sender_public_key == (bytes.fromhex(sender) if sender else None)
        parts = opened.read_all()
        if "parts" in vector:
            assert len(parts) == len(vector["parts"])
            for part, expected in zip(parts, vector["parts"], strict=True):
                assert (part.kind, part.name) == (expected["kind"], expected["name"])
                if "content" in expected:
                    assert part.content.hex() == expected["content"]
                else:
                    digest = hashlib.blake2b(part.content, digest_size=32).hexdigest()
                    assert digest == expected["content_blake2b"]
        else:
            assert sorted(p.name for p in parts) == sorted(vector["parts_named"])


def test_submission_vector_opens_as_office():
    vector = next(v for v in ENVELOPES["valid"] if v["name"] == "submission")
    submission = open_submission(
        io.BytesIO(bytes.fromhex(vector["envelope"])),
        [_key("desk_secret_key")],
        bytes.fromhex(ENVELOPES["case_id"]),
    )
    assert submission.form["fields"] == vector["form"]["fields"]
    assert submission.reply_public_key == _key("reply_public_key")
    binding = {
        "case_id": bytes.fromhex(ENVELOPES["case_id"]),
        "reply_public_key": _key("reply_public_key"),
    }
    identification = open_identification(
        submission.identification_block, _key("custodian_secret_key"), **binding
    )
    assert identification.version == 2
    assert identification.fields == [{"key": "name", "label": "Nom", "value": "Anna"}]
    with pytest.raises(crypto.WrongKeyError):
        open_identification(submission.identification_block, _key("desk_secret_key"), **binding)
    assert json.dumps(submission.form)  # the form is plain JSON data


ENVELOPE_ERRORS = {
    "tampered": crypto.TamperedError,
    "tampered-or-wrong-key": (crypto.TamperedError, crypto.WrongKeyError),
    "truncated": crypto.TruncatedError,
    "version": crypto.UnsupportedVersionError,
    "malformed": crypto.MalformedError,
}


@pytest.mark.parametrize("vector", ENVELOPES["invalid"], ids=lambda v: v["name"])
def test_invalid_envelope_vectors(vector):
    key = _key(ENVELOPES["invalid_open_with"])
    with pytest.raises(ENVELOPE_ERRORS[vector["error"]]):
        crypto.open_envelope(
            io.BytesIO(bytes.fromhex(vector["envelope"])),
            key,
            _ad(vector["kind"], vector.get("case_id")),
        )


IDENTIFICATION = load("identification")


def test_identification_vectors():
    """Version 2 opens only for its case and reply key; the kept version 1 still opens."""
    secret = bytes.fromhex(IDENTIFICATION["custodian_secret_key"])
    binding = {
        "case_id": bytes.fromhex(IDENTIFICATION["case_id"]),
        "reply_public_key": bytes.fromhex(IDENTIFICATION["reply_public_key"]),
    }
    v2 = IDENTIFICATION["version_2"]
    opened = open_identification(bytes.fromhex(v2["block"]), secret, **binding)
    assert (opened.version, opened.fields) == (2, v2["fields"])
    assert identification_plaintext(v2["fields"], **binding).decode() == v2["plaintext"]
    with pytest.raises(crypto.MisboundError):
        open_identification(bytes.fromhex(v2["block"]), secret, **{**binding, "case_id": bytes(16)})
    v1 = IDENTIFICATION["version_1"]
    opened = open_identification(bytes.fromhex(v1["block"]), secret, **binding)
    assert (opened.version, opened.fields) == (1, v1["fields"])


CONVERSATION = load("conversation")


def _conversation_key(name: str) -> bytes:
    return bytes.fromhex(CONVERSATION["keys"][name])


def _open_as_source(vector: dict) -> "records.Conversation":
    return records.open_as_source(
        bytes.fromhex(vector["envelope"]),
        vector["kind"],
        _conversation_key("reply_secret_key"),
        bytes.fromhex(CONVERSATION["case_id"]),
        office_key=_conversation_key("office_signing_public_key"),
        source_signing_key=_conversation_key("source_signing_public_key"),
        signed_case=True,
    )


def test_conversation_digest_and_json_vectors():
    digest = ContentDigest()
    for part in CONVERSATION["content_digest"]["parts"]:
        digest.add(PartKind(part["kind"]), part["name"], bytes.fromhex(part["content"]))
    assert digest.digest().hex() == CONVERSATION["content_digest"]["digest"]
    assert conversation_json(2, 1).decode() == CONVERSATION["conversation_json"]


@pytest.mark.parametrize("vector", CONVERSATION["valid"], ids=lambda v: v["name"])
def test_signed_records_open_and_verify(vector):
    opened = _open_as_source(vector)
    assert opened.message == vector["message"]
    assert [f.name for f in opened.files] == vector["files"]
    assert opened.position == Position(**vector["position"])


@pytest.mark.parametrize("vector", CONVERSATION["forged"], ids=lambda v: v["name"])
def test_forged_replies_are_refused(vector):
    """H2: what a database writer or an officer makes is never shown as the office's words."""
    with pytest.raises(crypto.SignatureError):
        _open_as_source(vector)
