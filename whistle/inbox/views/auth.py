"""Signing in and locking."""

from flask import Blueprint, g, make_response, redirect, render_template, request, url_for
from flask_babel import gettext as _
from werkzeug.wrappers import Response  # what redirect() returns; Flask's is a subclass

from whistle.inbox import db
from whistle.inbox.config import LANGUAGES
from whistle.inbox.deletions import purge_due
from whistle.inbox.errors import LoginError, ThrottledError
from whistle.inbox.officers import sign_in
from whistle.inbox.web import COOKIE, LANG_COOKIE, state
from whistle.inbox.workflow import remove_files
from whistle.redirects import safe_target

blueprint = Blueprint("auth", __name__)


def _safe_next(target: str | None) -> str:
    return safe_target(target, url_for("workflow.dashboard_page"))


@blueprint.get("/")
def home() -> Response:
    return redirect(url_for("workflow.dashboard_page" if g.unlocked else "auth.login"))


@blueprint.route("/login", methods=["GET", "POST"])
def login() -> Response | tuple[str, int] | str:
    if request.method == "GET":
        if g.unlocked is not None:
            return redirect(url_for("cases.index"))
        return render_template(
            "login.html",
            locked=g.was_locked or request.args.get("locked") == "1",
            next=request.args.get("next"),
        )
    name = request.form.get("name", "")[:200]
    password = request.form.get("password", "")[:2048]
    inbox = state()
    try:
        with db.transaction(inbox.sessions) as session:
            signed = sign_in(session, inbox.config, name, password)
    except ThrottledError as exc:
        minutes = (exc.retry_after_seconds + 59) // 60
        message = _(
            "Too many failed sign-ins. Wait %(minutes)d minute(s) and try again.", minutes=minutes
        )
        return render_template("login.html", error=message, name=name), 429
    except LoginError:
        return render_template("login.html", error=_("Wrong name or password."), name=name), 401
    unlocked = inbox.keystore.open(
        signed.officer_id, signed.name, signed.roles, signed.keyring, signed.custodian_keyring
    )
    # Art. 32.4: on the day it is due, the inbox deletes a case itself; every officer's day
    # starts with a sign-in (and the idle lock brings one back), and a POST has the right to.
    with db.transaction(inbox.sessions) as session:
        _purged, gone = purge_due(
            session,
            unlocked.keyring,
            now=inbox.config.clock(),
            today=inbox.config.today(),
            store_dir=inbox.config.store_dir,
        )
    remove_files(gone)
    response = redirect(_safe_next(request.form.get("next")), 303)
    g.was_locked = False  # the stale cookie is replaced here, not deleted after it
    response.set_cookie(COOKIE, unlocked.session_id, httponly=True, samesite="Strict", path="/")
    return response


@blueprint.post("/lock")
def lock() -> Response:
    state().keystore.drop(request.cookies.get(COOKIE))
    response = redirect(url_for("auth.login"), 303)
    response.delete_cookie(COOKIE, path="/")
    return response


@blueprint.post("/language")
def language() -> Response:
    chosen = request.form.get("language", "")
    response = make_response(redirect(_safe_next(request.form.get("next")), 303))
    if chosen in LANGUAGES:
        response.set_cookie(
            LANG_COOKIE, chosen, httponly=True, samesite="Strict", path="/", max_age=365 * 86400
        )
    return response
