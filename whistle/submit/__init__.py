"""The source-facing submission site (served as a Tor onion service).

``create_app(config)`` builds the Flask app from a validated ``SubmitConfig``;
``app_from_directory(path)`` loads one from a data directory made by
``whistle server init`` — gunicorn runs
``'whistle.submit:app_from_directory("/var/lib/whistle")'``.
"""

import sys
from pathlib import Path

from flask import Flask

from whistle.submit.config import ConfigError, SubmitConfig, load_config
from whistle.submit.health import data_directory_problems

__all__ = [
    "ConfigError",
    "SubmitConfig",
    "app_from_directory",
    "courier_app_from_directory",
    "create_app",
    "load_config",
]


def create_app(config: SubmitConfig) -> Flask:
    from whistle.submit.app import create_app as _create_app

    return _create_app(config)


#: gunicorn's "worker failed to boot" status: its arbiter stops instead of booting workers
#: again and again, and exits with it; systemd's RestartPreventExitStatus=3 keeps it stopped.
STARTUP_FAILURE = 3


class StartupError(SystemExit):
    """Start-up stopped; ``str()`` is the one line, already written to stderr."""

    def __init__(self, line: str) -> None:
        super().__init__(STARTUP_FAILURE)
        self.line = line

    def __str__(self) -> str:
        return self.line


def app_from_directory(path: str | Path) -> Flask:
    """The app for a data directory; a bad directory (or an unreachable database) stops
    start-up with one clear line on stderr and exit status 3."""
    try:
        config = load_config(path)
        _warn(data_directory_problems(Path(path), config))
        return create_app(config)
    except ConfigError as exc:
        raise _startup_failure(exc) from None


def courier_app_from_directory(path: str | Path) -> Flask:
    """The courier endpoint for a data directory (off unless ``courier_enabled = true``)."""
    from whistle.submit.courier import create_courier_app

    try:
        config = load_config(path)
        _warn(data_directory_problems(Path(path), config))
        return create_courier_app(config)
    except ConfigError as exc:
        raise _startup_failure(exc) from None


def _warn(problems: list[str]) -> None:
    for problem in problems:
        print(f"whistle: {problem}", file=sys.stderr, flush=True)


def _startup_failure(exc: ConfigError) -> StartupError:
    line = f"whistle: {exc}"
    print(line, file=sys.stderr, flush=True)
    return StartupError(line)
