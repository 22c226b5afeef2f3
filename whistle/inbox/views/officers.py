"""Officers joining and leaving (managers only): the list, adding, changing roles, removing.

Every action re-checks in the database that the signed-in officer is still a manager (a
removed or demoted manager's open session gives no rights); a refusal is a 403 page. The
removed or changed officer's open sessions are dropped at once, keys and all.
"""

from typing import Any

from flask import Blueprint, abort, redirect, render_template, request, url_for
from flask_babel import gettext as _
from werkzeug.wrappers import Response  # what redirect() returns; Flask's is a subclass

from whistle.inbox import compartments, db
from whistle.inbox.errors import (
    CustodianRoleError,
    DeskError,
    LastManagerError,
    OfficerNameTakenError,
)
from whistle.inbox.models import ROLES, Officer
from whistle.inbox.officers import (
    MIN_PASSWORD_CHARS,
    change_roles,
    enrol_officer,
    list_officers,
    remove_officer,
)
from whistle.inbox.web import page_desk_names, require_manager_unlocked, state

blueprint = Blueprint("officers", __name__, url_prefix="/officers")


def _render_list(status: int = 200, **context: Any) -> tuple[str, int]:
    with db.transaction(state().sessions) as session:
        officers = [
            {
                "id": o.id,
                "name": o.name,
                "roles": o.roles,
                "removed": o.is_removed,
                "added": o.created_at.date(),
            }
            for o in list_officers(session)
        ]
        # Desks are offered once the office is in compartments (before, everyone reads all).
        names = page_desk_names(session)
        desks = list(names.items()) if compartments.active(session) else []
    # One desk is the obvious choice; among several, the manager chooses.
    context.setdefault("form", {"desks": [d for d, _ in desks] if len(desks) == 1 else []})
    return (
        render_template(
            "officers.html",
            officers=officers,
            roles=ROLES,
            desks=desks,
            minimum=MIN_PASSWORD_CHARS,
            **context,
        ),
        status,
    )


@blueprint.get("")
def index() -> tuple[str, int]:
    require_manager_unlocked()
    return _render_list(
        added=request.args.get("added"),
        in_no_desk=request.args.get("desks") == "none",
        keys_pending=request.args.get("desks") == "pending",
    )


@blueprint.post("/add")
def add() -> Response | tuple[str, int]:
    unlocked = require_manager_unlocked()
    name = request.form.get("name", "")[:200].strip()
    password = request.form.get("password", "")[:2048]
    repeat = request.form.get("repeat", "")[:2048]
    roles = tuple(r for r in ROLES if request.form.get(f"role-{r}") == "yes")
    # Unknown ids are refused by the grant itself (``compartments.grant_desks_now``).
    desks = list(dict.fromkeys(d[:64] for d in request.form.getlist("desk")))[:100]
    errors: dict[str, str] = {}
    if not name or len(name) > 64 or any(c.isspace() for c in name):
        errors["name"] = _("A name is 1 to 64 characters without spaces.")
    if len(password) < MIN_PASSWORD_CHARS:
        errors["password"] = _("A password has at least %(n)d characters.", n=MIN_PASSWORD_CHARS)
    elif password != repeat:
        errors["repeat"] = _("The two passwords are not the same.")
    if not roles:
        errors["role-officer"] = _("Choose at least one role.")
    elif "custodian" in roles and unlocked.custodian_keyring is None:
        errors["role-custodian"] = _(
            "Only a custodian can add a custodian here (or a manager with the recovery key, "
            "at the command line: whistle inbox add-officer --use-recovery-key)."
        )
    if desks and "officer" not in roles:
        errors["desks"] = _(
            "Only officers handle cases: untick the desks, or tick “Officer (cases)”."
        )
    shown = None  # what the notice adds: in no desk, or keys to come
    if not errors:
        try:
            with db.transaction(state().sessions) as session:
                officer = enrol_officer(
                    session,
                    state().config,
                    by_officer_id=unlocked.officer_id,
                    keyring=unlocked.keyring,
                    custodian_keyring=unlocked.custodian_keyring,
                    name=name,
                    password=password,
                    roles=roles,
                    desks=desks,
                )
                if officer.is_officer and compartments.active(session):
                    waiting = any(n == officer.name for _d, n in compartments.pending(session))
                    shown = "none" if not desks else "pending" if waiting else None
        except OfficerNameTakenError as exc:
            errors["name"] = (
                _("That name belonged to an officer who was removed: choose another.")
                if exc.removed
                else _("An officer with that name exists already.")
            )
        except DeskError:
            errors["desks"] = _("Choose desks of this office.")
    if errors:
        form = {"name": name, "roles": roles, "desks": desks}
        return _render_list(400, errors=errors, form=form)
    return redirect(url_for("officers.index", added=name, desks=shown), 303)


def _officer(officer_id: int) -> Officer:
    with db.transaction(state().sessions) as session:
        officer = session.get(Officer, officer_id)
        if officer is None or officer.is_removed:
            abort(404)
        return officer


def _render_officer(officer: Officer, status: int = 200, **context: Any) -> tuple[str, int]:
    return (
        render_template("officer.html", officer=officer, roles=ROLES, **context),
        status,
    )


@blueprint.get("/<int:officer_id>")
def detail(officer_id: int) -> tuple[str, int]:
    require_manager_unlocked()
    return _render_officer(_officer(officer_id))


@blueprint.post("/<int:officer_id>/roles")
def roles(officer_id: int) -> Response | tuple[str, int]:
    unlocked = require_manager_unlocked()
    officer = _officer(officer_id)
    chosen = tuple(r for r in ROLES if request.form.get(f"role-{r}") == "yes")
    error = None
    if not chosen:
        error = _("Choose at least one role.")
    else:
        try:
            with db.transaction(state().sessions) as session:
                change_roles(
                    session,
                    state().config,
                    by_officer_id=unlocked.officer_id,
                    name=officer.name,
                    roles=chosen,
                )
        except LastManagerError:
            error = _("This is the last manager: make another officer a manager first.")
        except CustodianRoleError:
            error = _(
                "The custodian role can only be given when an officer is added: their "
                "custodian key is wrapped with their own password."
            )
    if error:
        return _render_officer(officer, 400, roles_error=error)
    state().keystore.drop_officer(officer.id)  # they sign in again, with their new roles
    return redirect(url_for("officers.detail", officer_id=officer.id, changed=1), 303)


@blueprint.post("/<int:officer_id>/remove")
def remove(officer_id: int) -> Response | tuple[str, int]:
    unlocked = require_manager_unlocked()
    officer = _officer(officer_id)
    if request.form.get("confirm") != "yes":
        message = _("Tick the confirmation: a removal cannot be undone.")
        return _render_officer(officer, 400, remove_error=message)
    try:
        with db.transaction(state().sessions) as session:
            remove_officer(
                session, state().config, by_officer_id=unlocked.officer_id, name=officer.name
            )
    except LastManagerError:
        message = _(
            "This is the last manager: make another officer a manager before removing them."
        )
        return _render_officer(officer, 400, remove_error=message)
    state().keystore.drop_officer(officer.id)
    with state().engine.connect() as connection:
        connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")  # best effort, see cli.py
    return render_template("officer_removed.html", name=officer.name), 200
