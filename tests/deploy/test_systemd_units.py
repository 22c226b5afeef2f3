"""The systemd units in deploy/: valid for systemd, hardened, and compatible with what they run."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.deploy.units import DEPLOY, SERVER_VENV_BIN, SERVICES, TIMERS, unit_settings

#: Every service must have at least these settings, with exactly these values.
HARDENING = {
    "User": "whistle",
    "Group": "whistle",
    "UMask": "0077",
    "ProtectSystem": "strict",
    "ReadWritePaths": "/var/lib/whistle",
    "ProtectHome": "yes",
    "PrivateTmp": "yes",
    "PrivateDevices": "yes",
    "NoNewPrivileges": "yes",
    "LimitCORE": "0",
    "MemorySwapMax": "0",
    "CapabilityBoundingSet": "",
    "AmbientCapabilities": "",
    "RestrictAddressFamilies": "AF_UNIX AF_INET AF_INET6",
    "IPAddressDeny": "any",
    "IPAddressAllow": "localhost",
    "MemoryDenyWriteExecute": "yes",
    "SystemCallFilter": "@system-service",
    "SystemCallArchitectures": "native",
    "RestrictNamespaces": "yes",
    "RestrictSUIDSGID": "yes",
    "RestrictRealtime": "yes",
    "LockPersonality": "yes",
    "ProtectKernelTunables": "yes",
    "ProtectKernelModules": "yes",
    "ProtectControlGroups": "yes",
    "PrivateMounts": "yes",
}


def test_systemd_analyze_exists() -> None:
    assert shutil.which("systemd-analyze"), "systemd-analyze missing: `make system-deps`"


def units_for_this_machine(tmp_path: Path) -> list[Path]:
    """Copies of the units whose binaries point into this test run's virtual environment."""
    venv_bin = f"{Path(sys.executable).parent}/"
    copies = []
    for name in (*SERVICES, *TIMERS):
        text = (DEPLOY / name).read_text().replace(SERVER_VENV_BIN, venv_bin)
        copy = tmp_path / name
        copy.write_text(text)
        copies.append(copy)
    return copies


def test_units_pass_systemd_analyze_verify_without_a_warning(tmp_path: Path) -> None:
    units = units_for_this_machine(tmp_path)
    result = subprocess.run(
        ["systemd-analyze", "verify", *map(str, units)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        check=False,
    )
    # verify exits 0 for unknown keys and invalid values ("…, ignoring."): a warning is a failure.
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""


#: systemd's own exposure score, 0 (locked down) to 10 (unprotected), x10; "OK" is below 2.0.
MAX_EXPOSURE = 15


def test_services_exposure_score_is_low(tmp_path: Path) -> None:
    services = [unit for unit in units_for_this_machine(tmp_path) if unit.suffix == ".service"]
    result = subprocess.run(
        [
            "systemd-analyze",
            "security",
            "--offline=yes",
            f"--threshold={MAX_EXPOSURE}",
            *map(str, services),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr


def test_systemd_analyze_verify_catches_a_misspelt_setting(tmp_path: Path) -> None:
    """The check above would catch a typo in a hardening line (it is not silent)."""
    unit = units_for_this_machine(tmp_path)[0]
    unit.write_text(unit.read_text().replace("ProtectSystem=strict", "ProtectSytem=strict"))
    result = subprocess.run(
        ["systemd-analyze", "verify", str(unit)], capture_output=True, text=True, check=False
    )
    assert "ProtectSytem" in result.stderr


def test_binaries_the_units_run_exist_in_the_virtual_environment() -> None:
    for name in SERVICES:
        for command in unit_settings(DEPLOY / name)["ExecStart"]:
            binary = command.split()[0]
            assert binary.startswith(SERVER_VENV_BIN), (name, binary)
            assert (Path(sys.executable).parent / binary.removeprefix(SERVER_VENV_BIN)).exists()


@pytest.mark.parametrize("name", SERVICES)
def test_service_is_hardened(name: str) -> None:
    settings = unit_settings(DEPLOY / name)
    for key, value in HARDENING.items():
        assert settings.get(key) == [value], f"{name}: {key}={value} expected"


def test_submit_service_runs_the_app_factory_with_the_gunicorn_config() -> None:
    (command,) = unit_settings(DEPLOY / "whistle-submit.service")["ExecStart"]
    assert command == (
        "/opt/whistle/venv/bin/gunicorn --config /etc/whistle/gunicorn.conf.py "
        "'whistle.submit:app_from_directory(\"/var/lib/whistle\")'"
    )


def test_housekeeping_timer_starts_the_housekeeping_command_daily() -> None:
    timer = unit_settings(DEPLOY / "whistle-housekeeping.timer")
    assert timer["OnCalendar"] == ["daily"]
    assert timer["Unit"] == ["whistle-housekeeping.service"]
    (command,) = unit_settings(DEPLOY / "whistle-housekeeping.service")["ExecStart"]
    assert command == "/opt/whistle/venv/bin/whistle server housekeeping /var/lib/whistle"


def test_native_code_runs_without_writable_executable_memory() -> None:
    """MemoryDenyWriteExecute=yes does not break PyNaCl, argon2-cffi, sqlite, Flask, gunicorn."""
    result = subprocess.run(
        [sys.executable, str(Path(__file__).with_name("mdwe_probe.py"))],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"
