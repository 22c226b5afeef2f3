"""Signing in and locking."""

import secrets

from flask import Blueprint, g, make_response, redirect, render_template, request, url_for
from flask_babel import gettext as _
from werkzeug.wrappers import Response  # what redirect() returns; Flask's is a subclass

from whistle.inbox import db, epochs
from whistle.inbox.config import LANGUAGES
from whistle.inbox.deletions import purge_due
from whistle.inbox.errors import LoginError, SecurityKeyRefusedError, ThrottledError
from whistle.inbox.officers import SignedIn, check_password, sign_in_with_key, unlock
from whistle.inbox.security_keys import PendingSignIn, keys_of, origin_for, sign_in_options
from whistle.inbox.web import (
    COOKIE,
    KEY_PAGE_CSP,
    LANG_COOKIE,
    localhost_url,
    on_localhost,
    state,
)
from whistle.inbox.workflow import remove_files
from whistle.redirects import safe_target

blueprint = Blueprint("auth", __name__)
#: The pending sign-in of an officer with a security key (a random id; the state is in memory).
KEY_COOKIE = "whistle_key_step"


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
            officer = check_password(session, inbox.config, name, password)
            keys = keys_of(session, officer.id)
            signed = None if keys else unlock(session, inbox.config, officer, password)
            challenge = secrets.token_bytes(32)
            options = sign_in_options(keys, challenge) if keys else {}
            pending = PendingSignIn(
                officer.id,
                password,
                challenge,
                inbox.ceremonies.expiry(),
                request.form.get("next"),
            )
    except ThrottledError as exc:
        minutes = (exc.retry_after_seconds + 59) // 60
        message = _(
            "Too many failed sign-ins. Wait %(minutes)d minute(s) and try again.", minutes=minutes
        )
        return render_template("login.html", error=message, name=name), 429
    except LoginError:
        return render_template("login.html", error=_("Wrong name or password."), name=name), 401
    # Outside the transaction above: signing in purges what is due, in a transaction of its own.
    if signed is not None:
        return _signed_in(signed)
    if not on_localhost():
        return _use_localhost()
    token = secrets.token_urlsafe(32)
    inbox.ceremonies.put(token, pending)
    response = make_response(render_template("security_key_sign_in.html", options=options))
    response.headers["Content-Security-Policy"] = KEY_PAGE_CSP
    response.set_cookie(KEY_COOKIE, token, httponly=True, samesite="Strict", path="/login")
    return response


@blueprint.post("/login/security-key")
def login_with_key() -> Response | tuple[str, int]:
    """The second step: the security key's assertion and PRF answer for the pending sign-in."""
    inbox = state()
    refused = _("The security key's answer was refused (or the page was too old). Sign in again.")
    try:
        pending = inbox.ceremonies.take_sign_in(request.cookies.get(KEY_COOKIE, ""))
        with db.transaction(inbox.sessions) as session:
            signed = sign_in_with_key(
                session,
                inbox.config,
                pending,
                origin_for(request.host_url),
                request.form.get("assertion", ""),
                request.form.get("prf", ""),
            )
    except (SecurityKeyRefusedError, LoginError):
        page = make_response(render_template("login.html", error=refused), 401)
        page.delete_cookie(KEY_COOKIE, path="/login")
        return page
    response = _signed_in(signed, pending.next)
    response.delete_cookie(KEY_COOKIE, path="/login")
    return response


def _use_localhost() -> tuple[str, int]:
    message = _(
        "Your account signs in with a security key, which works only at %(url)s: "
        "open that address and sign in there.",
        url=localhost_url(url_for("auth.login")),
    )
    return render_template("login.html", error=message), 400


def _signed_in(signed: SignedIn, next_target: str | None = None) -> Response:
    inbox = state()
    if signed.moved_keys:
        epochs.scrub(inbox.engine)  # the storage-key copies leave the write-ahead log too
    unlocked = inbox.keystore.open(
        signed.officer_id, signed.name, signed.roles, signed.keyring, signed.custodian_keyring
    )
    unlocked.second_factor = signed.second_factor
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
    target = next_target if next_target is not None else request.form.get("next")
    response = redirect(_safe_next(target), 303)
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
