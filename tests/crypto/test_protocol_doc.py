"""The worked examples in docs/protocol.md, recomputed from the code."""

from pathlib import Path

from tests.crypto.vectors import load
from whistle.crypto import derive_source_keys, fingerprint, generate_box_keypair, generate_code
from whistle.crypto.codes import format_code
from whistle.crypto.conversation import Position
from whistle.crypto.orders import RecordOrder, sign_order
from whistle.crypto.records import SEALED_IDENTIFICATION_BYTES, seal_followup, seal_reply
from whistle.crypto.signing import PURPOSES

DOC = (Path(__file__).parents[2] / "docs" / "protocol.md").read_text(encoding="utf-8")


def test_derivation_example():
    vector = load("derivation")["valid"][0]
    keys = derive_source_keys(vector["code"], bytes.fromhex(vector["install_salt"]))
    for label, value in [
        ("code", vector["code"]),
        ("install salt", vector["install_salt"]),
        ("m", vector["master"]),
        ("login token", keys.login_token.hex()),
        ("reply public", keys.reply_public_key.hex()),
        ("copy public", keys.copy_public_key.hex()),
    ]:
        assert f"{label} ".ljust(13) + value in DOC, label
    assert format_code(vector["code"]) in DOC


def test_envelope_length_examples():
    source = derive_source_keys(generate_code(), bytes(32))
    desk = generate_box_keypair()
    reply = seal_reply(
        "hi",
        [],
        reply_public_key=source.reply_public_key,
        desk_key=desk.public_key,
        case_id=bytes(16),
        office_seed=bytes(32),
        position=Position(1, 0),
    )
    assert len(reply) == 4307
    assert "total     4307 bytes" in DOC
    followup = dict(
        reply_secret_key=source.reply_secret_key, office_keys=[desk.public_key], case_id=bytes(16)
    )
    signed = seal_followup(
        "hi", [], **followup, signing_seed=source.signing_seed, position=Position(1, 0)
    )
    assert len(signed) == 4307
    assert len(seal_followup("hi", [], **followup)) == 4331
    flat = DOC.replace("\n", " ")
    assert "protocol 1 follow-up with the same text" in flat
    assert "total 4331 bytes" in flat


def test_fingerprint_and_identification_examples():
    assert f"The fingerprint of 32 zero bytes is `{fingerprint(bytes(32))}`" in DOC
    assert SEALED_IDENTIFICATION_BYTES == 4144
    assert "always 4,144 bytes" in DOC


def test_every_signature_purpose_is_documented():
    for purpose in PURPOSES:
        assert f"`{purpose}`" in DOC


def test_record_order_example():
    order = RecordOrder(
        kind="refusal",
        install_id="00" * 16,
        record_id="11" * 16,
        case_id="22" * 16,
        record_hash="33" * 32,
        reason="none of this office's desk keys opens the submission",
        record_kind="submission",
    )
    message = order.message()
    assert len(message) == 296
    assert "a 296-byte message" in DOC
    shown = message.decode().replace("2" * 32, "2222…2222").replace("3" * 64, "3333…3333")
    shown = shown.replace("0" * 32, "0000…0000").replace("1" * 32, "1111…1111")
    assert shown in DOC
    signed = sign_order(bytes(32), order)
    assert len(signed) == 396
    assert "**396 bytes**" in DOC


def test_every_label_in_the_code_is_in_the_label_table():
    """§1 lists every hash domain, derivation label and signature purpose the code uses."""
    import re

    root = Path(__file__).parents[2]
    table = DOC.split("## 1. Purpose labels", 1)[1].split("## 2.", 1)[0]
    sources = [*(root / "whistle").rglob("*.py"), *(root / "js").glob("*.js")]
    labels = {
        label
        for path in sources
        for label in re.findall(r"[\"']whistle/([a-z-]+/v\d+)", path.read_text(encoding="utf-8"))
    }
    assert len(labels) >= 20  # the scan finds them
    assert sorted(f"whistle/{label}" for label in labels if f"`whistle/{label}`" not in table) == []
