"""The officers' inbox, run offline on 127.0.0.1."""

from whistle.inbox.app import create_app

__all__ = ["create_app"]
