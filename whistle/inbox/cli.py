"""``whistle office …`` and ``whistle inbox …``: the offline side."""

import click


@click.group()
def office() -> None:
    """Create the office: desks, custodian, signing key, first officer."""


@click.group()
def inbox() -> None:
    """The officers' inbox (offline, holds the office private keys)."""
