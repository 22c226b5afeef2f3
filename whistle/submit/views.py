"""The source's pages: landing, report, receipt, check-in, follow-up, channels, about.

Every flow works with JavaScript off. The server encrypts a report as it
streams in, shows the conversation only on the response to the page where the
code was posted, and asks for the code again to send a follow-up (nothing on
the server, and no cookie, ever holds the code or a key derived from it).
"""

import base64
import datetime
import time
import zoneinfo
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from flask import (
    Blueprint,
    Response,
    abort,
    g,
    jsonify,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _
from flask_wtf.csrf import validate_csrf
from sqlalchemy.exc import IntegrityError, OperationalError
from wtforms.validators import ValidationError

from whistle.crypto import (
    CodeChecksumError,
    CodeFormatError,
    CryptoError,
    Desk,
    OfficeCard,
    SourceKeys,
    check_envelope_shape,
    derive_source_keys,
    format_code,
    generate_code,
    login_lookup,
    max_envelope_size,
    normalize_code,
    open_token,
    seal_token,
)
from whistle.crypto.records import (
    FollowupWriter,
    SubmissionWriter,
    open_as_source,
    open_submission_as_source,
)
from whistle.submit import db, epochs, store
from whistle.submit.app import (
    SubmitState,
    busy_message,
    current_language,
    human_size,
    message_page,
    spooled_file,
    state,
    too_large_page,
    use_bundle,
)
from whistle.submit.bundles import mark_replies_read
from whistle.submit.config import LANGUAGES
from whistle.submit.models import RecordKind
from whistle.submit.pepper import open_login, pepper_tag
from whistle.submit.slots import RETRY_AFTER_SECONDS, LookupsBusyError
from whistle.submit.upload import (
    READ_BYTES,
    ParsedForm,
    StagingSink,
    UploadTooLargeError,
    drain,
    multipart_boundary,
    parse_multipart,
)

blueprint = Blueprint("submit", __name__)

#: Room for the text fields of a multipart body on top of its files.
FORM_ALLOWANCE = 1024 * 1024
RECEIPT_PURPOSE = "receipt"
#: Room a report needs at the least (a padded envelope with its identification block).
MIN_ENVELOPE_BYTES = 16 * 1024


def today() -> datetime.date:
    """The day in the office's time zone: the only time the server records."""
    return datetime.datetime.now(zoneinfo.ZoneInfo(state().config.time_zone)).date()


def _cards() -> epochs.Cards:
    """The current office card (and the previous one), read once per request."""
    known = g.get("office_cards")
    if known is None:
        st = state()
        try:
            with st.sessions() as db_session:
                known = epochs.cards(db_session, st.config)
        except OperationalError:
            if request.method != "GET":
                raise  # nothing is encrypted to a card the database did not confirm
            # The database cannot be read (a read-only data directory): pages that need
            # nothing else still show, with the pinned card's desks. A page encrypting to
            # its keys names its epoch, which is checked against the database when it posts.
            known = epochs.Cards(st.config.office_card, None, None)
        g.office_cards = known
    return known  # type: ignore[no-any-return]


def _card() -> OfficeCard:
    return _cards().current


def _desk(desk_id: str | None) -> Desk:
    desks = _card().desks
    if desk_id is None:
        if len(desks) != 1:
            abort(404)
        return desks[0]
    for desk in desks:
        if desk.id == desk_id:
            return desk
    abort(404)


def _report_url(desk: Desk, *, sealed: bool = False) -> str:
    endpoint = "submit.report_sealed" if sealed else "submit.report"
    # The page says which key epoch it encrypted to (it was given that card's keys).
    extra = {"epoch": _card().epoch} if sealed else {}
    if len(_card().desks) == 1:
        return url_for(endpoint, **extra)
    return url_for(endpoint, desk_id=desk.id, **extra)


# --- static pages -----------------------------------------------------------------------


@blueprint.get("/")
def landing() -> str:
    desks = _card().desks
    return render_template("landing.html", report_urls=[(d, _report_url(d)) for d in desks])


@blueprint.get("/channels")
def channels() -> str:
    return render_template("channels.html")


@blueprint.get("/about")
def about() -> str:
    return render_template("about.html")


@blueprint.get("/favicon.ico")
def favicon() -> Response:
    return Response(status=204)


@blueprint.get("/language/<lang>")
def language(lang: str) -> Any:
    if lang not in LANGUAGES:
        abort(404)
    session["lang"] = lang
    target = request.args.get("next", "/")
    if not target.startswith("/") or target.startswith("//") or "\\" in target:
        target = "/"
    return redirect(target, code=303)


# --- the report ---------------------------------------------------------------------------


@dataclass
class ReportForm:
    values: dict[str, str] = field(default_factory=dict)
    errors: list[tuple[str, str]] = field(default_factory=list)  # (field id, message)
    files_dropped: bool = False
    notice: str | None = None


def _render_report(desk: Desk, form: ReportForm, status: int = 200) -> tuple[str, int]:
    return (
        render_template(
            "report.html",
            desk=desk,
            action=_report_url(desk),
            questionnaire=state().questionnaire,
            form=form,
            bundle=use_bundle(),
            sealed_action=_report_url(desk, sealed=True),
            install_salt=state().config.install_salt.hex(),
            custodian_key=_card().custodian_key.hex(),
        ),
        status,
    )


@blueprint.get("/report", defaults={"desk_id": None}, endpoint="report")
@blueprint.get("/report/<desk_id>", endpoint="report")
def report(desk_id: str | None) -> Any:
    desk = _desk(desk_id)
    if _quota_reached(MIN_ENVELOPE_BYTES):
        return _full_page()
    return _render_report(desk, ReportForm())


def _quota_reached(incoming: int) -> bool:
    st = state()
    with st.sessions() as db_session:
        return store.quota_reached(db_session, st.config.limits.storage_quota_bytes, incoming)


def _full_page() -> tuple[str, int]:
    return message_page(
        _("Temporarily full"),
        _(
            "This mailbox cannot take new reports right now because its storage is full. "
            "Nothing was kept. Please try again in a few days, or use one of the external "
            "channels."
        ),
        503,
        show_channels=True,
    )


def _refuse_early(st: SubmitState) -> Any:
    """Too large or full before reading: drain the body, then say so (no reset mid-upload)."""
    limits = st.config.limits
    length = request.content_length
    if length is not None and length > limits.max_upload_bytes + FORM_ALLOWANCE:
        drain(request.stream, limits.discard_cap_bytes)
        return too_large_page()
    if _quota_reached(max(length or 0, MIN_ENVELOPE_BYTES)):
        drain(request.stream, limits.discard_cap_bytes)
        return _full_page()
    return None


def _check_csrf(parsed: ParsedForm) -> bool:
    try:
        validate_csrf(parsed.fields.get("csrf_token"))
    except ValidationError:
        return False
    return True


def _validate_report(
    parsed: ParsedForm, form: ReportForm
) -> tuple[list[dict[str, str]], list[dict[str, str]]]:
    """Answers and identification (with labels in the source's language); errors into form."""
    st = state()
    lang = current_language()
    limit = st.config.limits.max_text_chars
    answers: list[dict[str, str]] = []
    identification: list[dict[str, str]] = []
    for question in st.questionnaire.questions + st.questionnaire.identification:
        value = parsed.fields.get(question.field_name, "").strip()
        if question.kind == "line":
            value = " ".join(value.split())
        form.values[question.field_name] = value
        label = question.label[lang]
        if question.required and not value:
            form.errors.append(
                (question.field_name, _("%(label)s: please fill this in.", label=label))
            )
        elif len(value) > min(question.max_chars, limit):
            form.errors.append(
                (
                    question.field_name,
                    _(
                        "%(label)s: at most %(count)d characters, please.",
                        label=label,
                        count=min(question.max_chars, limit),
                    ),
                )
            )
        elif value:
            entry = {"key": question.key, "label": label, "value": value}
            if question in st.questionnaire.identification:
                identification.append(entry)
            else:
                answers.append(entry)
    form.values["accept"] = parsed.fields.get("accept", "")
    if parsed.fields.get("accept") != "yes":
        form.errors.append(("accept", _("Please accept the rules of use to send the report.")))
    return answers, identification


@blueprint.post("/report", defaults={"desk_id": None}, endpoint="report_post")
@blueprint.post("/report/<desk_id>", endpoint="report_post")
def report_post(desk_id: str | None) -> Any:
    st = state()
    desk = _desk(desk_id)
    refused = _refuse_early(st)
    if refused is not None:
        return refused
    boundary = multipart_boundary(request.content_type)
    card = _card()
    code = generate_code()
    keys = derive_source_keys(code, st.config.install_salt)
    case_id = store.new_case_id()
    with spooled_file() as out:
        writer = SubmissionWriter(
            out,
            desk_key=desk.public_key,
            custodian_key=card.custodian_key,
            reply_public_key=keys.reply_public_key,
            case_id=case_id,
        )
        try:
            parsed = parse_multipart(
                request.stream,
                boundary,
                writer,
                max_files=st.config.limits.max_files,
                max_file_bytes=st.config.limits.max_upload_bytes,
            )
        except UploadTooLargeError:
            drain(request.stream, st.config.limits.discard_cap_bytes)
            return too_large_page()
        form = ReportForm(files_dropped=bool(parsed.file_names))
        answers, identification = _validate_report(parsed, form)
        if not _check_csrf(parsed):
            form.errors.insert(
                0,
                (
                    "",
                    _(
                        "Your session had expired, so the report was not sent. Your answers "
                        "are below: check them and send again."
                    ),
                ),
            )
            return _render_report(desk, form, 400)
        if form.errors:
            return _render_report(desk, form, 422)
        writer.add_form({"language": current_language(), "desk": desk.id, "fields": answers})
        writer.add_identification(identification)
        size = writer.finish()
        out.seek(0)
        pepper = st.peppers.current
        lookup = login_lookup(keys.login_token, pepper)
        with db.writing(st.sessions) as db_session:
            if store.quota_reached(db_session, st.config.limits.storage_quota_bytes, size):
                return _full_page()
            store.add_submission(
                db_session,
                case_id=case_id,
                lookup=lookup,
                pepper_tag=pepper_tag(pepper, lookup),
                envelope=out,
                today=today(),
                epoch=card.epoch,
            )
    return _render_receipt(code)


#: How long the receipt page can show the code again (the source is on that page now).
RECEIPT_SECONDS = 3600


def _render_receipt(code: str, error: str | None = None) -> tuple[str, int]:
    value = f"{int(time.time()) + RECEIPT_SECONDS}:{code}".encode("ascii")
    token = seal_token(state().config.session_keys[0], value, RECEIPT_PURPOSE)
    return (
        render_template("receipt.html", code=format_code(code), receipt_token=token, error=error),
        200 if error is None else 422,
    )


def _receipt_code(token: str) -> str | None:
    try:
        value = open_token(list(state().config.session_keys), token, RECEIPT_PURPOSE)
        expires, _sep, code = value.decode("ascii").partition(":")
    except (CryptoError, UnicodeDecodeError):
        return None
    if not _is_number(expires) or int(expires) < time.time():
        return None
    return code


@blueprint.post("/receipt")
def receipt_post() -> Any:
    """The "I have written it down" confirmation; without it, the code is shown again.

    The form carries the code sealed under the session key, valid for an hour, so an
    unticked box does not lose it; the server keeps nothing.
    """
    if request.form.get("written") == "yes":
        return render_template("receipt_done.html")
    code = _receipt_code(request.form.get("receipt", ""))
    if code is None:
        return message_page(
            _("Report received"),
            _(
                "Your report was received. If you did not write your code down, it cannot be "
                "shown again: you can send a new report to get a new code."
            ),
            400,
        )
    return _render_receipt(code, error=_("Please confirm that you have written the code down."))


# --- check-in and the conversation ---------------------------------------------------


def _is_number(text: str) -> bool:
    """ASCII digits only, at most 10 (``str.isdigit`` also accepts "²", which ``int``
    refuses)."""
    return text.isascii() and text.isdigit() and 0 < len(text) <= 10


@dataclass
class Entry:
    kind: str
    created: datetime.date
    record_id: str = ""
    text: str = ""
    fields: list[dict[str, str]] = field(default_factory=list)
    files: list[tuple[str, int]] = field(default_factory=list)
    unreadable: bool = False


def _derive_and_find(code: str) -> tuple[SourceKeys, bytes | None]:
    """Derivation and lookup, the same work for every well-formed code, known or not.

    The caller holds a look-up slot (whistle/submit/slots.py).
    """
    st = state()
    keys = derive_source_keys(code, st.config.install_salt)
    return keys, open_login(st.sessions, st.peppers.get(), keys.login_token)


def _lookup(code: str) -> tuple[SourceKeys, bytes | None]:
    """``_derive_and_find`` holding a look-up slot (``LookupsBusyError`` when none is free)."""
    with state().lookup_slots.hold():
        return _derive_and_find(code)


#: What every "busy" answer carries (HTTP 503): when to try again.
BUSY_HEADERS = {"Retry-After": str(RETRY_AFTER_SECONDS)}


def _busy_checkin_page() -> tuple[str, int, dict[str, str]]:
    """The check-in form again, saying the site is busy (503, Retry-After)."""
    page, status = checkin_page(error=busy_message(), status=503)
    return page, status, BUSY_HEADERS


def _conversation(keys: SourceKeys, case_id: bytes) -> list[Entry]:
    st = state()
    entries: list[Entry] = []
    with st.sessions() as db_session:
        records = store.case_records(db_session, case_id)
        for record in records:
            entry = Entry(kind=record.kind.value, created=record.created, record_id=record.id)
            with spooled_file() as buffer:
                store.read_record(db_session, record.id, buffer)
                buffer.seek(0)
                try:
                    if record.kind == RecordKind.SUBMISSION:
                        opened = open_submission_as_source(buffer, keys.reply_secret_key, case_id)
                        fields = opened.form.get("fields", [])
                        entry.fields = [
                            {"label": str(f.get("label", "")), "value": str(f.get("value", ""))}
                            for f in fields
                            if isinstance(f, dict)
                        ]
                        entry.files = opened.files
                    else:
                        message = open_as_source(
                            buffer.read(), record.kind.value, keys.reply_secret_key, case_id
                        )
                        entry.text = message.message
                        entry.files = [(p.name, len(p.content)) for p in message.files]
                except CryptoError:
                    entry.unreadable = True
            entries.append(entry)
    read = [e.record_id for e in entries if e.kind == "reply" and not e.unreadable]
    if read:
        # A write of its own, after the reads (SQLite: BEGIN IMMEDIATE; see db.writing).
        with db.writing(st.sessions) as db_session:
            mark_replies_read(db_session, read, today())
    return entries


def checkin_page(error: str | None = None, status: int = 200) -> tuple[str, int]:
    return render_template("checkin.html", error=error, **_sealed_page_data()), status


def _sealed_page_data() -> dict[str, Any]:
    """What the page script needs: the bundle and the office's public keys (all public)."""
    config = state().config
    card = _card()
    return {
        "bundle": use_bundle(),
        "install_salt": config.install_salt.hex(),
        "desk_keys": ",".join(d.public_key.hex() for d in card.desks),
        "epoch": card.epoch,
    }


@blueprint.get("/check-in")
def checkin() -> Any:
    return checkin_page()


def _code_error(text: str) -> tuple[str | None, str | None]:
    """(canonical code, None) or (None, what is wrong): decided before any lookup."""
    try:
        return normalize_code(text), None
    except CodeChecksumError:
        return None, _(
            "That code was mistyped: one of its characters is wrong, or two are swapped. "
            "Check it against what you wrote down."
        )
    except CodeFormatError:
        return None, _(
            "That is not a code: a code has 21 letters and digits, shown in groups of four."
        )


def _unknown_message() -> str:
    return _(
        "That code is unknown here. Check it against what you wrote down; if your report was "
        "deleted after the case was closed, the code no longer works."
    )


@blueprint.post("/check-in/file")
def reply_file() -> Any:
    """A file the office attached to a reply; the code is asked for again (nothing keeps it)."""
    return _with_code(_reply_file_answer)


def _reply_file_answer(code: str) -> Any:
    keys, case_id = _derive_and_find(code)
    if case_id is None:
        return checkin_page(error=_unknown_message(), status=422)
    record_id, _sep, index_text = request.form.get("file", "").partition(":")
    st = state()
    with st.sessions() as db_session:
        records = {r.id: r for r in store.case_records(db_session, case_id)}
        record = records.get(record_id)
        if record is None or record.kind != RecordKind.REPLY or not _is_number(index_text):
            return checkin_page(error=_("Choose one of the files the office sent."), status=422)
        with spooled_file() as buffer:
            store.read_record(db_session, record.id, buffer)
            buffer.seek(0)
            try:
                message = open_as_source(buffer.read(), "reply", keys.reply_secret_key, case_id)
            except CryptoError:
                return checkin_page(error=_("This message could not be opened."), status=422)
    index = int(index_text)
    if index >= len(message.files):
        return checkin_page(error=_("Choose one of the files the office sent."), status=422)
    part = message.files[index]
    response = Response(part.content, mimetype="application/octet-stream")
    response.headers.set("Content-Disposition", "attachment", filename=part.name)
    return response


@blueprint.post("/check-in")
def checkin_post() -> Any:
    return _with_code(_checkin_answer)


def _with_code(answer: Callable[[str], Any]) -> Any:
    """The posted code checked, then ``answer(code)`` holding a look-up slot: the slot covers
    the look-up and the page it leads to, the whole cost of a guess (busy: the 503 page)."""
    code, error = _code_error(request.form.get("code", ""))
    if code is None:
        return checkin_page(error=error, status=422)
    try:
        with state().lookup_slots.hold():
            return answer(code)
    except LookupsBusyError:
        return _busy_checkin_page()


def _checkin_answer(code: str) -> Any:
    keys, case_id = _derive_and_find(code)
    if case_id is None:
        return checkin_page(error=_unknown_message(), status=422)
    session["case"] = case_id.hex()
    entries = _conversation(keys, case_id)
    reply_files = [
        (f"{entry.record_id}:{index}", name, size)
        for entry in entries
        if entry.kind == "reply"
        for index, (name, size) in enumerate(entry.files)
    ]
    return render_template(
        "conversation.html",
        entries=entries,
        reply_files=reply_files,
        followup={},
    )


# --- follow-ups ---------------------------------------------------------------------------


def _render_followup(
    values: dict[str, str], errors: list[tuple[str, str]], files_dropped: bool, status: int
) -> tuple[str, int]:
    return (
        render_template(
            "followup.html",
            values=values,
            errors=errors,
            files_dropped=files_dropped,
        ),
        status,
    )


@blueprint.post("/follow-up")
def followup_post() -> Any:
    st = state()
    refused = _refuse_early(st)
    if refused is not None:
        return refused
    boundary = multipart_boundary(request.content_type)
    limits = st.config.limits
    with spooled_file() as staging_out:
        staging = StagingSink(staging_out)
        try:
            parsed = parse_multipart(
                request.stream,
                boundary,
                staging,
                max_files=limits.max_files,
                max_file_bytes=limits.max_upload_bytes,
            )
        except UploadTooLargeError:
            drain(request.stream, limits.discard_cap_bytes)
            return too_large_page()
        message = parsed.fields.get("message", "").strip()
        values = {"message": message}
        errors: list[tuple[str, str]] = []
        dropped = bool(parsed.file_names)
        if not _check_csrf(parsed):
            errors.append(
                ("", _("Your session had expired, so the message was not sent. Please send again."))
            )
            return _render_followup(values, errors, dropped, 400)
        code, code_problem = _code_error(parsed.fields.get("code", ""))
        if not message:
            errors.append(("message", _("Please write a message.")))
        elif len(message) > limits.max_text_chars:
            errors.append(
                (
                    "message",
                    _("At most %(count)d characters, please.", count=limits.max_text_chars),
                )
            )
        case_id = None
        keys = None
        if code is None:
            errors.insert(0, ("code", code_problem or ""))
        else:
            try:
                keys, case_id = _lookup(code)
            except LookupsBusyError:
                # Nothing looked up, nothing stored; the message stays in the form.
                errors.insert(0, ("", busy_message()))
                page, status = _render_followup(values, errors, dropped, 503)
                return page, status, BUSY_HEADERS
            if case_id is None:
                errors.insert(0, ("code", _unknown_message()))
        if errors or keys is None or case_id is None:
            return _render_followup(values, errors, dropped, 422)
        card = _card()
        with spooled_file() as out:
            writer = FollowupWriter(
                out,
                message=message,
                reply_secret_key=keys.reply_secret_key,
                desk_keys=[d.public_key for d in card.desks],
                case_id=case_id,
            )
            staging.replay(writer)
            size = writer.finish()
            out.seek(0)
            try:
                with db.writing(st.sessions) as db_session:
                    if store.quota_reached(db_session, limits.storage_quota_bytes, size):
                        return _full_page()
                    # Takes the case's lock: a follow-up to one case waits for the other.
                    store.add_followup(
                        db_session, case_id=case_id, envelope=out, today=today(), epoch=card.epoch
                    )
            except store.CaseGoneError:
                # Purged between the look-up and now: as if the code were unknown.
                errors.insert(0, ("code", _unknown_message()))
                return _render_followup(values, errors, dropped, 422)
    session["case"] = case_id.hex()
    return render_template("followup_sent.html", files=len(parsed.file_names))


# --- JavaScript on: the page encrypts, the server stores ciphertext ---------------------
#
# Bodies are binary: the login token (32 bytes), then for a submission or a follow-up the
# case id (16 bytes) and the envelope the page wrote. The CSRF token travels in the
# X-CSRFToken header. Answers are JSON: {"error": text} with 4xx, or what the page shows.

TOKEN_BYTES = 32
#: What the page reads of an envelope's start to check its header shape.
HEAD_BYTES = 8 + 32 + 16 * 81 + 24


class SealedError(Exception):
    """A sealed request refused: the status and the message the page shows."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers or {}


def _sealed_error(
    status: int, message: str, headers: dict[str, str] | None = None
) -> tuple[Response, int, dict[str, str]]:
    return jsonify(error=message), status, headers or {}


def _check_header_csrf() -> None:
    try:
        validate_csrf(request.headers.get("X-CSRFToken"))
    except ValidationError as error:
        drain(request.stream, state().config.limits.discard_cap_bytes)
        raise SealedError(
            400, _("Your session had expired, so nothing was sent. Reload the page and send again.")
        ) from error


def _malformed() -> SealedError:
    return SealedError(
        400, _("What the page sent is not a valid encrypted record. Nothing was kept.")
    )


def _read_exactly(size: int) -> bytes:
    data = request.stream.read(size)
    if len(data) != size:
        raise _malformed()
    return data


def _read_sealed(out: Any, cap: int, *, with_case: bool) -> tuple[bytes, bytes, int]:
    """(login token, case id, envelope size): the body read into ``out``, checked for shape."""
    limits = state().config.limits
    prefix = TOKEN_BYTES + (store.CASE_ID_BYTES if with_case else 0)
    length = request.content_length
    if length is None:
        raise _malformed()
    if length > prefix + cap:
        drain(request.stream, limits.discard_cap_bytes)
        raise SealedError(
            413,
            _(
                "What you chose is larger than this site accepts: at most %(files)d files, "
                "%(size)s in total. Nothing was sent.",
                files=limits.max_files,
                size=human_size(limits.max_upload_bytes),
            ),
        )
    if _quota_reached(max(length - prefix, MIN_ENVELOPE_BYTES)):
        drain(request.stream, limits.discard_cap_bytes)
        raise SealedError(503, _("This mailbox is full. Nothing was kept."))
    token = _read_exactly(TOKEN_BYTES)
    case_id = _read_exactly(store.CASE_ID_BYTES) if with_case else b""
    remaining = length - prefix
    size = 0
    while remaining > 0:
        piece = request.stream.read(min(READ_BYTES, remaining))
        if not piece:
            raise _malformed()  # the upload stopped midway: nothing is stored
        out.write(piece)
        size += len(piece)
        remaining -= len(piece)
    return token, case_id, size


def _check_shape(out: Any, size: int, *, sealed: int, boxed: int, sender: bool) -> None:
    out.seek(0)
    head = out.read(HEAD_BYTES)
    out.seek(0)
    try:
        check_envelope_shape(head, size, sealed=sealed, boxed=boxed, sender=sender)
    except CryptoError as error:
        raise _malformed() from error


def _envelope_cap(card: OfficeCard) -> int:
    limits = state().config.limits
    slots = len(card.desks) + 1
    return max_envelope_size(limits.max_upload_bytes + FORM_ALLOWANCE, slots)


def _posted_card() -> OfficeCard:
    """The card the page encrypted to, named by its ``epoch`` (the current or the previous).

    A page without one was served before key epochs: it encrypted to the pinned card.
    An older epoch is refused: the page was loaded before a key change and the keys it
    holds are being retired.
    """
    text = request.args.get("epoch")
    known = _cards()
    epoch = state().config.office_card.epoch
    if text is not None:
        if not _is_number(text):
            drain(request.stream, state().config.limits.discard_cap_bytes)
            raise _malformed()
        epoch = int(text)
    try:
        return known.card_for(epoch, today())
    except epochs.EpochRefusedError as exc:
        drain(request.stream, state().config.limits.discard_cap_bytes)
        raise SealedError(
            409,
            _(
                "This page was loaded before the office changed its keys, so what you sent "
                "was not kept. Reload the page and send again."
            ),
        ) from exc


@blueprint.post("/report/sealed", defaults={"desk_id": None}, endpoint="report_sealed")
@blueprint.post("/report/<desk_id>/sealed", endpoint="report_sealed")
def report_sealed(desk_id: str | None) -> Any:
    """A submission the page encrypted: stored exactly as the server would have stored it."""
    st = state()
    _desk(desk_id)
    try:
        _check_header_csrf()
        card = _posted_card()
        with spooled_file() as out:
            token, case_id, size = _read_sealed(out, _envelope_cap(card), with_case=True)
            _check_shape(out, size, sealed=2, boxed=0, sender=False)
            pepper = st.peppers.current
            lookup = login_lookup(token, pepper)
            with db.writing(st.sessions) as db_session:
                if store.quota_reached(db_session, st.config.limits.storage_quota_bytes, size):
                    raise SealedError(503, _("This mailbox is full. Nothing was kept."))
                if store.case_exists(db_session, case_id):
                    raise _malformed()
                store.add_submission(
                    db_session,
                    case_id=case_id,
                    lookup=lookup,
                    pepper_tag=pepper_tag(pepper, lookup),
                    envelope=out,
                    today=today(),
                    epoch=card.epoch,
                )
    except SealedError as error:
        return _sealed_error(error.status, error.message, error.headers)
    except IntegrityError:
        # The same case id sent twice at once (PostgreSQL): the second is refused.
        return _sealed_error(400, _malformed().message)
    return jsonify(receipt=render_template("_receipt_main.html", code="", receipt_token=""))


def _find_by_token(token: bytes) -> bytes | None:
    """The case of a login token (the caller holds a look-up slot)."""
    st = state()
    return open_login(st.sessions, st.peppers.get(), token)


@contextmanager
def _sealed_slot() -> Iterator[None]:
    """A look-up slot for a sealed route; ``SealedError`` 503 (Retry-After) when busy."""
    try:
        with state().lookup_slots.hold():
            yield
    except LookupsBusyError as error:
        raise SealedError(503, busy_message(), BUSY_HEADERS) from error


@blueprint.post("/check-in/sealed")
def checkin_sealed() -> Any:
    """The encrypted conversation for a login token the page derived (it decrypts it)."""
    try:
        _check_header_csrf()
        if request.content_length != TOKEN_BYTES:
            raise _malformed()
        token = _read_exactly(TOKEN_BYTES)
        with _sealed_slot():
            return _sealed_conversation(token)
    except SealedError as error:
        return _sealed_error(error.status, error.message, error.headers)


def _sealed_conversation(token: bytes) -> Any:
    st = state()
    case_id = _find_by_token(token)
    if case_id is None:
        return _sealed_error(404, _unknown_message())
    session["case"] = case_id.hex()
    records = []
    with st.sessions() as db_session:
        for record in store.case_records(db_session, case_id):
            with spooled_file() as buffer:
                store.read_record(db_session, record.id, buffer)
                buffer.seek(0)
                data = base64.b64encode(buffer.read()).decode("ascii")
            records.append(
                {"kind": record.kind.value, "created": record.created.isoformat(), "data": data}
            )
    return jsonify(case_id=case_id.hex(), records=records)


@blueprint.post("/follow-up/sealed")
def followup_sealed() -> Any:
    """A follow-up the page encrypted with the reply key; the token says which case."""
    st = state()
    limits = st.config.limits
    try:
        _check_header_csrf()
        card = _posted_card()
        with spooled_file() as out:
            token, case_id, size = _read_sealed(out, _envelope_cap(card), with_case=True)
            _check_shape(out, size, sealed=1, boxed=len(card.desks), sender=True)
            with _sealed_slot():
                found = _find_by_token(token)
            if found != case_id:
                raise SealedError(404, _unknown_message())
            out.seek(0)
            try:
                with db.writing(st.sessions) as db_session:
                    if store.quota_reached(db_session, limits.storage_quota_bytes, size):
                        raise SealedError(503, _("This mailbox is full. Nothing was kept."))
                    # Takes the case's lock: a follow-up to one case waits for the other.
                    store.add_followup(
                        db_session, case_id=case_id, envelope=out, today=today(), epoch=card.epoch
                    )
            except store.CaseGoneError as exc:
                # Purged between the look-up and now: as if the token were unknown.
                raise SealedError(404, _unknown_message()) from exc
    except SealedError as error:
        return _sealed_error(error.status, error.message, error.headers)
    session["case"] = case_id.hex()
    return jsonify(sent=render_template("_followup_sent_main.html"))


__all__ = ["blueprint", "checkin_page"]
