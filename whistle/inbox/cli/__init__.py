"""``whistle office …`` and ``whistle inbox …``: the offline side.

This is the edge: options become an ``InboxConfig`` here and nowhere else.
Tests may pass ``obj={"config": {...}}`` to click to inject weak Argon2
parameters and a clock (the ``insecure_kdf_params`` fixture); the installed
command never does.

One module per subject, each adding its commands to the two groups of ``common``.
The commands import the inbox's models and services inside the function, not at the
top: every ``whistle`` command, the server's too, loads this package, and those imports
would add about 0.13 s to each start (about a third). What every start loads anyway
(click, SQLAlchemy, ``whistle.inbox.db``, its config and errors) is imported at the top.
"""

# Imported for their commands, which they add to the groups.
from whistle.inbox.cli import backup, bundles, cases, desks, keys, officers, run  # noqa: F401
from whistle.inbox.cli.common import inbox, office

__all__ = ["inbox", "office"]
