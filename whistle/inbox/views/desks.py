"""Desks as compartments in the web inbox: managers administer membership; an officer steps
aside from a case; a manager moves a case to another desk with its keys. The work is in
``compartments``; these views only read forms and say what happened."""

from typing import Any

from flask import Blueprint, redirect, render_template, request, url_for
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from whistle.inbox import compartments, db, epochs
from whistle.inbox.errors import (
    CompartmentsMigrationError,
    DeskError,
    LastMemberError,
    NoSuchOfficerError,
    RecusalError,
)
from whistle.inbox.officers import list_officers
from whistle.inbox.web import require_manager_unlocked, require_unlocked, state

blueprint = Blueprint("desks", __name__)


def _refusal(exc: Exception) -> str:
    """The refusal in the officer's language (never the exception's English text)."""
    if isinstance(exc, LastMemberError):
        return _(
            "This is the last member of the desk: add another member first, so that its "
            "cases stay readable."
        )
    if isinstance(exc, NoSuchOfficerError):
        return _("No officer has that name.")
    if isinstance(exc, CompartmentsMigrationError):
        return _("This office is not in desk compartments yet.")
    if isinstance(exc, RecusalError):
        return _("You have already stepped aside from this case.")
    return _("That change to the desk cannot be made: check the desk and the officer.")


def _page(status: int = 200, **extra: Any) -> tuple[str, int]:
    with db.transaction(state().sessions) as session:
        active = compartments.active(session)
        desks = [
            (d.id, d.name, [o.name for o in compartments.members(session, d.id)])
            for d in epochs.current_card(session).desks
        ]
        waiting = compartments.pending(session) if active else []
        interim = compartments.interim(session) if active else []
        officers = [o.name for o in list_officers(session) if not o.is_removed and o.is_officer]
    page = render_template(
        "desks.html",
        active=active,
        desks=desks,
        waiting=waiting,
        interim=interim,
        officers=officers,
        **extra,
    )
    return page, status


@blueprint.get("/desks")
def index() -> tuple[str, int]:
    require_manager_unlocked()
    return _page(done=request.args.get("done"))


@blueprint.post("/desks/members")
def change_member() -> Response | tuple[str, int]:
    unlocked = require_manager_unlocked()
    desk_id = request.form.get("desk", "")[:64]
    name = request.form.get("name", "")[:64]
    adding = request.form.get("action") == "add"
    try:
        with db.transaction(state().sessions) as session:
            if adding:
                delivered = compartments.add_member(
                    session,
                    unlocked.keyring,
                    desk_id=desk_id,
                    name=name,
                    by_officer_id=unlocked.officer_id,
                    now=state().config.clock(),
                )
            else:
                compartments.remove_member(
                    session,
                    desk_id=desk_id,
                    name=name,
                    by_officer_id=unlocked.officer_id,
                    now=state().config.clock(),
                )
    except (DeskError, NoSuchOfficerError, CompartmentsMigrationError) as exc:
        return _page(400, error=_refusal(exc))
    done = ("added" if delivered else "pending") if adding else "removed"
    return redirect(url_for("desks.index", done=done), 303)


@blueprint.post("/desks/interim")
def end_interim() -> Response | tuple[str, int]:
    """A manager ends the migration's interim copies of the desk keys (audited)."""
    unlocked = require_manager_unlocked()
    if request.form.get("confirm") != "yes":
        return _page(400, error=_("Tick the box to confirm that you read what ending them does."))
    with db.transaction(state().sessions) as session:
        ended = compartments.end_interim(
            session, by_officer_id=unlocked.officer_id, now=state().config.clock()
        )
    return redirect(url_for("desks.index", done="interim-ended" if ended else "interim-kept"), 303)


@blueprint.post("/cases/<case_id>/step-aside")
def step_aside(case_id: str) -> Response | tuple[str, int]:
    unlocked = require_unlocked()
    reason = request.form.get("reason", "").strip()
    if not compartments.MIN_REASON_CHARS <= len(reason) <= compartments.MAX_REASON_CHARS:
        message = _(
            "Give the reason for stepping aside (%(low)d to %(high)d characters).",
            low=compartments.MIN_REASON_CHARS,
            high=compartments.MAX_REASON_CHARS,
        )
        return render_template("error.html", message=message, status=400), 400
    try:
        with db.transaction(state().sessions) as session:
            compartments.recuse(
                session,
                unlocked.keyring,
                case_id=case_id,
                officer_name=unlocked.name,
                by_officer_id=unlocked.officer_id,
                reason=reason,
                now=state().config.clock(),
            )
    except (RecusalError, CompartmentsMigrationError) as exc:
        return render_template("error.html", message=_refusal(exc), status=400), 400
    return redirect(url_for("cases.index", done="stepped-aside"), 303)


@blueprint.post("/cases/<case_id>/desk")
def reassign(case_id: str) -> Response | tuple[str, int]:
    unlocked = require_manager_unlocked()
    try:
        with db.transaction(state().sessions) as session:
            compartments.reassign(
                session,
                unlocked.keyring,
                case_id=case_id,
                desk_id=request.form.get("desk", "")[:64],
                by_officer_id=unlocked.officer_id,
                now=state().config.clock(),
            )
    except (DeskError, CompartmentsMigrationError) as exc:
        return render_template("error.html", message=_refusal(exc), status=400), 400
    return redirect(url_for("cases.index", done="reassigned"), 303)
