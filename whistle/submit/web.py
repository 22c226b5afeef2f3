"""What the submission site's views take from the app: its state, and small page helpers.

``app.py`` builds the app and imports the views; the views import this module, never
``app.py``, so every import points one way.
"""

import tempfile
from dataclasses import dataclass
from typing import Any

from flask import current_app, g, render_template, session
from flask_babel import gettext as _
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from whistle.submit.config import LANGUAGES, SubmitConfig
from whistle.submit.pepper import Peppers
from whistle.submit.questionnaire import Questionnaire
from whistle.submit.slots import RETRY_AFTER_SECONDS, LookupSlots

EXTENSION = "whistle_submit"


@dataclass(frozen=True)
class Bundle:
    """The one script the submission pages load (the page script with the crypto), as
    templates refer to it; it pins libsodium.js's two halves itself (js/build.mjs)."""

    file: str
    sri: str


@dataclass
class SubmitState:
    config: SubmitConfig
    engine: Engine
    sessions: sessionmaker[Session]
    questionnaire: Questionnaire
    lookup_slots: LookupSlots
    peppers: Peppers
    bundle: Bundle | None = None


def state() -> SubmitState:
    site: SubmitState = current_app.extensions[EXTENSION]
    return site


def current_language() -> str:
    chosen = session.get("lang")
    if isinstance(chosen, str) and chosen in LANGUAGES:
        return chosen
    return state().config.default_language


def message_page(title: str, text: str, status: int, **extra: Any) -> tuple[str, int]:
    return render_template("message.html", title=title, text=text, **extra), status


def too_large_page() -> tuple[str, int]:
    limits = state().config.limits
    return message_page(
        _("Too large"),
        _(
            "What you sent is larger than this site accepts: at most %(files)d files, "
            "%(size)s in total. Nothing was kept. Go back, choose fewer or smaller files, "
            "and send again.",
            files=limits.max_files,
            size=human_size(limits.max_upload_bytes),
        ),
        413,
    )


def busy_message() -> str:
    return _(
        "Too many people are checking in at this moment, so your code was not looked up "
        "and nothing was changed. Please try again in a moment."
    )


def busy_page() -> tuple[str, int, dict[str, str]]:
    """Every look-up slot is taken (whistle/submit/slots.py): 503, try again shortly."""
    page, status = message_page(_("Busy, try again in a moment"), busy_message(), 503)
    return page, status, {"Retry-After": str(RETRY_AFTER_SECONDS)}


def human_size(size: int) -> str:
    for unit, factor in (("GB", 1024**3), ("MB", 1024**2), ("KB", 1024)):
        if size >= factor:
            return f"{size / factor:.0f} {unit}"
    return f"{size} B"


def use_bundle() -> Bundle | None:
    """Called by a view whose page loads the bundle: its CSP then lets it run."""
    bundle = state().bundle
    if bundle is not None:
        g.loads_bundle = True
    return bundle


#: Ciphertext above this size is spooled to a temporary file (ciphertext only).
SPOOL_MEMORY_BYTES = 8 * 1024 * 1024


def spooled_file() -> Any:
    """A temporary file for ciphertext only (envelopes being written or read)."""
    return tempfile.SpooledTemporaryFile(max_size=SPOOL_MEMORY_BYTES)
