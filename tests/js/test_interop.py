"""The browser crypto (js/) against whistle.crypto, both ways, with and without WebAssembly.

Node runs the JS source (tests/js/interop.mjs); ``--jitless`` removes the JIT
and WebAssembly, so libsodium.js runs its plain-JS fallback as in Tor Browser
*Safer*. Also runs node's own test runner over tests/js/*.test.mjs, so a plain
``pytest`` covers the JS.
"""

import base64
import io
import json
import shutil
import subprocess
from pathlib import Path

import pytest

from whistle import crypto
from whistle.crypto.case_keys import CaseKeyAnnouncement, sign_case_key
from whistle.crypto.conversation import Position
from whistle.crypto.framing import PartData, PartKind, PartStart
from whistle.crypto.records import (
    compact_json,
    form_document,
    open_as_source,
    open_followup_as_office,
    open_identification,
    open_submission,
    seal_followup,
    seal_reply,
)
from whistle.crypto.source_copy import copy_document, open_copy, seal_copy

ROOT = Path(__file__).resolve().parents[2]
INTEROP = ROOT / "tests" / "js" / "interop.mjs"
MODES = {"wasm": [], "jitless": ["--jitless"]}


def _node() -> str:
    node = shutil.which("node")
    if node is None or not (ROOT / "node_modules" / "libsodium-wrappers").is_dir():
        pytest.fail("node and node_modules are needed: run `make build`")
    return node


def _run(args: list[str], timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [_node(), *args], cwd=ROOT, capture_output=True, text=True, timeout=timeout, check=False
    )


def _interop(flags: list[str], command: str, request: dict, tmp_path: Path) -> dict:
    path = tmp_path / f"{command}.json"
    path.write_text(json.dumps(request), encoding="utf-8")
    result = _run([*flags, str(INTEROP), command, str(path)])
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def pattern(size: int, seed: int) -> bytes:
    """The same deterministic content as interop.mjs's ``pattern``."""
    return bytes((i * 31 + seed) & 0xFF for i in range(size))


FILES = [
    {"name": "contracte.pdf", "size": 150_000, "seed": 1},
    {"name": "notes — esborrany.txt", "size": 10, "seed": 2},
    {"name": "empty", "size": 0, "seed": 3},
]
FORM = form_document(
    "ca",
    "antifrau",
    [
        {"key": "subject", "label": "Assumpte", "value": "Contracte d'obres"},
        {"key": "description", "label": "Descripció", "value": "Pagaments duplicats — 2026 €"},
    ],
    identified=True,
    category={"key": "contractacio", "label": "Contractació"},
    meeting=True,
    availability="Dimarts a la tarda — «no a l'oficina»",
)
IDENTIFICATION = [{"key": "name", "label": "Nom", "value": "Anna Puig i Ferrer"}]
OFFICE = crypto.generate_signing_keypair()


@pytest.fixture
def office():
    return {
        "desk": crypto.generate_box_keypair(),
        "desk2": crypto.generate_box_keypair(),
        "custodian": crypto.generate_box_keypair(),
        "salt": crypto.random_bytes(32),
        "case_id": crypto.random_bytes(16),
        "code": crypto.generate_code(),
    }


def _request(office: dict, tmp_path: Path) -> dict:
    return {
        "code": crypto.format_code(office["code"]).lower(),
        "install_salt": office["salt"].hex(),
        "case_id": office["case_id"].hex(),
        "desk_public_key": office["desk"].public_key.hex(),
        "custodian_public_key": office["custodian"].public_key.hex(),
        "desk_keys": [office["desk"].public_key.hex(), office["desk2"].public_key.hex()],
        "form": dict(reversed(FORM.items())),  # the page must not depend on the order it is given
        "identification": IDENTIFICATION,
        "message": "Més informació, more details.",
        "files": FILES,
        "out_dir": str(tmp_path),
    }


@pytest.mark.parametrize("mode", MODES, ids=list(MODES))
def test_js_writes_whistle_crypto_opens(mode, office, tmp_path):
    written = _interop(MODES[mode], "write", _request(office, tmp_path), tmp_path)
    assert written["mode"] == ("javascript" if mode == "jitless" else "webassembly")
    keys = crypto.derive_source_keys(office["code"], office["salt"])
    assert written["login_token"] == keys.login_token.hex()
    assert written["reply_public_key"] == keys.reply_public_key.hex()
    assert written["signing_public_key"] == keys.signing_public_key.hex()
    total = sum(f["size"] for f in FILES)
    assert written["progress_first"] == [0, total]
    assert written["progress_last"] == [total, total]

    data = (tmp_path / "submission.bin").read_bytes()
    submission = open_submission(io.BytesIO(data), [office["desk"].secret_key], office["case_id"])
    assert submission.reply_public_key == keys.reply_public_key
    assert submission.source_signing_key == keys.signing_public_key
    raw_form = next(p for p in submission.envelope.read_all() if p.name == "form").content
    assert raw_form == compact_json({"version": 1, **FORM})  # byte for byte what Python writes
    assert submission.form == {"version": 1, **FORM}
    assert submission.files == [(f["name"], f["size"]) for f in FILES]
    contents: dict[str, bytearray] = {}
    current = None
    for event in submission.envelope.events():
        if isinstance(event, PartStart):
            current = event.name if event.kind == PartKind.FILE else None
            if current:
                contents[current] = bytearray()
        elif isinstance(event, PartData) and current:
            contents[current] += event.data
    for f in FILES:
        assert bytes(contents[f["name"]]) == pattern(f["size"], f["seed"])
    binding = {"case_id": office["case_id"], "reply_public_key": keys.reply_public_key}
    ident = open_identification(
        submission.identification_block, office["custodian"].secret_key, **binding
    )
    assert (ident.version, ident.fields) == (2, IDENTIFICATION)
    with pytest.raises(crypto.WrongKeyError):
        open_identification(submission.identification_block, office["desk"].secret_key, **binding)
    # The block JS wrote names its case: it does not open for another.
    with pytest.raises(crypto.MisboundError):
        open_identification(
            submission.identification_block,
            office["custodian"].secret_key,
            case_id=bytes(16),
            reply_public_key=keys.reply_public_key,
        )
    # The source can read its own submission again; the case binding holds.
    crypto.open_envelope(
        io.BytesIO(data),
        keys.reply_secret_key,
        crypto.associated_data("submission", office["case_id"]),
    )
    with pytest.raises(crypto.TamperedError):
        open_submission(io.BytesIO(data), [office["desk"].secret_key], crypto.random_bytes(16))

    followup = (tmp_path / "followup.bin").read_bytes()
    for desk in ("desk", "desk2"):
        conversation = open_followup_as_office(
            followup,
            [office[desk].secret_key],
            office["case_id"],
            keys.reply_public_key,
            keys.signing_public_key,
        )
        assert conversation.message == "Més informació, more details."
        assert conversation.position == Position(1, 2)  # signed in JS, checked here
        assert [(p.name, p.content) for p in conversation.files] == [
            (f["name"], pattern(f["size"], f["seed"])) for f in FILES
        ]
    with pytest.raises(crypto.BadSignatureError):
        open_followup_as_office(
            followup,
            [office["desk"].secret_key],
            office["case_id"],
            keys.reply_public_key,
            crypto.generate_signing_keypair().public_key,
        )


@pytest.mark.parametrize("mode", MODES, ids=list(MODES))
def test_whistle_crypto_seals_js_opens(mode, office, tmp_path):
    keys = crypto.derive_source_keys(office["code"], office["salt"])
    big = pattern(140_000, 7)  # three chunks
    reply = seal_reply(
        "Gràcies. Hem rebut la vostra comunicació.",
        [("acta.txt", big)],
        reply_public_key=keys.reply_public_key,
        desk_key=office["desk"].public_key,
        case_id=office["case_id"],
        office_seed=OFFICE.seed,
        position=Position(1, 0),
    )
    own = seal_followup(
        "Una cosa més.",
        [],
        reply_secret_key=keys.reply_secret_key,
        office_keys=[office["desk"].public_key],
        case_id=office["case_id"],
        signing_seed=keys.signing_seed,
        position=Position(1, 1),
    )
    forged = seal_reply(
        "Envieu-nos el vostre codi.",
        [],
        reply_public_key=keys.reply_public_key,
        desk_key=office["desk"].public_key,
        case_id=office["case_id"],
        office_seed=crypto.generate_signing_keypair().seed,
        position=Position(2, 0),
    )
    paths = {}
    records = {"reply": reply, "followup": own, "tampered": _flip(reply), "forged": forged}
    for name, data in records.items():
        paths[name] = tmp_path / f"{name}.bin"
        paths[name].write_bytes(data)
    request = {
        "code": office["code"],
        "install_salt": office["salt"].hex(),
        "case_id": office["case_id"].hex(),
        "office_key": OFFICE.public_key.hex(),
        "records": [
            {"path": str(paths["reply"]), "kind": "reply", "seed": 7},
            {"path": str(paths["followup"]), "kind": "followup", "seed": 0},
            {"path": str(paths["tampered"]), "kind": "reply", "seed": 7},
            {"path": str(paths["reply"]), "kind": "followup", "seed": 7},
            {"path": str(paths["forged"]), "kind": "reply", "seed": 0},
        ],
    }
    opened = _interop(MODES[mode], "open", request, tmp_path)
    reply_result, own_result, tampered, misbound, forged_result = opened["results"]
    assert reply_result["message"] == "Gràcies. Hem rebut la vostra comunicació."
    assert reply_result["position"] == {"sequence": 1, "seen": 0}  # signed here, checked in JS
    assert forged_result == {"error": "BadSignatureError"}
    assert [(f["name"], f["size"]) for f in reply_result["files"]] == [("acta.txt", len(big))]
    assert reply_result["files_match"] == [True]
    assert own_result == {
        "message": "Una cosa més.",
        "position": {"sequence": 1, "seen": 1},
        "files": [],
        "files_match": [],
    }
    assert tampered == {"error": "TamperedError"}
    assert misbound == {"error": "TamperedError"}


@pytest.mark.parametrize("mode", MODES, ids=list(MODES))
def test_a_follow_up_the_page_seals_to_a_case_key_opens_with_it_alone(mode, office, tmp_path):
    """The page checks the office's announcement (protocol §17) and seals to the key in it:
    the case secret opens the follow-up, the desks' keys of the card do not; the source still
    reads it back. An announcement for another case is refused before anything is written."""
    keys = crypto.derive_source_keys(office["code"], office["salt"])
    case_key = crypto.generate_box_keypair()
    announcement = CaseKeyAnnouncement(office["case_id"], 3, case_key.public_key)
    request = {
        "code": office["code"],
        "install_salt": office["salt"].hex(),
        "case_id": office["case_id"].hex(),
        "office_key": OFFICE.public_key.hex(),
        "announcement": base64.b64encode(sign_case_key(OFFICE.seed, announcement)).decode(),
        "message": "Només per a qui porta el cas.",
        "out_dir": str(tmp_path),
    }
    written = _interop(MODES[mode], "case-followup", request, tmp_path)
    assert (written["generation"], written["key"]) == (3, case_key.public_key.hex())
    followup = (tmp_path / "followup-case.bin").read_bytes()
    opened = open_followup_as_office(
        followup,
        [case_key.secret_key],
        office["case_id"],
        keys.reply_public_key,
        keys.signing_public_key,
    )
    assert (opened.message, opened.position) == ("Només per a qui porta el cas.", Position(2, 1))
    with pytest.raises(crypto.WrongKeyError):
        open_followup_as_office(
            followup,
            [office["desk"].secret_key, office["desk2"].secret_key],
            office["case_id"],
            keys.reply_public_key,
            keys.signing_public_key,
        )
    own = open_as_source(
        followup,
        "followup",
        keys.reply_secret_key,
        office["case_id"],
        office_key=OFFICE.public_key,
        source_signing_key=keys.signing_public_key,
        signed_case=True,
    )
    assert own.message == "Només per a qui porta el cas."

    (tmp_path / "followup-case.bin").unlink()
    other = CaseKeyAnnouncement(crypto.random_bytes(16), 3, case_key.public_key)
    request["announcement"] = base64.b64encode(sign_case_key(OFFICE.seed, other)).decode()
    path = tmp_path / "case-followup.json"
    path.write_text(json.dumps(request), encoding="utf-8")
    result = _run([*MODES[mode], str(INTEROP), "case-followup", str(path)])
    assert result.returncode != 0
    assert "MisboundError" in result.stderr
    assert not (tmp_path / "followup-case.bin").exists()


def _flip(data: bytes) -> bytes:
    out = bytearray(data)
    out[len(out) // 2] ^= 1
    return bytes(out)


def test_self_test_vector_matches_whistle_crypto():
    """The known vector the browser checks at load is what whistle.crypto makes and opens."""
    script = "import('./js/selftest.js').then(m => process.stdout.write(JSON.stringify(m.VECTOR)))"
    result = _run(["--input-type=module", "-e", script])
    assert result.returncode == 0, result.stderr
    v = json.loads(result.stdout)
    keys = crypto.derive_source_keys(v["code"], bytes.fromhex(v["installSalt"]))
    assert keys.login_token.hex() == v["loginToken"]
    assert keys.reply_public_key.hex() == v["replyPublicKey"]
    envelope = base64.b64decode(v["envelope"])
    case_id = bytes.fromhex(v["caseId"])
    desk = crypto.box_keypair_from_secret(bytes.fromhex(v["deskSecretKey"]))
    conversation = open_followup_as_office(
        envelope, [desk.secret_key], case_id, keys.reply_public_key, None
    )
    assert conversation.message == v["message"]
    own = open_as_source(
        envelope,
        "followup",
        keys.reply_secret_key,
        case_id,
        office_key=bytes(32),
        source_signing_key=keys.signing_public_key,
        signed_case=False,
    )
    assert own.message == v["message"]


def test_node_test_runner():
    """node --test tests/js/: every browser-relevant vector, with WebAssembly."""
    result = _run(["--test", "tests/js/"], timeout=600)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    assert "# fail 0" in result.stdout


def test_node_vectors_without_webassembly():
    """The vector tests again with libsodium's plain-JS fallback (node --jitless)."""
    names = ("codes", "derivation", "envelopes", "conversation", "case-keys")
    files = [f"tests/js/{name}.test.mjs" for name in names]
    result = _run(["--jitless", "--test", *files], timeout=600)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    assert "# fail 0" in result.stdout


@pytest.mark.parametrize("mode", MODES, ids=list(MODES))
def test_the_source_copy_is_the_same_from_the_page_and_the_server(mode, office, tmp_path):
    """The page seals the source's copy to the same key and with the same bytes inside as the
    server does without JavaScript (source_copy.py): same plaintext, same envelope size, so the
    server cannot tell which wrote it; each side opens the other's; a wrong code, another case
    or a changed byte open nothing."""
    written = _interop(MODES[mode], "write", _request(office, tmp_path), tmp_path)
    keys = crypto.derive_source_keys(office["code"], office["salt"])
    assert written["copy_public_key"] == keys.copy_public_key.hex()
    files = [(f["name"], f["size"]) for f in FILES]
    expected = {
        "copy-submission.bin": copy_document("submission", files=files, form=FORM),
        "copy-followup.bin": copy_document(
            "followup", files=files, message="Més informació, more details."
        ),
    }
    ad = crypto.associated_data("source-copy", office["case_id"])
    for name, document in expected.items():
        data = (tmp_path / name).read_bytes()
        inside = crypto.open_bytes(data, keys.copy_secret_key, ad).part("copy").content
        assert inside == compact_json(document)  # byte for byte what the server writes
        from_python = seal_copy(document, keys.copy_public_key, office["case_id"])
        assert len(data) == len(from_python)
        assert data[:9] == from_python[:9]  # magic, version, one slot, no sender, sealed
        opened = open_copy(data, keys.copy_secret_key, office["case_id"])
        assert opened.files == files
    other = crypto.derive_source_keys(crypto.generate_code(), office["salt"])
    with pytest.raises(crypto.WrongKeyError):
        open_copy(
            (tmp_path / "copy-followup.bin").read_bytes(), other.copy_secret_key, office["case_id"]
        )

    sealed = seal_copy(expected["copy-followup.bin"], keys.copy_public_key, office["case_id"])
    paths = []
    for name, data in {
        "py-copy": sealed,
        "py-tampered": _flip(sealed),
        "py-other-code": seal_copy(
            expected["copy-followup.bin"], other.copy_public_key, office["case_id"]
        ),
        "py-other-case": seal_copy(expected["copy-followup.bin"], keys.copy_public_key, bytes(16)),
    }.items():
        (tmp_path / name).write_bytes(data)
        paths.append(str(tmp_path / name))
    request = {
        "code": office["code"],
        "install_salt": office["salt"].hex(),
        "case_id": office["case_id"].hex(),
        "paths": paths,
    }
    good, tampered, other_code, other_case = _interop(MODES[mode], "copies", request, tmp_path)[
        "results"
    ]
    assert good == {
        "kind": "followup",
        "files": [{"name": n, "size": s} for n, s in files],
        "fields": [],
        "message": "Més informació, more details.",
    }
    assert tampered == {"error": "TamperedError"}
    assert other_code == {"error": "WrongKeyError"}
    assert other_case == {"error": "TamperedError"}
