"""What the inbox's views take from the app: its state, the sign-in guards, the cookie names.

``app.py`` builds the app and imports the views; the views import this module, never
``app.py``, so every import points one way.
"""

from dataclasses import dataclass

from flask import abort, current_app, g, redirect, request, url_for
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from whistle.inbox.config import InboxConfig
from whistle.inbox.keystore import KeyStore, Unlocked
from whistle.inbox.officers import require_manager

EXTENSION = "whistle_inbox"
COOKIE = "whistle_inbox"
LANG_COOKIE = "whistle_lang"


@dataclass
class InboxState:
    config: InboxConfig
    engine: Engine
    sessions: sessionmaker[Session]
    keystore: KeyStore


def state() -> InboxState:
    return current_app.extensions[EXTENSION]  # type: ignore[no-any-return]


def require_unlocked() -> Unlocked:
    """The signed-in officer's keys, or a redirect to the sign-in page."""
    unlocked: Unlocked | None = g.unlocked
    if unlocked is None:
        target = request.full_path if request.method == "GET" else None
        locked = "1" if g.was_locked else None
        abort(redirect(url_for("auth.login", next=target, locked=locked), 303))
    return unlocked


def require_manager_unlocked() -> Unlocked:
    """``require_unlocked``, and a system manager (read from the database now): 403 if not."""
    unlocked = require_unlocked()
    with state().sessions() as session:
        require_manager(session, unlocked.officer_id)
    return unlocked
