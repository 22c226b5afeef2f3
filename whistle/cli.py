"""The ``whistle`` command. Each area adds its own group of subcommands."""

import click

from whistle import __version__
from whistle.inbox.cli import inbox, office
from whistle.submit.cli import server


@click.group()
@click.version_option(__version__, prog_name="whistle")
def main() -> None:
    """Whistle: an anonymous whistleblowing system for public bodies."""


@main.command()
def demo() -> None:
    """Run a throwaway server and inbox locally (not built yet)."""
    click.echo("The one-command demo is not built yet (issue: bundles, courier and demo).")


main.add_command(server)
main.add_command(office)
main.add_command(inbox)
