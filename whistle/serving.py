"""The inbox on 127.0.0.1 under gunicorn, the production server, started from this process.

With the site's hardened settings (whistle/deploy/gunicorn.conf.py: no access log, no
``Server`` header, a private umask), changed only where the inbox differs: one worker process,
because the signed-in officers' unlocked keys live in its memory, and that worker is never
recycled (a recycled worker would sign everyone out).
"""

from collections.abc import Callable
from typing import Any

from gunicorn.app.base import Application

from whistle.deploy import GUNICORN_CONF


class _LoopbackApplication(Application):  # type: ignore[misc]
    def __init__(self, factory: Callable[[], Any], port: int, name: str) -> None:
        self.factory, self.port, self.name = factory, port, name
        super().__init__()

    def load_config(self) -> None:
        self.load_config_from_module_name_or_filename(str(GUNICORN_CONF))
        for key, value in {
            "bind": [f"127.0.0.1:{self.port}"],
            # Threads, whatever the site uses: a handful of officers, and previews and imports
            # that block in subprocesses and SQLite.
            "worker_class": "gthread",
            "workers": 1,
            "max_requests": 0,
            "proc_name": self.name,
        }.items():
            self.cfg.set(key, value)

    def load(self) -> Any:
        # In the worker, after the fork: no database handle is shared with the arbiter.
        return self.factory()


def serve_on_loopback(factory: Callable[[], Any], port: int, name: str) -> None:
    """Serve ``factory()`` on 127.0.0.1:``port`` until SIGINT or SIGTERM."""
    _LoopbackApplication(factory, port, name).run()
