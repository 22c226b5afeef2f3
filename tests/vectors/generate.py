"""Writes tests/vectors/*.json: the known answers both the Python and the browser code must meet.

Deterministic vectors (codes, derivations, padding, signatures, cards,
manifests) are recomputed identically by running this again; envelopes, key
files and tokens contain fresh randomness (libsodium does not let a caller fix
the ephemeral keys of a sealed box or a secretstream header), so their vectors
are decryption vectors: fixed keys, recorded ciphertext, expected plaintext.
Re-running rewrites those with new ciphertext, which is fine: the tests check
that they open, never that they are byte-equal to a new run.

    python tests/vectors/generate.py
"""

import base64
import hashlib
import io
import json
import sys
from pathlib import Path

from whistle.crypto import (
    Desk,
    KdfParams,
    Manifest,
    ManifestRecord,
    PartKind,
    associated_data,
    derive_source_keys,
    login_lookup,
    make_office_card,
    make_server_card,
    open_bytes,
    seal,
    seal_token,
    sealed_to,
    sign,
    sign_manifest,
    wrap_with_key,
    wrap_with_passphrase,
)
from whistle.crypto.case_keys import CaseKeyAnnouncement, sign_case_key
from whistle.crypto.codes import check_symbol, code_bits, generate_code, normalize_code
from whistle.crypto.conversation import ContentDigest, Position, conversation_json
from whistle.crypto.errors import CodeChecksumError, CodeError
from whistle.crypto.keys import box_keypair_from_secret, signing_keypair_from_seed
from whistle.crypto.padding import padded_size, padme
from whistle.crypto.records import (
    SubmissionWriter,
    identification_plaintext,
    seal_followup,
    seal_identification,
    seal_reply,
)
from whistle.crypto.signing import CASE_KEY, RECORD_REMOVAL

HERE = Path(__file__).parent


def det(label: str, size: int = 32) -> bytes:
    """Deterministic test bytes: BLAKE2b of a label (never used outside vectors)."""
    return hashlib.blake2b(label.encode(), digest_size=size).digest()


def write(name: str, document: dict) -> None:
    path = HERE / f"{name}.json"
    path.write_text(json.dumps(document, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")


def _code_error(text: str) -> dict:
    """How ``normalize_code`` refuses ``text``: the vector's expected error, kind and position."""
    try:
        normalize_code(text)
    except CodeError as exc:
        kind = "checksum" if isinstance(exc, CodeChecksumError) else "format"
        return {"error": kind, "kind": exc.kind, "position": exc.position}
    raise SystemExit(f"invalid code vector accepted: {text}")


def codes() -> None:
    valid = []
    for i in range(8):
        raw = det(f"code-{i}", 13)
        code = generate_code(lambda n, raw=raw: raw)
        valid.append(
            {
                "random": raw.hex(),
                "code": code,
                "bits": code_bits(code).hex(),
                "typed": [code.lower(), " ".join(code[j : j + 4] for j in range(0, 22, 4))],
            }
        )
    base = valid[0]["code"]
    lookalike = base.replace("0", "o").replace("1", "l")
    valid[0]["typed"].append(lookalike)
    valid[0]["typed"].append("-".join(base[j : j + 4] for j in range(0, 22, 4)))
    legacy = []
    for entry in valid[:4]:
        data = entry["code"][:20]
        old = data + check_symbol(data)
        legacy.append({"code": old, "bits": entry["bits"], "typed": [old.lower()]})
    swaps = [
        base[:j] + base[j + 1] + base[j] + base[j + 2 :]
        for j in range(21)
        if base[j] != base[j + 1]
    ]
    substituted = base[:5] + ("A" if base[5] != "A" else "B") + base[6:]
    last_wrong = base[:21] + ("A" if base[21] != "A" else "B")
    old_base = legacy[0]["code"]
    old_substituted = old_base[:5] + ("A" if old_base[5] != "A" else "B") + old_base[6:]
    cases = [
        (swaps[0], "two adjacent characters swapped"),
        (swaps[5], "two adjacent characters swapped, further on"),
        (swaps[-1], "the two check characters swapped"),
        (substituted, "one character substituted"),
        (last_wrong, "the last check character wrong"),
        (old_substituted, "a code issued before, one character substituted"),
        (base[:-1] + "*", "a mod-37 check symbol on a 22-character code"),
        (base[:-2], "two characters short"),
        (base + "0", "one character too many"),
        (base[:3] + "U" + base[4:], "U is not in the alphabet"),
        ("", "empty"),
        ("x" * 200, "far too long"),
        (base[:20] + "#", "not an alphabet character"),
    ]
    invalid = [{"input": text, **_code_error(text), "why": why} for text, why in cases]
    checks = [{"data": "0" * 20, "check": check_symbol("0" * 20)}]
    checks += [{"data": "Z" * 20, "check": check_symbol("Z" * 20)}]
    write(
        "codes",
        {
            "origin": "tests/vectors/generate.py; codes from fixed random bytes (top 4 bits of "
            "13 bytes dropped, big-endian), Crockford base32 with two GF(32) check characters; "
            "legacy: the same 20 data characters with Crockford's mod-37 check symbol; "
            "invalid: the error, and the kind and position (from 0) the check reports",
            "valid": valid,
            "legacy": legacy,
            "check_symbols": checks,
            "invalid": invalid,
        },
    )


def derivation() -> None:
    valid = []
    for i in range(4):
        salt, pepper = det(f"salt-{i}"), det(f"pepper-{i}")
        code = generate_code(lambda n, i=i: det(f"derive-code-{i}", n))
        keys = derive_source_keys(code, salt)
        valid.append(
            {
                "code": code,
                "install_salt": salt.hex(),
                "pepper": pepper.hex(),
                "master": hashlib.blake2b(
                    b"whistle-code-v1" + code_bits(code), key=salt, digest_size=32
                ).hexdigest(),
                "login_token": keys.login_token.hex(),
                "reply_secret_key": keys.reply_secret_key.hex(),
                "reply_public_key": keys.reply_public_key.hex(),
                "copy_public_key": keys.copy_public_key.hex(),
                "lookup": login_lookup(keys.login_token, pepper).hex(),
            }
        )
    write(
        "derivation",
        {
            "origin": "tests/vectors/generate.py; master = keyed BLAKE2b, subkeys = "
            "crypto_kdf_derive_from_key (computed as BLAKE2b salt/person, byte-identical)",
            "valid": valid,
        },
    )


def padding() -> None:
    lengths = [0, 1, 100, 4095, 4096, 4097, 5000, 65536, 65537, 100_000, 1 << 20, 10_000_019]
    write(
        "padding",
        {
            "origin": "tests/vectors/generate.py; Padmé (Nikitin et al. 2019) with a 4096 floor",
            "valid": [{"length": n, "padme": padme(n), "padded": padded_size(n)} for n in lengths],
        },
    )


def signatures() -> None:
    seed = det("signing-seed")
    public = signing_keypair_from_seed(seed).public_key
    messages = [b"", b"hello", bytes(range(256))]
    valid = [
        {
            "seed": seed.hex(),
            "public_key": public.hex(),
            "purpose": purpose,
            "message": message.hex(),
            "signed": sign(seed, purpose, message).hex(),
        }
        for purpose in ("whistle/bundle/v1", "whistle/courier-challenge/v1")
        for message in messages
    ]
    good = bytes.fromhex(valid[1]["signed"])
    flipped = bytearray(good)
    flipped[-1] ^= 1
    other = signing_keypair_from_seed(det("other-seed")).public_key
    invalid = [
        {
            "signed": bytes(flipped).hex(),
            "purpose": valid[1]["purpose"],
            "error": "bad-signature",
            "public_key": public.hex(),
        },
        {
            "signed": good.hex(),
            "purpose": "whistle/courier-challenge/v1",
            "error": "wrong-purpose",
            "public_key": public.hex(),
        },
        {
            "signed": good.hex(),
            "purpose": valid[1]["purpose"],
            "error": "bad-signature",
            "public_key": other.hex(),
        },
        {
            "signed": good[:-1].hex(),
            "purpose": valid[1]["purpose"],
            "error": "malformed",
            "public_key": public.hex(),
        },
    ]
    write(
        "signatures",
        {
            "origin": "tests/vectors/generate.py; Ed25519 over the purpose-labelled layout",
            "valid": valid,
            "invalid": invalid,
        },
    )


def office_material() -> dict:
    desk = box_keypair_from_secret(det("desk-secret"))
    desk2 = box_keypair_from_secret(det("desk2-secret"))
    custodian = box_keypair_from_secret(det("custodian-secret"))
    return {"desk": desk, "desk2": desk2, "custodian": custodian, "seed": det("office-seed")}


def cards() -> None:
    m = office_material()
    office = make_office_card(
        m["seed"],
        name="Oficina per la Transparència i les Bones Pràctiques",
        bundle_key=box_keypair_from_secret(det("office-bundle")).public_key,
        desks=[
            Desk("antifrau", "Anti-fraud office", m["desk"].public_key),
            Desk("urbanisme", "Urbanisme", m["desk2"].public_key),
        ],
        custodian_key=m["custodian"].public_key,
        epoch=1,
        created="2026-11-27",
    )
    server_seed = det("server-seed")
    server = make_server_card(
        server_seed,
        name="Bústia Ètica",
        bundle_key=box_keypair_from_secret(det("server-bundle")).public_key,
        install_id=det("install", 16).hex(),
        created="2026-11-27",
    )
    write(
        "cards",
        {
            "origin": "tests/vectors/generate.py; deterministic keys from fixed seeds",
            "valid": [
                {
                    "card": office.decode(),
                    "kind": "office",
                    "fingerprint": json.loads(office)["fingerprint"],
                },
                {
                    "card": server.decode(),
                    "kind": "server",
                    "fingerprint": json.loads(server)["fingerprint"],
                },
            ],
        },
    )


def case_keys() -> None:
    """Announcements the office signed (protocol §17), and ones the page must refuse as Python
    does: ``error`` names the class (whistle.crypto.errors) each side raises."""
    m = office_material()
    seed = m["seed"]
    case_id = det("case", 16)
    key = box_keypair_from_secret(det("case-key-secret"))
    good = CaseKeyAnnouncement(case_id, 7, key.public_key)

    def body(**changes: object) -> dict:
        fields = {"case": case_id.hex(), "generation": 7, "key": key.public_key.hex(), "v": 1}
        fields.update(changes)
        return fields

    def compact(fields: dict, *, sort: bool = True) -> bytes:
        return json.dumps(fields, sort_keys=sort, separators=(",", ":")).encode()

    def signed(message: bytes, purpose: str = CASE_KEY, signer: bytes = seed) -> str:
        return base64.b64encode(sign(signer, purpose, message)).decode()

    valid = [
        {
            "name": f"generation {generation}",
            "announcement": base64.b64encode(
                sign_case_key(seed, CaseKeyAnnouncement(case_id, generation, key.public_key))
            ).decode(),
            "generation": generation,
        }
        for generation in (1, 7, 1_000_000)
    ]
    message = good.message()
    invalid = [
        ("another case", signed(message), det("other-case", 16), "misbound"),
        ("another signer", signed(message, signer=det("other-seed")), case_id, "bad-signature"),
        ("another purpose", signed(message, RECORD_REMOVAL), case_id, "wrong-purpose"),
        ("spaces", signed(json.dumps(body(), sort_keys=True).encode()), case_id, "malformed"),
        (
            "keys not sorted",
            signed(compact(dict(reversed(body().items())), sort=False)),
            case_id,
            "malformed",
        ),
        ("generation 0", signed(compact(body(generation=0))), case_id, "malformed"),
        ("generation too high", signed(compact(body(generation=1_000_001))), case_id, "malformed"),
        ("generation as text", signed(compact(body(generation="7"))), case_id, "malformed"),
        ("generation 7.0", signed(message.replace(b":7,", b":7.0,")), case_id, "malformed"),
        (
            "upper-case key",
            signed(compact(body(key=key.public_key.hex().upper()))),
            case_id,
            "malformed",
        ),
        ("a desk named", signed(compact(body(desk="antifrau"))), case_id, "malformed"),
        ("version 2", signed(compact(body(v=2))), case_id, "version"),
        ("too long", signed(compact(body(note="x" * 400))), case_id, "malformed"),
    ]
    write(
        "case_keys",
        {
            "origin": "tests/vectors/generate.py; case_keys.sign_case_key with the office seed of "
            "cards.json, deterministic (Ed25519 signatures are)",
            "office_signing_public_key": signing_keypair_from_seed(seed).public_key.hex(),
            "case_id": case_id.hex(),
            "case_public_key": key.public_key.hex(),
            "valid": valid,
            "invalid": [
                {"name": name, "announcement": blob, "case_id": case.hex(), "error": error}
                for name, blob, case, error in invalid
            ],
        },
    )


def flip(data: bytes, index: int) -> bytes:
    out = bytearray(data)
    out[index] ^= 0x01
    return bytes(out)


def envelopes() -> None:
    m = office_material()
    case_id = det("case", 16)
    code = generate_code(lambda n: det("envelope-code", n))
    source = derive_source_keys(code, det("salt-0"))
    big = bytes(range(256)) * 300  # 76,800 bytes: more than one chunk
    # Protocol 1 records (unsigned reply, boxed follow-up): readers must still open them;
    # protocol 2's signed records are in conversation.json.
    reply = seal(
        [
            (PartKind.TEXT, "message", "Gràcies. We have received your report.".encode()),
            (PartKind.FILE, "acta.txt", "Acta de la reunió\n".encode()),
        ],
        [sealed_to(source.reply_public_key), sealed_to(m["desk"].public_key)],
        associated_data("reply", case_id),
    )
    followup = seal_followup(
        "More details — més detalls.",
        [("evidence.bin", big)],
        reply_secret_key=source.reply_secret_key,
        office_keys=[m["desk"].public_key, m["desk2"].public_key],
        case_id=case_id,
    )
    out = io.BytesIO()
    writer = SubmissionWriter(
        out,
        desk_key=m["desk"].public_key,
        custodian_key=m["custodian"].public_key,
        reply_public_key=source.reply_public_key,
        source_signing_key=source.signing_public_key,
        case_id=case_id,
    )
    writer.begin_file("contracte.pdf")
    writer.write(b"%PDF-1.4 not really\n")
    writer.end_file()
    form = {
        "language": "ca",
        "desk": "antifrau",
        "fields": [{"key": "subject", "label": "Assumpte", "value": "Contracte"}],
    }
    writer.add_form(form)
    writer.add_identification([{"key": "name", "label": "Nom", "value": "Anna"}])
    writer.finish()
    submission = out.getvalue()
    plain = seal(
        [(PartKind.TEXT, "message", b"hi"), (PartKind.BYTES, "blob", bytes(10))],
        [sealed_to(m["desk"].public_key)],
        associated_data("reply", case_id),
    )
    ad = {k: associated_data(k, case_id).hex() for k in ("submission", "followup", "reply")}
    v2 = bytearray(plain)
    v2[5] = 2
    write(
        "envelopes",
        {
            "origin": "tests/vectors/generate.py; decryption vectors (fresh randomness per run)",
            "case_id": case_id.hex(),
            "associated_data": ad,
            "keys": {
                "desk_secret_key": m["desk"].secret_key.hex(),
                "desk_public_key": m["desk"].public_key.hex(),
                "desk2_public_key": m["desk2"].public_key.hex(),
                "custodian_secret_key": m["custodian"].secret_key.hex(),
                "custodian_public_key": m["custodian"].public_key.hex(),
                "source_code": code,
                "install_salt": det("salt-0").hex(),
                "reply_secret_key": source.reply_secret_key.hex(),
                "reply_public_key": source.reply_public_key.hex(),
            },
            "valid": [
                {
                    "name": "reply",
                    "kind": "reply",
                    "envelope": reply.hex(),
                    "open_with": ["reply_secret_key", "desk_secret_key"],
                    "sender": None,
                    "parts": [
                        {
                            "kind": 1,
                            "name": "message",
                            "content": "Gràcies. We have received your report.".encode().hex(),
                        },
                        {
                            "kind": 2,
                            "name": "acta.txt",
                            "content": "Acta de la reunió\n".encode().hex(),
                        },
                    ],
                },
                {
                    "name": "followup",
                    "kind": "followup",
                    "envelope": followup.hex(),
                    "open_with": ["desk_secret_key", "reply_secret_key"],
                    "sender": {
                        "desk_secret_key": source.reply_public_key.hex(),
                        "reply_secret_key": None,
                    },
                    "parts": [
                        {
                            "kind": 1,
                            "name": "message",
                            "content": "More details — més detalls.".encode().hex(),
                        },
                        {
                            "kind": 2,
                            "name": "evidence.bin",
                            "content_blake2b": hashlib.blake2b(big, digest_size=32).hexdigest(),
                            "size": len(big),
                        },
                    ],
                },
                {
                    "name": "submission",
                    "kind": "submission",
                    "envelope": submission.hex(),
                    "open_with": ["desk_secret_key", "reply_secret_key"],
                    "sender": None,
                    "parts_named": [
                        "reply_public_key",
                        "source_signing_key",
                        "contracte.pdf",
                        "form",
                        "identification",
                    ],
                    "form": form,
                },
            ],
            "invalid": [
                {
                    "name": "bit flipped in a chunk",
                    "envelope": flip(plain, len(plain) - 40).hex(),
                    "kind": "reply",
                    "error": "tampered",
                },
                {
                    "name": "bit flipped in the header",
                    "envelope": flip(plain, 20).hex(),
                    "kind": "reply",
                    "error": "tampered-or-wrong-key",
                },
                {
                    "name": "truncated inside the last chunk",
                    "envelope": plain[:-10].hex(),
                    "kind": "reply",
                    "error": "tampered",
                },
                {
                    "name": "truncated inside the header",
                    "envelope": plain[:50].hex(),
                    "kind": "reply",
                    "error": "truncated",
                },
                {
                    "name": "bytes appended",
                    "envelope": (plain + b"\x00").hex(),
                    "kind": "reply",
                    "error": "tampered",
                },
                {
                    "name": "unknown version",
                    "envelope": bytes(v2).hex(),
                    "kind": "reply",
                    "error": "version",
                },
                {
                    "name": "not an envelope",
                    "envelope": b"PK\x03\x04 zip".hex(),
                    "kind": "reply",
                    "error": "malformed",
                },
                {
                    "name": "wrong record type",
                    "envelope": plain.hex(),
                    "kind": "followup",
                    "error": "tampered",
                },
                {
                    "name": "chunks from another case",
                    "envelope": reply.hex(),
                    "kind": "reply",
                    "case_id": det("other-case", 16).hex(),
                    "error": "tampered",
                },
            ],
            "invalid_open_with": "desk_secret_key",
        },
    )


def conversation() -> None:
    """Protocol 2 records: signed and numbered (docs/protocol.md §7), and forgeries of them."""
    m = office_material()
    case_id = det("case", 16)
    source = derive_source_keys(generate_code(lambda n: det("envelope-code", n)), det("salt-0"))
    office = signing_keypair_from_seed(m["seed"])
    database_writer = signing_keypair_from_seed(det("database-writer-seed"))
    ad = associated_data("reply", case_id)
    text = "Hem obert un expedient. We opened a case file."

    def reply(seed: bytes, sequence: int, message: str = text) -> bytes:
        return seal_reply(
            message,
            [("carta.txt", b"Benvolguda,\n")],
            reply_public_key=source.reply_public_key,
            desk_key=m["desk"].public_key,
            case_id=case_id,
            office_seed=seed,
            position=Position(sequence, 1),
        )

    genuine = reply(m["seed"], 2)
    # An officer (desk key) or the server (nothing) re-seals the signed parts around
    # another message: the signature no longer matches the content.
    parts = open_bytes(genuine, m["desk"].secret_key, ad).parts
    altered = seal(
        [(p.kind, p.name, b"Case closed." if p.name == "message" else p.content) for p in parts],
        [sealed_to(source.reply_public_key), sealed_to(m["desk"].public_key)],
        ad,
    )
    unsigned = seal(
        [(PartKind.TEXT, "message", b"Send us your code by e-mail.")],
        [sealed_to(source.reply_public_key), sealed_to(m["desk"].public_key)],
        ad,
    )
    followup = seal_followup(
        "Una altra factura. Another invoice.",
        [("factura.pdf", b"%PDF-1.4 not really\n")],
        reply_secret_key=source.reply_secret_key,
        office_keys=[m["desk"].public_key, m["desk2"].public_key],
        case_id=case_id,
        signing_seed=source.signing_seed,
        position=Position(1, 2),
    )
    digest = ContentDigest()
    digest.add(PartKind.TEXT, "message", b"hi")
    write(
        "conversation",
        {
            "origin": "tests/vectors/generate.py; decryption vectors (fresh randomness per run)",
            "case_id": case_id.hex(),
            "keys": {
                "reply_secret_key": source.reply_secret_key.hex(),
                "desk_secret_key": m["desk"].secret_key.hex(),
                "office_signing_public_key": office.public_key.hex(),
                "source_signing_public_key": source.signing_public_key.hex(),
                "source_code": generate_code(lambda n: det("envelope-code", n)),
                "install_salt": det("salt-0").hex(),
            },
            "content_digest": {
                "parts": [{"kind": 1, "name": "message", "content": b"hi".hex()}],
                "digest": digest.digest().hex(),
            },
            "conversation_json": conversation_json(2, 1).decode(),
            "valid": [
                {
                    "name": "reply signed by the office",
                    "kind": "reply",
                    "envelope": genuine.hex(),
                    "message": text,
                    "files": ["carta.txt"],
                    "position": {"sequence": 2, "seen": 1},
                },
                {
                    "name": "follow-up signed by the source",
                    "kind": "followup",
                    "envelope": followup.hex(),
                    "message": "Una altra factura. Another invoice.",
                    "files": ["factura.pdf"],
                    "position": {"sequence": 1, "seen": 2},
                },
            ],
            "forged": [
                {
                    "name": "reply planted by a database writer (signed with its own key)",
                    "kind": "reply",
                    "envelope": reply(database_writer.seed, 3, "Send us your code.").hex(),
                },
                {
                    "name": "reply whose message was replaced around the office's signature",
                    "kind": "reply",
                    "envelope": altered.hex(),
                },
                {
                    "name": "unsigned reply in a protocol 2 case",
                    "kind": "reply",
                    "envelope": unsigned.hex(),
                },
            ],
        },
    )


def identification() -> None:
    """Identification blocks: version 2 (bound to case and reply key) and a kept version 1.

    Nothing writes version 1 any more; its block (from the protocol 1 envelope vectors)
    is carried over from the existing file so that readers keep being tested on it.
    """
    m = office_material()
    case_id = det("case", 16)
    source = derive_source_keys(generate_code(lambda n: det("envelope-code", n)), det("salt-0"))
    fields = [{"key": "name", "label": "Nom", "value": "Anna Puig i Ferrer — àèéíòóú"}]
    path = HERE / "identification.json"
    kept = json.loads(path.read_text(encoding="utf-8"))["version_1"]
    block = seal_identification(
        fields, m["custodian"].public_key, case_id=case_id, reply_public_key=source.reply_public_key
    )
    write(
        "identification",
        {
            "origin": "tests/vectors/generate.py; decryption vectors (fresh randomness per run)",
            "custodian_secret_key": m["custodian"].secret_key.hex(),
            "custodian_public_key": m["custodian"].public_key.hex(),
            "case_id": case_id.hex(),
            "reply_public_key": source.reply_public_key.hex(),
            "version_2": {
                "fields": fields,
                "plaintext": identification_plaintext(
                    fields, case_id=case_id, reply_public_key=source.reply_public_key
                ).decode("utf-8"),
                "block": block.hex(),
            },
            "version_1": kept,
        },
    )


def manifests() -> None:
    seed = det("server-seed")
    manifest = Manifest(
        install_id=det("install", 16).hex(),
        direction="outbox",
        sequence=3,
        previous=det("previous-bundle").hex(),
        created="2026-11-27",
        records=(
            ManifestRecord(
                det("r1", 16).hex(),
                "submission",
                det("h1").hex(),
                det("c1", 16).hex(),
                "2026-11-26",
            ),
        ),
    )
    write(
        "manifests",
        {
            "origin": "tests/vectors/generate.py; body JSON with sorted keys, signed for "
            "whistle/bundle/v1",
            "valid": [
                {
                    "public_key": signing_keypair_from_seed(seed).public_key.hex(),
                    "signed": sign_manifest(manifest, seed).hex(),
                    "sequence": 3,
                    "records": 1,
                }
            ],
        },
    )


def keyfiles() -> None:
    weak = KdfParams(opslimit=1, memlimit=8192)
    secret = det("wrapped-secret")
    write(
        "keyfiles",
        {
            "origin": "tests/vectors/generate.py; Argon2id at libsodium's minimum (vectors only)",
            "valid": [
                {
                    "keyfile": wrap_with_passphrase(secret, "correct horse", weak).decode(),
                    "passphrase": "correct horse",
                    "secret": secret.hex(),
                },
                {
                    "keyfile": wrap_with_key(secret, det("wrap-key")).decode(),
                    "key": det("wrap-key").hex(),
                    "secret": secret.hex(),
                },
            ],
        },
    )


def tokens() -> None:
    key = det("token-key")
    write(
        "tokens",
        {
            "origin": "tests/vectors/generate.py; XChaCha20-Poly1305, random nonce",
            "valid": [
                {
                    "key": key.hex(),
                    "purpose": "session",
                    "value": b"abc".hex(),
                    "token": seal_token(key, b"abc", "session"),
                }
            ],
        },
    )


FILE_NAMES = [
    "report.pdf",
    "informe de l'auditoria 2026.xlsx",
    "..\\..\\..\\Users\\Public\\evil.exe",
    "../../etc/passwd",
    "C:\\fakepath\\contracte.pdf",
    "line\nbreak.txt",
    "tab\there.txt",
    "carriage\rreturn.txt",
    "nul\x00byte.txt",
    "del\x7fchar.txt",
    "c1\x85next-line.txt",
    "invoice\u202etxt.exe",
    "isolate\u2066x\u2069.pdf",
    "mark\u200e\u200f\u061c.doc",
    "separator\u2028\u2029.doc",
    "\ufeffbom.txt",
    "",
    "   ",
    ".",
    "..",
    "...",
    "folder/",
    "\u202e",
    "Cafe\u0301.txt",
    "emoji \U0001f600.png",
    "a" * 1000,
    "b" * 300 + ".pdf",
    "c" * 300 + "." + "x" * 20,
    "\U0001f600" * 250 + ".txt",
    "d" * 198 + " .txt",
]


def filenames() -> None:
    from whistle.filenames import MAX_FILE_NAME_CHARS, MAX_FILES, clean_file_name

    write(
        "filenames",
        {
            "origin": "tests/vectors/generate.py; whistle/filenames.py (attack review finding 7)",
            "max_file_name_chars": MAX_FILE_NAME_CHARS,
            "max_files": MAX_FILES,
            "valid": [{"raw": raw, "clean": clean_file_name(raw)} for raw in FILE_NAMES],
        },
    )


#: Each unit's edges and halves (Python's format rounds a half to even).
SIZES = [0, 1, 41, 1023, 1024, 1535, 1536, 2559, 2560, 3584, 5 * 2**20 - 1, 10 * 2**20]
SIZES += [3 * 2**19, 5 * 2**19, 2**30, 7 * 2**29, 7 * 2**30]


def sizes() -> None:
    from whistle.submit.web import human_size

    write(
        "sizes",
        {
            "origin": "tests/vectors/generate.py; whistle/submit/web.py human_size, which "
            "js/sizes.js repeats for the conversation shown with JavaScript on",
            "sizes": [{"size": size, "shown": human_size(size)} for size in SIZES],
        },
    )


def main() -> None:
    for make in (
        filenames,
        sizes,
        codes,
        derivation,
        padding,
        signatures,
        cards,
        case_keys,
        envelopes,
        conversation,
        identification,
        manifests,
        keyfiles,
        tokens,
    ):
        make()
    sys.stdout.write(f"wrote vectors to {HERE}\n")


if __name__ == "__main__":
    main()
