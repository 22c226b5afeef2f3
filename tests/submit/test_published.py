"""`whistle server published`: the office fingerprint and the page script's hash, the values
the office puts on its clearnet page (docs/deployment.md §8), computed from what is served."""

import hashlib
import json
import re
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from whistle.cli import main
from whistle.submit import app_from_directory
from whistle.submit.app import BUILD_DIR
from whistle.submit.config import load_config
from whistle.submit.published import BuildMissingError, published_lines

pytestmark = pytest.mark.sqlite_only


def test_it_prints_the_fingerprint_and_the_hash_of_the_script_the_pages_load(
    data_dir: Path,
) -> None:
    result = CliRunner().invoke(main, ["server", "published", str(data_dir)])
    assert result.exit_code == 0, result.output
    fingerprint = load_config(data_dir).office_card.fingerprint
    assert f"Office fingerprint: {fingerprint}" in result.output
    app = app_from_directory(data_dir)
    try:
        page = app.test_client().get("/report").get_data(as_text=True)
    finally:
        app.extensions["whistle_submit"].engine.dispose()
    # The report page loads exactly one script, and it is the one whose hash is printed.
    [script] = re.findall(r'<script src="/static/build/([^"]+)"', page)
    digest = hashlib.sha256((BUILD_DIR / script).read_bytes()).hexdigest()
    assert f"Page script: {script}\n" in result.output
    assert f"Page script SHA-256: {digest}\n" in result.output
    manifest = json.loads((BUILD_DIR / "manifest.json").read_text(encoding="utf-8"))
    for role in ("wasm", "fallback"):
        name = manifest[role]["file"]
        assert f"{hashlib.sha256((BUILD_DIR / name).read_bytes()).hexdigest()}  {name}" in (
            result.output
        )


def test_a_page_script_that_does_not_pin_the_files_beside_it_is_refused(tmp_path: Path) -> None:
    build = tmp_path / "build"
    shutil.copytree(BUILD_DIR, build)
    manifest = json.loads((build / "manifest.json").read_text(encoding="utf-8"))
    wasm = build / manifest["wasm"]["file"]
    wasm.write_bytes(wasm.read_bytes() + b"\0")
    with pytest.raises(BuildMissingError, match="does not pin"):
        published_lines("XXXX", build)
    with pytest.raises(BuildMissingError, match="no complete browser build"):
        published_lines("XXXX", tmp_path / "nothing")
