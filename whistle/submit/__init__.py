"""The source-facing submission site (served as a Tor onion service).

``create_app(config)`` builds the Flask app from a validated ``SubmitConfig``;
``app_from_directory(path)`` loads one from a data directory made by
``whistle server init`` — gunicorn runs
``'whistle.submit:app_from_directory("/var/lib/whistle")'``.
"""

from pathlib import Path

from flask import Flask

from whistle.submit.config import ConfigError, SubmitConfig, load_config

__all__ = [
    "ConfigError",
    "SubmitConfig",
    "app_from_directory",
    "courier_app_from_directory",
    "create_app",
    "load_config",
]


def create_app(config: SubmitConfig) -> Flask:
    from whistle.submit.app import build_app

    return build_app(config)


def app_from_directory(path: str | Path) -> Flask:
    """The app for a data directory; a bad directory stops start-up with one clear line."""
    try:
        return create_app(load_config(path))
    except ConfigError as exc:
        raise SystemExit(f"whistle: {exc}") from None


def courier_app_from_directory(path: str | Path) -> Flask:
    """The courier endpoint for a data directory (off unless ``courier_enabled = true``)."""
    from whistle.submit.courier import create_courier_app

    try:
        return create_courier_app(load_config(path))
    except ConfigError as exc:
        raise SystemExit(f"whistle: {exc}") from None
