"""Building the Flask app: sessions, CSRF, languages, headers, error pages."""

import base64
import errno
import hashlib
import json
from pathlib import Path
from typing import Any

from flask import Flask, Request, Response, current_app, g, request
from flask_babel import Babel
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError, CSRFProtect
from sqlalchemy.exc import OperationalError
from werkzeug.exceptions import BadRequest, HTTPException
from werkzeug.formparser import FormDataParser

from whistle.submit import authorities, db, static_files
from whistle.submit.case_keys import CaseKeyUnverifiableError
from whistle.submit.config import SubmitConfig
from whistle.submit.epochs import StoredCardError
from whistle.submit.pepper import Peppers
from whistle.submit.questionnaire import DEFAULT_FILE, load_questionnaire
from whistle.submit.session import SealedSessionInterface
from whistle.submit.slots import LookupsBusyError, LookupSlots
from whistle.submit.upload import MalformedUploadError, drain
from whistle.submit.views import CSRF_EXEMPT, blueprint, checkin_page
from whistle.submit.web import (
    BUILD_DIR,
    EXTENSION,
    Bundle,
    SubmitState,
    busy_page,
    current_language,
    human_size,
    message_page,
    state,
    too_large_page,
)

HERE = Path(__file__).parent
#: Bodies of routes that take no files: anything longer is refused.
MAX_SMALL_BODY = 64 * 1024
CSP = (
    "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'"
)
#: Pages that load the browser crypto bundle may also run it (WebAssembly) and fetch.
CSP_WITH_BUNDLE = CSP + "; script-src 'self' 'wasm-unsafe-eval'; connect-src 'self'"
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
}
#: Routes that read their multipart body themselves, encrypting files as they stream.
UPLOAD_ENDPOINTS = frozenset(
    {
        "submit.report_post",
        "submit.followup_post",
        "submit.report_sealed",
        "submit.followup_sealed",
    }
)


class _NoSpoolFormParser(FormDataParser):
    """Refuses multipart bodies: Werkzeug would spool their files in plaintext."""

    def _parse_multipart(self, *args: Any, **kwargs: Any) -> Any:
        raise BadRequest("files are accepted only where they are encrypted as they arrive")


class SubmitRequest(Request):
    form_data_parser_class = _NoSpoolFormParser


def load_bundle(directory: Path = BUILD_DIR) -> Bundle | None:
    """The built page script (``make build``), or None: the pages then stay JavaScript-free.

    Its Subresource Integrity value is computed from the file served, not taken from the
    manifest; the script pins the WebAssembly binary and the fallback it loads (js/build.mjs),
    which must be there too.
    """
    try:
        manifest = json.loads((directory / "manifest.json").read_text(encoding="utf-8"))
        page = (directory / manifest["page"]["file"]).read_bytes()
        for role in ("wasm", "fallback"):
            (directory / manifest[role]["file"]).stat()
    except (OSError, ValueError, KeyError, TypeError):
        return None
    digest = base64.b64encode(hashlib.sha384(page).digest()).decode("ascii")
    return Bundle(file=manifest["page"]["file"], sri=f"sha384-{digest}")


def create_app(config: SubmitConfig) -> Flask:
    app = Flask(
        __name__,
        static_folder=str(HERE / "static"),
        template_folder=str(HERE / "templates"),
    )
    app.request_class = SubmitRequest
    lifetime = config.limits.session_hours * 3600
    app.config.update(
        SECRET_KEY=config.csrf_secret,
        WTF_CSRF_TIME_LIMIT=lifetime,
        MAX_FORM_MEMORY_SIZE=MAX_SMALL_BODY,
        MAX_FORM_PARTS=50,
        BABEL_TRANSLATION_DIRECTORIES=str(HERE / "translations"),
        BABEL_DEFAULT_LOCALE="en",
        TESTING=config.testing,
    )
    app.session_interface = SealedSessionInterface(
        config.session_keys, lifetime, config.cookie_secure
    )
    engine = db.make_engine(config.database_url)
    db.check_schema_at_start(engine)
    app.extensions[EXTENSION] = SubmitState(
        config=config,
        engine=engine,
        sessions=db.make_sessions(engine),
        questionnaire=load_questionnaire(config.questionnaire_path or DEFAULT_FILE),
        lookup_slots=LookupSlots(config.limits.lookup_slots, config.limits.lookup_wait_ms / 1000),
        peppers=Peppers(config),
        bundle=load_bundle() if config.browser_crypto else None,
    )
    # Before CSRF protection reads any form: refuse oversized small bodies politely.
    app.before_request(_bound_small_bodies)
    csrf = CSRFProtect(app)
    Babel(app, locale_selector=current_language)
    # The upload routes check the token themselves once the body has streamed through
    # (Flask-WTF would read request.form); the receipt confirmation changes nothing.
    # The sealed routes read their binary body themselves and check the header token.
    for view in CSRF_EXEMPT:
        csrf.exempt(view)
    app.register_blueprint(blueprint)
    app.after_request(_security_headers)
    static_files.install(app)
    app.register_error_handler(CSRFError, _csrf_error)
    app.register_error_handler(MalformedUploadError, _malformed_upload)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(OperationalError, _storage_unavailable)
    # Views answer "busy" themselves (keeping what was typed); this catches any other.
    app.register_error_handler(LookupsBusyError, lambda _error: busy_page())
    app.register_error_handler(OSError, _storage_unavailable)
    app.register_error_handler(StoredCardError, _storage_unavailable)
    app.register_error_handler(CaseKeyUnverifiableError, _storage_unavailable)
    app.register_error_handler(Exception, _unexpected_error)
    app.context_processor(_template_globals)
    return app


def _template_globals() -> dict[str, Any]:
    st = state()
    lang = current_language()
    names = st.config.names
    return {
        "lang": lang,
        "languages": {"ca": "Català", "es": "Español", "en": "English"},
        "office_name": names.office_name(lang, st.config.office_name),
        # A desk's name in the page's language, else the card's (whistle/localnames.py).
        "desk_name": lambda desk: names.desk_name(desk.id, lang, desk.name),
        "office_logo": st.config.office_logo is not None,
        "legal": st.config.legal,
        "competent_authority": authorities.competent(st.config.legal.territory),
        # The current card's desks once a view has read it (names and ids; keys are the
        # views' business), else the pinned card's: an error page needs no database.
        "desks": (g.office_cards.current if g.get("office_cards") else st.config.office_card).desks,
        "limits": st.config.limits,
        "human_size": human_size,
        "bundle": None,
    }


def _bound_small_bodies() -> Any:
    if request.endpoint in UPLOAD_ENDPOINTS or request.method in ("GET", "HEAD"):
        return None
    length = request.content_length
    if length is not None and length > MAX_SMALL_BODY:
        drain(request.stream, state().config.limits.discard_cap_bytes)
        return message_page(
            _("Too large"), _("That form was far longer than it can be. Nothing was kept."), 413
        )
    return None


#: Not pages: the same bytes for everyone, so the browser may keep them.
CACHED_ENDPOINTS = ("static", "submit.office_logo")


def _security_headers(response: Response) -> Response:
    response.headers.update(SECURITY_HEADERS)
    if g.get("loads_bundle"):
        response.headers["Content-Security-Policy"] = CSP_WITH_BUNDLE
    if request.endpoint not in CACHED_ENDPOINTS or response.status_code >= 400:
        # Error pages under /static/ are pages too (and may set the session cookie).
        response.headers["Cache-Control"] = "no-store"
    response.headers.pop("Server", None)
    return response


def _csrf_error(error: CSRFError) -> Any:
    if request.endpoint == "submit.checkin_post":
        return checkin_page(
            error=_(
                "Your session had expired (this happens after some hours, or when cookies are "
                "blocked). Please enter your code again."
            ),
            status=400,
        )
    return message_page(
        _("Session expired"),
        _("Your session had expired, so that form could not be accepted. Please try again."),
        400,
    )


def _malformed_upload(error: MalformedUploadError) -> Any:
    drain(request.stream, state().config.limits.discard_cap_bytes)
    return message_page(
        _("Bad request"),
        _("The form arrived damaged or in a shape this site does not accept. Nothing was kept."),
        400,
    )


def _http_error(error: HTTPException) -> Any:
    code = error.code or 500
    if code == 413:
        return too_large_page()
    titles = {
        400: _("Bad request"),
        404: _("Page not found"),
        405: _("Not allowed"),
    }
    texts = {
        400: _("The request was malformed. Nothing was kept."),
        404: _("There is no page at this address."),
        405: _("This page cannot be used that way."),
    }
    return message_page(
        titles.get(code, _("Error")), texts.get(code, _("Something went wrong.")), code
    )


#: Why a write to the data directory can fail when nothing is wrong with the request.
STORAGE_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EIO})


def _storage_unavailable(error: Exception) -> Any:
    """The disk is full or read-only (or the database cannot be written): a 503 page.

    The transaction was rolled back by the session's context, so nothing was kept; the rest of
    the body is read and dropped, so the browser sees the page rather than a reset.
    """
    if isinstance(error, OSError) and error.errno not in STORAGE_ERRNOS:
        return _unexpected_error(error)
    if isinstance(error, StoredCardError | CaseKeyUnverifiableError):
        current_app.logger.error("refusing to serve: %s", error)
    else:
        current_app.logger.error("storage unavailable: %s", type(error).__name__)
    drain(request.stream, state().config.limits.discard_cap_bytes)
    return message_page(
        _("Temporarily unavailable"),
        _(
            "The site cannot use its storage just now, so nothing was sent or kept. "
            "Please try again later."
        ),
        503,
    )


def _unexpected_error(error: Exception) -> Any:
    if isinstance(error, HTTPException):
        return _http_error(error)
    if state().config.testing:
        raise error  # a test sees the traceback, not a 500 page
    # No traceback with request data in it goes anywhere: the type is enough to start with.
    current_app.logger.error("unexpected %s", type(error).__name__)
    return message_page(_("Error"), _("Something went wrong. Nothing was kept."), 500)
