"""What the inbox's views take from the app: its state, the sign-in guards, the cookie names.

``app.py`` builds the app and imports the views; the views import this module, never
``app.py``, so every import points one way.
"""

from dataclasses import dataclass, field

from flask import abort, current_app, g, redirect, request, url_for
from flask_babel import get_locale
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from whistle.inbox.config import InboxConfig, utc_now
from whistle.inbox.context import OfficerContext, for_officer
from whistle.inbox.keystore import KeyStore, Unlocked
from whistle.inbox.naming import DeskNames, desk_names
from whistle.inbox.officers import require_manager
from whistle.inbox.security_keys import Ceremonies

EXTENSION = "whistle_inbox"
COOKIE = "whistle_inbox"
LANG_COOKIE = "whistle_lang"


@dataclass
class InboxState:
    config: InboxConfig
    engine: Engine
    sessions: sessionmaker[Session]
    keystore: KeyStore
    #: Security-key challenges in flight (sign-in and enrolment), in memory like the keys.
    ceremonies: Ceremonies = field(default_factory=lambda: Ceremonies(utc_now))


def state() -> InboxState:
    inbox: InboxState = current_app.extensions[EXTENSION]
    return inbox


def page_desk_names(session: Session) -> DeskNames:
    """The desks' names in the language of this page (``names.toml``, else the card's)."""
    return desk_names(session, state().config.names, str(get_locale()))


def require_unlocked() -> Unlocked:
    """The signed-in officer's keys, or a redirect to the sign-in page."""
    unlocked: Unlocked | None = g.unlocked
    if unlocked is None:
        target = request.full_path if request.method == "GET" else None
        locked = "1" if g.was_locked else None
        abort(redirect(url_for("auth.login", next=target, locked=locked), 303))
    return unlocked


def officer_context(unlocked: Unlocked) -> OfficerContext:
    """Who acts in this request, and when: what the case actions take."""
    return for_officer(state().config, unlocked.officer_id)


def require_manager_unlocked() -> Unlocked:
    """``require_unlocked``, and a system manager (read from the database now): 403 if not."""
    unlocked = require_unlocked()
    with state().sessions() as session:
        require_manager(session, unlocked.officer_id)
    return unlocked


#: The security-key pages run one local script (static/security-key.js), nothing else.
KEY_PAGE_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)


def on_localhost() -> bool:
    """WebAuthn works only at a name, never an IP address: http://localhost:PORT."""
    return request.host.rsplit(":", 1)[0] == "localhost"


def localhost_url(path: str) -> str:
    port = request.host.rsplit(":", 1)[1] if ":" in request.host else "80"
    return f"http://localhost:{port}{path}"
