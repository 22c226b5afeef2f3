"""The signed-in officer's own account: change password, security keys."""

from flask import Blueprint, g, make_response, redirect, render_template, request, url_for
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from whistle.inbox import db
from whistle.inbox.errors import (
    InboxError,
    LoginError,
    PasswordLengthError,
    SecondFactorRequiredError,
    SecurityKeyError,
    SecurityKeyLabelError,
    SecurityKeyNotEnrolledError,
    SecurityKeyRefusedError,
)
from whistle.inbox.keystore import Unlocked
from whistle.inbox.models import Officer
from whistle.inbox.officers import (
    MAX_PASSWORD_CHARS,
    MIN_PASSWORD_CHARS,
    change_password,
    enrol_security_key,
    remove_own_security_key,
)
from whistle.inbox.security_keys import (
    MAX_LABEL_CHARS,
    check_enrolment,
    enrolment_options,
    keys_of,
    new_enrolment,
    origin_for,
)
from whistle.inbox.settings import security_keys_required, set_security_keys_required
from whistle.inbox.web import (
    KEY_PAGE_CSP,
    localhost_url,
    on_localhost,
    require_manager_unlocked,
    require_unlocked,
    state,
)

blueprint = Blueprint("account", __name__, url_prefix="/account")


@blueprint.route("/password", methods=["GET", "POST"])
def password() -> tuple[str, int] | str:
    unlocked = require_unlocked()
    if request.method == "GET":
        return render_template("password.html", minimum=MIN_PASSWORD_CHARS)
    current = request.form.get("current", "")[:2048]
    new = request.form.get("new", "")[:2048]
    repeat = request.form.get("repeat", "")[:2048]
    errors: dict[str, str] = {}
    if new != repeat:
        errors["repeat"] = _("The two new passwords are not the same.")
    elif len(new) < MIN_PASSWORD_CHARS:
        errors["new"] = _("A password has at least %(n)d characters.", n=MIN_PASSWORD_CHARS)
    if not errors:
        inbox = state()
        try:
            with db.transaction(inbox.sessions) as session:
                change_password(
                    session, inbox.config, unlocked.officer_id, current, new, unlocked.second_factor
                )
        except SecondFactorRequiredError:
            errors["current"] = _(
                "Sign in again with your security key first: your keys open only with it."
            )
        except LoginError:
            errors["current"] = _("The current password is wrong.")
        except PasswordLengthError:
            errors["new"] = _(
                "A password has %(low)d to %(high)d characters.",
                low=MIN_PASSWORD_CHARS,
                high=MAX_PASSWORD_CHARS,
            )
    if errors:
        return render_template("password.html", minimum=MIN_PASSWORD_CHARS, errors=errors), 400
    return render_template("password.html", minimum=MIN_PASSWORD_CHARS, done=True)


@blueprint.route("/security-keys", methods=["GET", "POST"])
def security_keys() -> Response | tuple[str, int] | str:
    """The officer's security keys: the list, and adding one (the page's script runs the two
    WebAuthn ceremonies, then posts both answers with the password)."""
    unlocked = require_unlocked()
    if request.method == "GET":
        return _keys_page(unlocked)
    inbox = state()
    try:
        enrolment = inbox.ceremonies.take_enrolment(_enrol_key(unlocked))
        checked = check_enrolment(
            enrolment,
            origin_for(request.host_url),
            request.form.get("attestation", ""),
            request.form.get("assertion", ""),
            request.form.get("prf", ""),
        )
        with db.transaction(inbox.sessions) as session:
            unlocked.second_factor = enrol_security_key(
                session,
                inbox.config,
                officer_id=unlocked.officer_id,
                password=request.form.get("password", "")[:2048],
                factor=unlocked.second_factor,
                label=request.form.get("label", "")[:200],
                checked=checked,
            )
    except (SecurityKeyError, LoginError, InboxError) as exc:
        return _keys_page(unlocked, error=_key_error(exc), status=400)
    return _keys_page(
        unlocked,
        message=_("The security key was added. From now on you sign in with it."),
    )


@blueprint.post("/security-keys/<int:key_id>/remove")
def remove_security_key(key_id: int) -> Response | tuple[str, int] | str:
    unlocked = require_unlocked()
    inbox = state()
    try:
        with db.transaction(inbox.sessions) as session:
            last = remove_own_security_key(
                session,
                inbox.config,
                officer_id=unlocked.officer_id,
                key_id=key_id,
                password=request.form.get("password", "")[:2048],
                factor=unlocked.second_factor,
            )
    except (SecurityKeyError, LoginError, InboxError) as exc:
        return _keys_page(unlocked, error=_key_error(exc), status=400)
    if last:
        unlocked.second_factor = None
        message = _(
            "The key was removed. You have no security key now: "
            "your password alone opens your keys."
        )
    else:
        message = _("The key was removed.")
    return _keys_page(unlocked, message=message)


@blueprint.post("/security-keys/policy")
def security_keys_policy() -> Response | tuple[str, int] | str:
    """A manager makes security keys compulsory for every officer, or optional again."""
    unlocked = require_manager_unlocked()
    inbox = state()
    with db.transaction(inbox.sessions) as session:
        set_security_keys_required(
            session,
            request.form.get("required") == "1",
            officer_id=unlocked.officer_id,
            now=inbox.config.clock(),
        )
    return _keys_page(unlocked, message=_("The office setting was saved."))


#: What an officer without a key may still reach when the office requires one.
_KEYLESS_ENDPOINTS = {
    "account.security_keys",
    "account.remove_security_key",
    "account.security_keys_policy",
    "auth.lock",
    "auth.language",
    "auth.login",
    "static",
}


def send_keyless_officers_to_enrol() -> Response | None:
    """Before each request (after the app's guard): when the office requires security keys,
    an officer who signed in without one reaches only the page that adds one."""
    unlocked: Unlocked | None = g.get("unlocked")
    if unlocked is None or unlocked.second_factor is not None:
        return None
    if request.endpoint in _KEYLESS_ENDPOINTS:
        return None
    with state().sessions() as session:
        if not security_keys_required(session):
            return None
    return redirect(url_for("account.security_keys"), 303)


def _enrol_key(unlocked: Unlocked) -> str:
    return "enrol:" + unlocked.session_id


def _key_error(exc: InboxError) -> str:
    if isinstance(exc, SecondFactorRequiredError):
        return _("Sign in again with your security key first: your keys open only with it.")
    if isinstance(exc, LoginError):
        return _("The password is wrong. Nothing was changed.")
    if isinstance(exc, SecurityKeyRefusedError):
        return _("The security key's answer was refused. Nothing was changed.")
    if isinstance(exc, SecurityKeyNotEnrolledError):
        return _("No such security key. Nothing was changed.")
    if isinstance(exc, SecurityKeyLabelError):
        return _("A security key's name is 1 to %(n)d characters.", n=MAX_LABEL_CHARS)
    return _("The security key could not be changed. Nothing was changed.")


def _keys_page(
    unlocked: Unlocked, *, message: str | None = None, error: str | None = None, status: int = 200
) -> Response:
    inbox = state()
    with inbox.sessions() as session:
        officer = session.get(Officer, unlocked.officer_id)
        keys = keys_of(session, unlocked.officer_id)
        options = None
        if officer is not None and on_localhost():
            enrolment = new_enrolment(inbox.ceremonies)
            inbox.ceremonies.put(_enrol_key(unlocked), enrolment)
            options = enrolment_options(session, officer, enrolment)
        page = render_template(
            "security_keys.html",
            required=security_keys_required(session),
            is_manager=officer is not None and officer.is_manager,
            keys=keys,
            options=options,
            localhost=localhost_url(url_for("account.security_keys")),
            message=message,
            error=error,
        )
    response = make_response(page, status)
    response.headers["Content-Security-Policy"] = KEY_PAGE_CSP
    return response
