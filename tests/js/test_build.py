"""The browser build: reproducible, named by content, described by its manifest, and split
so that a browser downloads only the half of libsodium.js it can run."""

import base64
import gzip
import hashlib
import json
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
#: KB = 1,000 bytes (docs/benchmarks.md). With WebAssembly: the page script and the binary.
MAX_WASM_GZIP = 150_000
#: Without WebAssembly: the page script and the plain-JS fallback.
MAX_JS_GZIP = 230_000
ROLES = {
    "page": ("whistle-page", "js"),
    "wasm": ("libsodium", "wasm"),
    "fallback": ("libsodium-fallback", "js"),
}


def _build(root: Path, out: Path) -> dict:
    node = shutil.which("node")
    if node is None or not (ROOT / "node_modules" / "esbuild").is_dir():
        pytest.fail("node and node_modules are needed: run `make build`")
    result = subprocess.run(
        [node, "js/build.mjs", "--out", str(out)],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return json.loads((out / "manifest.json").read_text(encoding="utf-8"))


def test_two_builds_give_the_same_bytes(tmp_path):
    # The second build runs from a copy of the sources at another path.
    copy = tmp_path / "elsewhere"
    shutil.copytree(ROOT / "js", copy / "js")
    shutil.copy(ROOT / "package.json", copy / "package.json")
    (copy / "node_modules").symlink_to(ROOT / "node_modules")
    first = _build(ROOT, tmp_path / "one")
    second = _build(copy, tmp_path / "two")
    assert first == second
    for role in ROLES:
        name = first[role]["file"]
        assert (tmp_path / "one" / name).read_bytes() == (tmp_path / "two" / name).read_bytes()


def test_manifest_describes_every_file(tmp_path):
    out = tmp_path / "build"
    stale = [out / "whistle-crypto.0000000000000000.js", out / "libsodium.0000000000000000.wasm"]
    out.mkdir()
    for path in stale:
        path.write_text("old")
    manifest = _build(ROOT, out)
    for role, (prefix, suffix) in ROLES.items():
        entry = manifest[role]
        data = (out / entry["file"]).read_bytes()
        sha256 = hashlib.sha256(data).hexdigest()
        assert entry["file"] == f"{prefix}.{sha256[:16]}.{suffix}"
        assert entry["sha256"] == sha256
        digest = base64.b64encode(hashlib.sha384(data).digest()).decode()
        assert entry["sri"] == f"sha384-{digest}"
        assert entry["bytes"] == len(data)
        # Level 9 either side; node's zlib and Python's differ by a fraction of a percent.
        assert abs(entry["gzip_bytes"] - len(gzip.compress(data, 9, mtime=0))) < len(data) / 100
    # Issue 22: with WebAssembly, the crypto costs at most 150 KB on the wire; without it the
    # page script and the fallback are still well under the old 338 KB.
    assert manifest["page"]["gzip_bytes"] + manifest["wasm"]["gzip_bytes"] <= MAX_WASM_GZIP
    assert manifest["page"]["gzip_bytes"] + manifest["fallback"]["gzip_bytes"] <= MAX_JS_GZIP
    assert (out / manifest["wasm"]["file"]).read_bytes()[:4] == b"\0asm"
    # The page script pins the other two by their hashes: its own hash covers them.
    page = (out / manifest["page"]["file"]).read_bytes()
    for role in ("wasm", "fallback"):
        assert manifest[role]["sri"].encode() in page
    assert not any(path.exists() for path in stale)
    assert sorted(p.name for p in out.iterdir()) == sorted(
        [*(manifest[role]["file"] for role in ROLES), "manifest.json"]
    )


def test_a_libsodium_the_build_does_not_know_is_refused(tmp_path):
    """The split cuts libsodium.js at two exact places: any other file stops the build."""
    script = (
        "import { splitLibsodium } from './js/build.mjs';"
        "try { splitLibsodium('var a=1;'); process.exit(3); }"
        "catch (e) { console.log(e.message); }"
    )
    result = subprocess.run(
        ["node", "--input-type=module", "-e", script],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "not where this build expects it" in result.stdout
