"""A ``click.Path`` that tells a file the user cannot reach from one that does not exist.

click reports "does not exist" whenever ``stat`` fails, so a card under /root, read by the
``whistle`` user, looked missing (deployment walkthrough, December 2026).
"""

import getpass
import os
from typing import Any

import click


class ExistingPath(click.Path):
    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if self.exists and isinstance(value, str | os.PathLike):
            try:
                os.stat(value)
            except PermissionError:
                self.fail(
                    f"{os.fsdecode(value)!r} exists but cannot be read by the user "
                    f"{getpass.getuser()!r} (permission denied on it or on a directory above it): "
                    "copy it where that user can read it",
                    param,
                    ctx,
                )
            except OSError:
                pass  # click's own message ("does not exist", …) follows
        return super().convert(value, param, ctx)
