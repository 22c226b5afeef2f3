"""``whistle server …``: set up and run the submission server."""

import click


@click.group()
def server() -> None:
    """The submission server (online, holds no office private key)."""
