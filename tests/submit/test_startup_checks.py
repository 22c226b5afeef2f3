"""Each start-up check: one line that says what to fix, before any request is served
(docs/threat-model.md §3.10). A broken configuration stops the server; a read-only or full
data directory is named but the site keeps serving its "temporarily unavailable" page."""

import shlex
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from whistle.cli import main
from whistle.submit import STARTUP_FAILURE, StartupError, app_from_directory
from whistle.submit.config import OFFICE_CARD_FILE, PEPPER_FILE

pytestmark = pytest.mark.sqlite_only


def startup_line(directory: Path, capsys: pytest.CaptureFixture[str]) -> str:
    with pytest.raises(StartupError) as stopped:
        app_from_directory(directory)
    assert stopped.value.code == STARTUP_FAILURE
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1
    assert lines[0] == str(stopped.value)
    return lines[0]


def test_a_good_directory_starts(data_dir: Path) -> None:
    app_from_directory(data_dir).extensions["whistle_submit"].engine.dispose()


def test_missing_office_card(data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (data_dir / OFFICE_CARD_FILE).unlink()
    line = startup_line(data_dir, capsys)
    assert OFFICE_CARD_FILE in line
    assert "cannot read" in line


def test_unreadable_office_card(data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (data_dir / OFFICE_CARD_FILE).write_bytes(b"\x00not a card")
    assert OFFICE_CARD_FILE in startup_line(data_dir, capsys)


def test_missing_key(data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (data_dir / PEPPER_FILE).unlink()
    line = startup_line(data_dir, capsys)
    assert PEPPER_FILE in line
    assert "cannot read" in line


def test_bad_database_url(data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = data_dir / "config.toml"
    config.write_text(config.read_text().replace('database_url = ""', 'database_url = "mysql://x"'))
    assert "database_url" in startup_line(data_dir, capsys)


def in_private_mounts(script: str) -> subprocess.CompletedProcess[str]:
    """Runs a shell script in its own mount namespace (root can write to mode-555 dirs)."""
    return subprocess.run(
        ["unshare", "-m", "--propagation", "private", "sh", "-euc", script],
        capture_output=True,
        text=True,
        timeout=120,
    )


START = """
import sys
from whistle.submit import StartupError, app_from_directory
try:
    app_from_directory(sys.argv[1])
except StartupError as stopped:
    sys.exit(stopped.code)
print("started")
"""


def start_command(directory: Path) -> str:
    return shlex.join([sys.executable, "-c", START, str(directory)])


def test_read_only_data_directory(data_dir: Path) -> None:
    result = in_private_mounts(
        f"mount --bind {data_dir} {data_dir}; mount -o remount,bind,ro {data_dir}; "
        f"{start_command(data_dir)}"
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "started"
    [line] = result.stderr.strip().splitlines()
    assert line.startswith(f"whistle: the data directory {data_dir} is not writable")
    # Outside that namespace the same directory is writable: no line.
    writable = in_private_mounts(start_command(data_dir))
    assert (writable.stdout.strip(), writable.stderr) == ("started", "")


def test_full_data_directory(tmp_path: Path, data_dir: Path) -> None:
    # A 24 MiB tmpfs holding a copy of the data directory; max upload set to 1 MiB, so the
    # server needs 17 MiB free. A filler leaves less: the line says so; without it, silence.
    config = data_dir / "config.toml"
    config.write_text(
        config.read_text().replace("max_upload_bytes = 104857600", "max_upload_bytes = 1048576")
    )
    mount = tmp_path / "small"
    mount.mkdir()
    copy = mount / "data"
    script = (
        f"mount -t tmpfs -o size=24m tmpfs {mount}; cp -a {data_dir} {copy}; "
        f"head -c 12m /dev/zero > {mount}/filler; "
        f"{start_command(copy)} 2> {mount}/full.err; "
        f"rm {mount}/filler; {start_command(copy)}; cat {mount}/full.err >&2"
    )
    result = in_private_mounts(script)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["started", "started"]
    [line] = result.stderr.strip().splitlines()
    assert "MiB free and needs at least 17 MiB" in line


def test_status_says_counts_and_health_only(data_dir: Path) -> None:
    result = CliRunner().invoke(main, ["server", "status", str(data_dir)])
    assert result.exit_code == 0, result.output
    assert "Submissions waiting for collection: 0" in result.output
    assert "Last collection (outbox export):    never" in result.output
    assert "Database: ok" in result.output
    assert "Schema: current" in result.output
