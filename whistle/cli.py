"""The ``whistle`` command. Each area adds its own group of subcommands."""

from pathlib import Path

import click

from whistle import __version__
from whistle.inbox.cli import inbox, office
from whistle.submit.cli import server


@click.group()
@click.version_option(__version__, prog_name="whistle")
def main() -> None:
    """Whistle: an anonymous whistleblowing system for public bodies."""


@main.command()
@click.option(
    "--data",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Keep the demo's data here (default: a temporary directory, deleted at the end).",
)
@click.option("--submit-port", default=8080, show_default=True, type=click.IntRange(1, 65535))
@click.option("--inbox-port", default=8081, show_default=True, type=click.IntRange(1, 65535))
def demo(data: Path | None, submit_port: int, inbox_port: int) -> None:
    """Run a throwaway server and inbox locally, kept in sync (DEMO ONLY: insecure keys)."""
    from whistle.demo import run_demo

    try:
        run_demo(data, submit_port, inbox_port, click.echo)
    except (RuntimeError, OSError) as exc:
        raise click.ClickException(str(exc)) from exc


main.add_command(server)
main.add_command(office)
main.add_command(inbox)
