"""Desks as compartments in the web inbox: managers administer membership; an officer steps
aside from a case; a manager moves a case to another desk with its keys. The work is in
``compartments``; these views only read forms and say what happened."""

from typing import Any

from flask import Blueprint, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from werkzeug.wrappers import Response

from whistle.inbox import compartments, db, epochs
from whistle.inbox.errors import (
    CompartmentsMigrationError,
    DeskCasesLockedError,
    DeskError,
    DeskHasCasesError,
    LastDeskError,
    LastMemberError,
    NoSuchOfficerError,
    RecusalError,
    SuccessorDeskError,
)
from whistle.inbox.officers import list_officers
from whistle.inbox.web import (
    page_desk_names,
    require_manager_unlocked,
    require_unlocked,
    state,
)

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
    if isinstance(exc, DeskHasCasesError):
        return ngettext(
            "This desk holds %(num)d case (%(open)d open): tick “Move its cases” to move it "
            "to the desk you choose, with its keys, as the desk is removed.",
            "This desk holds %(num)d cases (%(open)d open): tick “Move its cases” to move "
            "them to the desk you choose, with their keys, as the desk is removed.",
            exc.cases,
            open=exc.open_cases,
        )
    if isinstance(exc, DeskCasesLockedError):
        return ngettext(
            "Your keys do not open %(num)d of its cases (you are not a member of the desk, "
            "or you stepped aside), so you cannot move it. A manager who is a member can, or "
            "the command line with the recovery key: whistle inbox desks remove "
            "--use-recovery-key.",
            "Your keys do not open %(num)d of its cases (you are not a member of the desk, "
            "or you stepped aside), so you cannot move them. A manager who is a member can, "
            "or the command line with the recovery key: whistle inbox desks remove "
            "--use-recovery-key.",
            exc.locked,
        )
    if isinstance(exc, LastDeskError):
        return _("This is the office's only desk: sources need one to report to.")
    if isinstance(exc, SuccessorDeskError):
        return _("Choose another desk to receive its cases.")
    return _("That change to the desk cannot be made: check the desk and the officer.")


def _page(status: int = 200, **extra: Any) -> tuple[str, int]:
    with db.transaction(state().sessions) as session:
        active = compartments.active(session)
        names = page_desk_names(session)
        desks = [
            {
                "id": d.id,
                "name": names[d.id],
                "members": [o.name for o in compartments.members(session, d.id)],
                "cases": compartments.desk_cases(session, d.id),
            }
            for d in epochs.current_card(session).desks
        ]
        waiting = compartments.pending(session) if active else []
        interim = compartments.interim(session) if active else []
        removed = [
            (
                names[r.desk_id],
                r.removed_at.date(),
                names[compartments.receiving_desk(session, r.desk_id)],
                r.keys_destroyed_at is not None,
            )
            for r in compartments.removed_desks(session)
        ]
        officers = [o.name for o in list_officers(session) if not o.is_removed and o.is_officer]
    page = render_template(
        "desks.html",
        active=active,
        desks=desks,
        waiting=waiting,
        interim=interim,
        officers=officers,
        removed=removed,
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


@blueprint.post("/desks/remove")
def remove() -> Response | tuple[str, int]:
    """Remove a desk (the confirmation box of the Desks page), its cases moved if ticked."""
    unlocked = require_manager_unlocked()
    if request.form.get("confirm") != "yes":
        return _page(400, error=_("Tick the confirmation: removing a desk cannot be undone."))
    try:
        with db.transaction(state().sessions) as session:
            compartments.remove_desk(
                session,
                unlocked.keyring,
                desk_id=request.form.get("desk", "")[:64],
                successor_id=request.form.get("successor", "")[:64],
                move_cases=request.form.get("move") == "yes",
                by_officer_id=unlocked.officer_id,
                now=state().config.clock(),
            )
    except (DeskError, CompartmentsMigrationError) as exc:
        return _page(400, error=_refusal(exc))
    epochs.scrub(state().engine)  # the desk's search index leaves the write-ahead log too
    return redirect(url_for("desks.index", done="desk-removed"), 303)
