"""The officers' inbox as a Flask app: ``create_app(config)``.

Served on 127.0.0.1 only. Every response carries a strict Content Security
Policy (nothing from elsewhere, no scripts, images and styles same-origin
only); requests whose Host is not the loopback are refused (DNS rebinding),
and so are cross-site form posts (Origin / Sec-Fetch-Site, plus a per-session
CSRF token). The cookie holds only a random session id; the keys it unlocks
live in this app's ``KeyStore``, in memory.
"""

import hmac
from typing import Any

from flask import Flask, Response, g, render_template, request
from flask_babel import Babel, get_locale
from flask_babel import gettext as _
from werkzeug.exceptions import HTTPException

from whistle.inbox import audit, db, epochs, preview
from whistle.inbox.config import LANGUAGES, InboxConfig
from whistle.inbox.errors import (
    CaseNotFoundError,
    CasePurgedError,
    DisclosureRequiredError,
    InboxError,
    NotCustodianError,
    NotSetUpError,
    PermissionDeniedError,
    PreviewError,
    UnreadableRecordError,
)
from whistle.inbox.keystore import KeyStore, Unlocked
from whistle.inbox.officers import still_signed_in, warm_up
from whistle.inbox.refusals import bundle_note, decision_reason, preview_problem, refusal_message
from whistle.inbox.security_keys import Ceremonies
from whistle.inbox.views import (
    account,
    auth,
    backups,
    bundles,
    cases,
    desks,
    duties,
    files,
    keys,
    office,
    officers,
    workflow,
)
from whistle.inbox.views import help as help_view
from whistle.inbox.views.bundles import MAX_UPLOAD_BYTES
from whistle.inbox.web import COOKIE, EXTENSION, LANG_COOKIE, InboxState, state

CSP = (
    "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'"
)
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "[::1]")
#: Endpoints that take files (a reply's recording or minutes): a larger body than 1 MiB.
LARGE_BODY_ENDPOINTS = {"workflow.save_reply": 21 * 1024 * 1024}


def create_app(config: InboxConfig) -> Flask:
    if not config.database_path.is_file():
        raise NotSetUpError(
            f"{config.data_dir} holds no office: run `whistle office init {config.data_dir}`."
        )
    app = Flask(__name__)
    app.config.update(
        TESTING=config.testing,
        MAX_CONTENT_LENGTH=1024 * 1024,
        BABEL_DEFAULT_LOCALE=config.default_language,
        BABEL_TRANSLATION_DIRECTORIES="translations",
    )
    engine = db.make_engine(config.database_path)
    db.upgrade(engine)
    epochs.scrub(engine)  # what an earlier scrub could not reach while another reader was open
    sessions = db.session_factory(engine)
    keystore = KeyStore(config.idle_lock_seconds, config.clock)
    keystore.forget_purged(sessions)
    audit.lend_key(engine, keystore.audit_key)
    app.extensions[EXTENSION] = InboxState(
        config, engine, sessions, keystore, Ceremonies(config.clock)
    )
    Babel(app, locale_selector=_select_locale)
    warm_up(config)
    preview.sweep_scratch(config)  # what a killed inbox's preview helpers left in memory

    app.register_blueprint(auth.blueprint)
    app.register_blueprint(cases.blueprint)
    app.register_blueprint(files.blueprint)
    app.register_blueprint(account.blueprint)
    app.register_blueprint(workflow.blueprint)
    app.register_blueprint(bundles.blueprint)
    app.register_blueprint(officers.blueprint)
    app.register_blueprint(desks.blueprint)
    app.register_blueprint(backups.blueprint)
    app.register_blueprint(keys.blueprint)
    app.register_blueprint(office.blueprint)
    app.register_blueprint(duties.blueprint)
    app.register_blueprint(help_view.blueprint)
    app.before_request(_guard)
    app.before_request(account.send_keyless_officers_to_enrol)
    app.after_request(_headers)
    app.register_error_handler(InboxError, _inbox_error)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(Exception, _unexpected)
    app.context_processor(_template_globals)
    return app


def _select_locale() -> str:
    chosen = request.cookies.get(LANG_COOKIE)
    if chosen in LANGUAGES:
        return chosen
    config = state().config
    best = request.accept_languages.best_match(LANGUAGES) if config.browser_language else None
    return best or config.default_language


def _guard() -> Response | None:
    if request.blueprint == "bundles":
        request.max_content_length = MAX_UPLOAD_BYTES  # bundle uploads, not 1 MiB forms
    host = _hostname(request.host or "")
    if host not in LOOPBACK_HOSTS:
        return Response("This inbox answers on 127.0.0.1 only.", 421, mimetype="text/plain")
    # GETs too: a page on another 127.0.0.1 port is "same-site" and its <img> carries the
    # SameSite=Strict cookie. Browsers that send no Sec-Fetch-Site rely on GETs changing nothing.
    site = request.headers.get("Sec-Fetch-Site")
    if site is not None and site not in ("same-origin", "none"):
        return Response("Cross-site request refused.", 403, mimetype="text/plain")
    if request.method not in ("GET", "HEAD"):
        origin = request.headers.get("Origin")
        if origin is not None and origin.rstrip("/") != request.host_url.rstrip("/"):
            return Response("Cross-site request refused.", 403, mimetype="text/plain")
    keystore = state().keystore
    sid = request.cookies.get(COOKIE)
    g.unlocked = keystore.get(sid)
    if g.unlocked is not None and not _still_signed_in(g.unlocked):
        keystore.drop(sid)
        g.unlocked = None
    g.was_locked = sid is not None and g.unlocked is None
    if request.endpoint in LARGE_BODY_ENDPOINTS and g.unlocked is not None:
        request.max_content_length = LARGE_BODY_ENDPOINTS[request.endpoint]
    if request.method not in ("GET", "HEAD") and g.unlocked is not None:
        token = request.form.get("csrf", "")
        if not hmac.compare_digest(token.encode(), g.unlocked.csrf_token.encode()):
            return Response("The form expired: reload the page.", 400, mimetype="text/plain")
    return None


def _still_signed_in(unlocked: Unlocked) -> bool:
    with state().sessions() as session:
        return still_signed_in(session, unlocked.officer_id, unlocked.roles)


def _hostname(host: str) -> str:
    """``127.0.0.1:8470`` → ``127.0.0.1``; ``[::1]:8470`` → ``[::1]``."""
    if host.startswith("["):
        return host.split("]", 1)[0] + "]"
    return host.rsplit(":", 1)[0]


def _headers(response: Response) -> Response:
    response.headers.setdefault("Content-Security-Policy", CSP)
    response.headers["X-Content-Type-Options"] = "nosniff"
    # "same-origin", not "no-referrer": with the latter browsers send `Origin: null` on our own
    # form posts, which the cross-site check must refuse. No page links elsewhere anyway.
    response.headers["Referrer-Policy"] = "same-origin"
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Cross-Origin-Opener-Policy"] = "same-origin"
    response.headers["Cross-Origin-Resource-Policy"] = "same-origin"
    response.headers["Permissions-Policy"] = "camera=(), microphone=(), geolocation=()"
    response.headers["Cache-Control"] = "no-store"
    if getattr(g, "was_locked", False):
        response.delete_cookie(COOKIE, path="/")
    return response


def _error_page(message: str, status: int) -> tuple[str, int]:
    return render_template("error.html", message=message, status=status), status


def _inbox_error(exc: InboxError) -> tuple[str, int]:
    if isinstance(exc, CasePurgedError):
        return _error_page(_("This case was purged: only its tombstone is left."), 410)
    if isinstance(exc, CaseNotFoundError):
        return _error_page(_("Not found."), 404)
    if isinstance(exc, NotCustodianError):
        return _error_page(_("Only an identity custodian can do this."), 403)
    if isinstance(exc, DisclosureRequiredError):
        message = _("Record the disclosure decision, with its reason, before opening it.")
        return _error_page(message, 403)
    if isinstance(exc, PermissionDeniedError):
        return _error_page(_("Your role does not allow this."), 403)
    if isinstance(exc, UnreadableRecordError):
        return _error_page(_("This record cannot be decrypted: it is damaged."), 422)
    if isinstance(exc, PreviewError):
        return _error_page(preview_problem(exc.why), 400)
    # Chosen by class, never the exception's English text (which is for the command line).
    return _error_page(refusal_message(exc), 400)


def _http_error(exc: HTTPException) -> tuple[str, int]:
    status = exc.code or 500
    messages = {
        404: _("Not found."),
        405: _("This page does not accept that request."),
        413: _("The request is too large."),
    }
    return _error_page(messages.get(status, _("The request was refused.")), status)


def _unexpected(exc: Exception) -> tuple[str, int]:
    if isinstance(exc, HTTPException):
        return _http_error(exc)
    if state().config.testing:
        raise exc
    return _error_page(_("Something went wrong. Nothing was changed."), 500)


def _template_globals() -> dict[str, Any]:
    unlocked: Unlocked | None = getattr(g, "unlocked", None)
    return {
        "bundle_note": bundle_note,
        "decision_reason": decision_reason,
        "get_locale": get_locale,
        "unlocked": unlocked,
        "csrf_token": unlocked.csrf_token if unlocked else "",
        "languages": LANGUAGES,
    }
