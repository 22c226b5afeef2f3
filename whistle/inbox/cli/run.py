"""``whistle inbox run``: the inbox app on the loopback."""

import ipaddress
from pathlib import Path

import click

from whistle.cli_paths import ExistingPath
from whistle.inbox.cli.common import inbox, make_config, office_zone, time_zone_option

DEFAULT_PORT = 8470


@inbox.command("run")
@click.argument("data_dir", type=ExistingPath(path_type=Path, file_okay=False, exists=True))
@click.option("--host", default="127.0.0.1", show_default=True, help="Loopback only.")
@click.option("--port", default=DEFAULT_PORT, show_default=True, type=click.IntRange(1, 65535))
@click.option("--idle-minutes", default=10, show_default=True, type=click.IntRange(1, 240))
@click.option(
    "--language",
    type=click.Choice(["ca", "es", "en"]),
    default=None,
    help="The inbox's language until an officer chooses another (default: the browser's, "
    "else Catalan).",
)
@time_zone_option
@click.pass_context
def run(
    ctx: click.Context,
    data_dir: Path,
    host: str,
    port: int,
    idle_minutes: int,
    language: str | None,
    time_zone: str | None,
) -> None:
    """Serve the inbox on 127.0.0.1:PORT (never on another interface), with gunicorn: no
    request log, no development-server warning. Officers open it as http://localhost:PORT/
    (the same socket; security keys refuse IP-address origins)."""
    check_loopback(host)
    from whistle.inbox import create_app
    from whistle.inbox.config import load_names
    from whistle.inbox.web import EXTENSION
    from whistle.serving import serve_on_loopback

    config = make_config(
        ctx,
        data_dir,
        idle_lock_seconds=idle_minutes * 60,
        default_language=language or "ca",
        browser_language=language is None,
        time_zone=office_zone(ctx, data_dir, time_zone),
        names=load_names(data_dir),
    )
    app = create_app(config)  # here, so that a problem is said on the terminal
    # No database connection crosses gunicorn's fork: the worker opens its own.
    app.extensions[EXTENSION].engine.dispose()
    click.echo(f"Inbox on http://localhost:{port}/ (bound to 127.0.0.1 only) — stop with Ctrl-C.")
    serve_on_loopback(lambda: app, port, "whistle-inbox")


def check_loopback(host: str) -> None:
    """Refuse any address but 127.0.0.1: the inbox holds the office private keys."""
    try:
        address = ipaddress.ip_address(host)
    except ValueError as exc:
        raise click.BadParameter("give 127.0.0.1", param_hint="--host") from exc
    if address != ipaddress.ip_address("127.0.0.1"):
        raise click.BadParameter(
            "the inbox binds 127.0.0.1 only (it holds the office keys)", param_hint="--host"
        )
