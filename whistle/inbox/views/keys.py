"""The Keys page: the office's key epochs, rotating them (managers), the rotation reminder.

Also the dashboard's reminder: ``key_rotation_due`` is offered to every template.
"""

from datetime import date
from typing import Any

from flask import Blueprint, render_template, request
from flask_babel import gettext as _

from whistle.inbox import db, epochs
from whistle.inbox.models import ROLE_MANAGER
from whistle.inbox.web import require_manager_unlocked, require_unlocked, state

blueprint = Blueprint("keys", __name__, url_prefix="/keys")


def _page(status: int = 200, **extra: Any) -> tuple[str, int]:
    unlocked = require_unlocked()
    inbox = state()
    with db.transaction(inbox.sessions) as session:
        rows = epochs.status(session)
        days = epochs.reminder_days(session)
        due = epochs.rotation_due(session, inbox.config.today())
        left = epochs.left_since_rotation(session)
    return (
        render_template(
            "keys.html",
            rows=rows,
            reminder_days=days,
            due=due,
            left=left,
            today=inbox.config.today(),
            manager=ROLE_MANAGER in unlocked.roles,
            **extra,
        ),
        status,
    )


@blueprint.get("/")
def index() -> tuple[str, int]:
    return _page()


@blueprint.post("/rotate")
def rotate() -> tuple[str, int]:
    unlocked = require_manager_unlocked()
    if request.form.get("confirm") != "yes":
        return _page(400, errors={"confirm": _("Tick the box to confirm the new keys.")})
    inbox = state()
    with db.transaction(inbox.sessions) as session:
        card = epochs.rotate(session, unlocked.keyring, inbox.config.clock(), unlocked.officer_id)
    return _page(rotated=card.epoch)


@blueprint.post("/reminder")
def reminder() -> tuple[str, int]:
    unlocked = require_manager_unlocked()
    text = request.form.get("days", "").strip()
    if text and (
        not (text.isascii() and text.isdigit() and len(text) <= 6)
        or not 1 <= int(text) <= epochs.MAX_REMINDER_DAYS
    ):
        message = _(
            "A number of days from 1 to %(n)d, or empty for no reminder.",
            n=epochs.MAX_REMINDER_DAYS,
        )
        return _page(400, errors={"days": message})
    inbox = state()
    with db.transaction(inbox.sessions) as session:
        epochs.set_reminder(
            session, int(text) if text else None, inbox.config.clock(), unlocked.officer_id
        )
    return _page(saved=True)


@blueprint.app_context_processor
def _reminder_global() -> dict[str, Any]:
    def key_rotation_due() -> date | None:
        """The day a rotation became due, if it is due today (the dashboard shows it)."""
        inbox = state()
        with db.transaction(inbox.sessions) as session:
            due = epochs.rotation_due(session, inbox.config.today())
        return due if due is not None and due <= inbox.config.today() else None

    return {"key_rotation_due": key_rotation_due}
