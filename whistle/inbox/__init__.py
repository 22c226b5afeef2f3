"""The officers' inbox, run offline on 127.0.0.1.

``create_app`` is imported lazily so that the preview worker, a child process
started per preview, does not pay for importing Flask and SQLAlchemy.
"""

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from flask import Flask

    from whistle.inbox.config import InboxConfig


def create_app(config: "InboxConfig") -> "Flask":
    from whistle.inbox.app import create_app as _create_app

    return _create_app(config)


__all__ = ["create_app"]
