"""The browser bundle build: reproducible, named by content, described by its manifest."""

import base64
import gzip
import hashlib
import json
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
MAX_GZIP_BYTES = 350_000  # 350 KB, KB = 1,000 bytes (docs/benchmarks.md)


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
    assert (tmp_path / "one" / first["file"]).read_bytes() == (
        tmp_path / "two" / second["file"]
    ).read_bytes()


def test_manifest_describes_the_file(tmp_path):
    out = tmp_path / "build"
    stale = out / "whistle-crypto.0000000000000000.js"
    out.mkdir()
    stale.write_text("old")
    manifest = _build(ROOT, out)
    data = (out / manifest["file"]).read_bytes()
    sha256 = hashlib.sha256(data).hexdigest()
    assert manifest["file"] == f"whistle-crypto.{sha256[:16]}.js"
    assert manifest["sha256"] == sha256
    digest = base64.b64encode(hashlib.sha384(data).digest()).decode()
    assert manifest["sri"] == f"sha384-{digest}"
    assert manifest["bytes"] == len(data)
    # Level 9 either side; node's zlib and Python's differ by a fraction of a percent.
    assert abs(manifest["gzip_bytes"] - len(gzip.compress(data, 9, mtime=0))) < len(data) / 100
    assert manifest["gzip_bytes"] <= MAX_GZIP_BYTES
    assert not stale.exists()
    page = (out / manifest["page_file"]).read_bytes()
    assert page == (ROOT / "js" / "page.js").read_bytes()
    page_digest = base64.b64encode(hashlib.sha384(page).digest()).decode()
    assert manifest["page_sri"] == f"sha384-{page_digest}"
    assert sorted(p.name for p in out.iterdir()) == sorted(
        [manifest["file"], manifest["page_file"], "manifest.json"]
    )
