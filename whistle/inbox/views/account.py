"""The signed-in officer's own account: change password."""

from flask import Blueprint, render_template, request
from flask_babel import gettext as _

from whistle.inbox import db
from whistle.inbox.errors import LoginError, PasswordLengthError
from whistle.inbox.officers import MAX_PASSWORD_CHARS, MIN_PASSWORD_CHARS, change_password
from whistle.inbox.web import require_unlocked, state

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
                change_password(session, inbox.config, unlocked.officer_id, current, new)
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
