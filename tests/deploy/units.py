"""Reading the systemd units in deploy/ (a unit file may repeat a key, so no configparser)."""

from pathlib import Path

from tests.deploy.torrc import REPO

DEPLOY = REPO / "whistle" / "deploy"
#: Where the units expect the virtual environment on a server (docs/deployment.md).
SERVER_VENV_BIN = "/opt/whistle/venv/bin/"
SERVICES = ("whistle-submit.service", "whistle-courier.service", "whistle-housekeeping.service")
TIMERS = ("whistle-housekeeping.timer",)


def unit_settings(path: Path) -> dict[str, list[str]]:
    """Every ``Key=value`` of a unit, by key, in order (sections are not told apart)."""
    settings: dict[str, list[str]] = {}
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";", "[")):
            continue
        key, _, value = line.partition("=")
        settings.setdefault(key.strip(), []).append(value.strip())
    return settings
