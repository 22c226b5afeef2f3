"""torrc.example: valid for tor, commented for the operator, and it makes both onion services."""

import os
import runpy
import signal
import subprocess
import time
from pathlib import Path

from tests.deploy.gunicorn_server import GUNICORN_CONF
from tests.deploy.torrc import (
    COURIER_SERVICE,
    SOURCE_SERVICE,
    TORRC_EXAMPLE,
    directives,
    rewrite,
)

#: What Debian's tor@default.service reads before /etc/tor/torrc (in the tor package).
DEBIAN_SERVICE_DEFAULTS = "/usr/share/tor/tor-service-defaults-torrc"
#: How long tor may take to write the onion services' keys with the network off (~0.1 s here).
HOSTNAME_DEADLINE = 30.0


def services(text: str) -> dict[str, list[str]]:
    """The directives of each onion service, by directory name."""
    found: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in directives(text):
        if line.startswith("HiddenServiceDir "):
            current = found.setdefault(Path(line.split()[1]).name, [])
        elif line.startswith("HiddenService"):
            assert current is not None, f"{line} comes before any HiddenServiceDir"
            current.append(line)
    return found


def test_every_directive_has_a_comment_line_just_above_it() -> None:
    previous = ""
    for line in TORRC_EXAMPLE.read_text().splitlines():
        stripped = line.strip()
        if stripped and not stripped.startswith("#"):
            assert previous.startswith("#"), f"no comment above: {stripped}"
        previous = stripped


def test_server_has_no_socks_port_and_safe_logging() -> None:
    lines = directives(TORRC_EXAMPLE.read_text())
    assert "SocksPort 0" in lines
    assert "SafeLogging 1" in lines
    assert not any(line.startswith(("ControlPort", "ORPort", "DirPort")) for line in lines)


def test_source_service_forwards_port_80_to_gunicorn_with_proof_of_work() -> None:
    source = services(TORRC_EXAMPLE.read_text())[SOURCE_SERVICE]
    assert "HiddenServicePort 80 127.0.0.1:8080" in source
    assert "HiddenServicePoWDefensesEnabled 1" in source


def test_one_circuit_can_hold_only_a_small_share_of_the_sites_connections() -> None:
    source = services(TORRC_EXAMPLE.read_text())[SOURCE_SERVICE]
    (limit,) = [int(line.split()[1]) for line in source if "MaxStreams " in line]
    settings = runpy.run_path(str(GUNICORN_CONF))
    held = settings["workers"] * settings["worker_connections"]
    assert 6 <= limit <= held // 100  # a browser's connections; under 1 % of the site
    assert "HiddenServiceMaxStreamsCloseCircuit 1" in source


def test_courier_service_forwards_port_80_to_the_courier_endpoint() -> None:
    courier = services(TORRC_EXAMPLE.read_text())[COURIER_SERVICE]
    assert "HiddenServicePort 80 127.0.0.1:8081" in courier


def test_rewrite_moves_every_server_path_into_the_test_directory(tmp_path: Path) -> None:
    text = rewrite(TORRC_EXAMPLE.read_text(), tmp_path, {8080: 1234})
    assert not any("/var/lib/tor" in line for line in directives(text))
    assert "HiddenServicePort 80 127.0.0.1:1234" in directives(text)
    assert "HiddenServicePort 80 127.0.0.1:8081" in directives(text)


def torrc_in(tmp_path: Path, *extra: str) -> tuple[Path, Path]:
    """torrc.example moved into ``tmp_path``, plus ``extra`` lines; and an empty defaults file.

    tor's defaults file on Debian (User, DataDirectory /var/lib/tor, ...) is for the real
    service; the tests replace it with an empty one.
    """
    tmp_path.chmod(0o700)
    torrc = tmp_path / "torrc"
    torrc.write_text(
        rewrite(TORRC_EXAMPLE.read_text(), tmp_path)
        + "\n".join([f"DataDirectory {tmp_path / 'data'}", *extra])
        + "\n"
    )
    defaults = tmp_path / "torrc-defaults"
    defaults.touch()
    return torrc, defaults


def test_tor_verify_config_accepts_it(tmp_path: Path) -> None:
    torrc, defaults = torrc_in(tmp_path)
    result = subprocess.run(
        ["tor", "--verify-config", "-f", str(torrc), "--defaults-torrc", str(defaults)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout
    assert "Configuration was valid" in result.stdout


def test_tor_verify_config_accepts_it_as_debians_tor_service_runs_it() -> None:
    """The unmodified file, with Debian's service defaults, as tor@default's ExecStartPre does.

    ``--verify-config`` reads and checks; it creates no directory and opens no port.
    """
    result = subprocess.run(
        [
            "tor",
            "--defaults-torrc",
            DEBIAN_SERVICE_DEFAULTS,
            "-f",
            str(TORRC_EXAMPLE),
            "--RunAsDaemon",
            "0",
            "--verify-config",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout
    assert "Configuration was valid" in result.stdout


def test_tor_verify_config_rejects_a_broken_copy(tmp_path: Path) -> None:
    """The check above can fail: a misspelt option is refused."""
    torrc, defaults = torrc_in(tmp_path, "HiddenServicePoWDefencesEnabled 1")
    result = subprocess.run(
        ["tor", "--verify-config", "-f", str(torrc), "--defaults-torrc", str(defaults)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode != 0


def test_tor_creates_both_onion_services_offline(tmp_path: Path) -> None:
    log = tmp_path / "notice.log"
    torrc, defaults = torrc_in(tmp_path, "DisableNetwork 1", f"Log notice file {log}")
    hostnames = [tmp_path / name / "hostname" for name in (SOURCE_SERVICE, COURIER_SERVICE)]
    tor = subprocess.Popen(
        ["tor", "-f", str(torrc), "--defaults-torrc", str(defaults)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + HOSTNAME_DEADLINE
        while not all(path.exists() and path.stat().st_size for path in hostnames):
            assert tor.poll() is None, log.read_text() if log.exists() else "tor exited"
            assert time.monotonic() < deadline, "tor wrote no onion hostname in time"
            time.sleep(0.05)
    finally:
        os.kill(tor.pid, signal.SIGTERM)
        tor.wait(timeout=30)
    addresses = [path.read_text().strip() for path in hostnames]
    for address in addresses:
        assert address.endswith(".onion")
        assert len(address) == 56 + len(".onion")  # a v3 address
    assert addresses[0] != addresses[1]
    assert (tmp_path / COURIER_SERVICE / "authorized_clients").is_dir()
    for name in (SOURCE_SERVICE, COURIER_SERVICE):
        assert (tmp_path / name).stat().st_mode & 0o077 == 0  # private to tor's user
