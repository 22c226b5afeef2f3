"""The routes that work with JavaScript off: the server encrypts a report as it streams in and
shows the conversation only on the response to the page where the code was posted. Answering
and downloading a file from that page do not ask for the code again: the page carries a
short-lived visit token (whistle/submit/visit.py); nothing on the server, and no cookie, ever
holds the code or a key derived from it."""

import datetime
import hmac
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from flask import Response, render_template, request, session
from flask_babel import gettext as _
from flask_babel import refresh
from flask_wtf.csrf import validate_csrf
from wtforms.validators import ValidationError

from whistle.crypto import (
    CodeChecksumError,
    CodeFormatError,
    CryptoError,
    SignatureError,
    SourceKeys,
    code_master,
    derive_source_keys,
    format_code,
    generate_code,
    login_lookup,
    normalize_code,
    open_token,
    seal_token,
    source_keys_from_master,
)
from whistle.crypto.codes import MAX_INPUT_CHARS
from whistle.crypto.conversation import Position
from whistle.crypto.records import (
    Conversation,
    FollowupWriter,
    SubmissionWriter,
    form_document,
    open_as_source,
    open_submission_as_source,
)
from whistle.crypto.source_copy import FileTally, copy_document, open_copy, seal_copy
from whistle.submit import case_keys, db, store
from whistle.submit.bundles import mark_replies_read
from whistle.submit.case_status import case_status
from whistle.submit.code_errors import CodeProblem, describe
from whistle.submit.config import LANGUAGES
from whistle.submit.models import RecordKind
from whistle.submit.pepper import pepper_tag
from whistle.submit.slots import LookupsBusyError
from whistle.submit.upload import (
    ParsedForm,
    StagingSink,
    UploadTooLargeError,
    drain,
    multipart_boundary,
    parse_multipart,
)
from whistle.submit.views import common
from whistle.submit.views.common import (
    BUSY_HEADERS,
    FORM_ALLOWANCE,
    MIN_ENVELOPE_BYTES,
    ReportForm,
    blueprint,
    checkin_page,
    current_card,
    desk_or_404,
    find_case,
    full_page,
    is_number,
    key_changed_message,
    quota_reached,
    render_report,
    unknown_message,
)
from whistle.submit.visit import open_visit, seal_visit
from whistle.submit.web import (
    SubmitState,
    busy_message,
    current_language,
    message_page,
    spooled_file,
    state,
    too_large_page,
)

RECEIPT_PURPOSE = "receipt"


def _refuse_early(st: SubmitState) -> Any:
    """Too large or full before reading: drain the body, then say so (no reset mid-upload)."""
    limits = st.config.limits
    length = request.content_length
    if length is not None and length > limits.max_upload_bytes + FORM_ALLOWANCE:
        drain(request.stream, limits.discard_cap_bytes)
        return too_large_page()
    if quota_reached(max(length or 0, MIN_ENVELOPE_BYTES)):
        drain(request.stream, limits.discard_cap_bytes)
        return full_page()
    return None


def _check_csrf(parsed: ParsedForm) -> bool:
    try:
        validate_csrf(parsed.fields.get("csrf_token"))
    except ValidationError:
        return False
    return True


#: The longest "when you can meet" text.
MAX_AVAILABILITY_CHARS = 500


def _choices(
    parsed: ParsedForm, form: ReportForm, identification: list[dict[str, str]]
) -> dict[str, Any]:
    """Anonymous or identified, the category, the meeting request: the form document's
    last keys (``records.form_document``); errors into form. js/page.js checks the same."""
    lang = current_language()
    choice = parsed.fields.get("identified", "anonymous")
    form.values["identified"] = choice
    if choice not in ("anonymous", "identified"):
        form.errors.append(
            ("identified-anonymous", _("Choose to report anonymously or to give your identity."))
        )
    elif choice == "anonymous" and identification:
        form.errors.append(
            (
                "identified-anonymous",
                _(
                    "You chose to report anonymously but filled in your identity: clear those "
                    "fields, or choose to give your identity."
                ),
            )
        )
    elif choice == "identified" and not identification:
        form.errors.append(
            (
                "identified-identified",
                _(
                    "You chose to give your identity: fill in at least one of its fields, or "
                    "choose to report anonymously."
                ),
            )
        )
    key = parsed.fields.get("category", "").strip()
    form.values["category"] = key
    chosen = state().questionnaire.category(key) if key else None
    if key and chosen is None:
        form.errors.append(("category", _("Choose one of the categories offered, or none.")))
    meeting = parsed.fields.get("meeting") == "yes"
    availability = " ".join(parsed.fields.get("availability", "").split())
    form.values["meeting"] = "yes" if meeting else ""
    form.values["availability"] = availability
    if availability and not meeting:
        form.errors.append(
            (
                "availability",
                _(
                    "You wrote when you can meet: tick the box to ask for a meeting, or clear "
                    "that text."
                ),
            )
        )
    elif len(availability) > MAX_AVAILABILITY_CHARS:
        form.errors.append(
            (
                "availability",
                _(
                    "%(label)s: at most %(count)d characters, please.",
                    label=_("When you can meet"),
                    count=MAX_AVAILABILITY_CHARS,
                ),
            )
        )
    return {
        "identified": choice == "identified",
        "category": {"key": chosen.key, "label": chosen.label[lang]} if chosen else None,
        "meeting": meeting,
        "availability": availability,
    }


def _validate_report(
    parsed: ParsedForm, form: ReportForm
) -> tuple[list[dict[str, str]], list[dict[str, str]], dict[str, Any]]:
    """Answers, identification (with labels in the source's language) and the choices;
    errors into form."""
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
    choices = _choices(parsed, form, identification)
    form.values["accept"] = parsed.fields.get("accept", "")
    if parsed.fields.get("accept") != "yes":
        form.errors.append(("accept", _("Please accept the rules of use to send the report.")))
    return answers, identification, choices


@blueprint.post("/report", defaults={"desk_id": None}, endpoint="report_post")
@blueprint.post("/report/<desk_id>", endpoint="report_post")
def report_post(desk_id: str | None) -> Any:
    st = state()
    desk = desk_or_404(desk_id)
    refused = _refuse_early(st)
    if refused is not None:
        return refused
    boundary = multipart_boundary(request.content_type)
    card = current_card()
    code = generate_code()
    keys = derive_source_keys(code, st.config.install_salt)
    case_id = store.new_case_id()
    with spooled_file() as out:
        writer = SubmissionWriter(
            out,
            desk_key=desk.public_key,
            custodian_key=card.custodian_key,
            reply_public_key=keys.reply_public_key,
            source_signing_key=keys.signing_public_key,
            case_id=case_id,
        )
        tally = FileTally(writer)
        try:
            parsed = parse_multipart(
                request.stream,
                boundary,
                tally,
                max_files=st.config.limits.max_files,
                max_file_bytes=st.config.limits.max_upload_bytes,
            )
        except UploadTooLargeError:
            drain(request.stream, st.config.limits.discard_cap_bytes)
            return too_large_page()
        form = ReportForm(files_dropped=bool(parsed.file_names))
        answers, identification, choices = _validate_report(parsed, form)
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
            return render_report(desk, form, 400)
        switch = parsed.fields.get("switch_language", "")
        if switch in LANGUAGES:
            # The form's language switch: the answers again in the other language, nothing kept.
            session["lang"] = switch
            refresh()
            return render_report(
                desk, ReportForm(values=form.values, files_dropped=form.files_dropped)
            )
        if form.errors:
            return render_report(desk, form, 422)
        document = form_document(current_language(), desk.id, answers, **choices)
        writer.add_form(document)
        writer.add_identification(identification)
        size = writer.finish()
        out.seek(0)
        # The source's own copy, sealed here as the page would seal it (JavaScript on).
        copy = seal_copy(
            copy_document("submission", files=tally.files, form=document),
            keys.copy_public_key,
            case_id,
        )
        pepper = st.peppers.current
        lookup = login_lookup(keys.login_token, pepper)
        try:
            with db.writing(st.sessions) as db_session:
                stored = store.receive_submission(
                    db_session,
                    quota=st.config.limits.storage_quota_bytes,
                    case_id=case_id,
                    lookup=lookup,
                    pepper_tag=pepper_tag(pepper, lookup),
                    envelope=out,
                    size=size + len(copy),
                    today=common.today(),
                    epoch=card.epoch,
                )
                store.add_copy(
                    db_session,
                    case_id=case_id,
                    position=stored.position,
                    data=copy,
                    today=common.today(),
                )
        except store.MailboxFullError:
            return full_page()
    return _render_receipt(code)


#: How long the receipt page can show the code again (the source is on that page now).
RECEIPT_SECONDS = 3600


def _render_receipt(code: str, error: str | None = None) -> tuple[str, int]:
    # Bound to this browser's session: posted from anywhere else it shows nothing.
    sid = session.setdefault("sid", secrets.token_hex(16))
    value = f"{int(time.time()) + RECEIPT_SECONDS}:{sid}:{code}".encode("ascii")
    token = seal_token(state().config.session_keys[0], value, RECEIPT_PURPOSE)
    return (
        render_template("receipt.html", code=format_code(code), receipt_token=token, error=error),
        200 if error is None else 422,
    )


def _receipt_code(token: str) -> str | None:
    try:
        value = open_token(list(state().config.session_keys), token, RECEIPT_PURPOSE)
        expires, sid, code = value.decode("ascii").split(":", 2)
    except (CryptoError, UnicodeDecodeError, ValueError):
        return None
    if not is_number(expires) or int(expires) < time.time():
        return None
    if not hmac.compare_digest(sid, str(session.get("sid", ""))):
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
    lang = request.form.get("lang")
    if code is not None and lang in LANGUAGES:
        # The language switch of the receipt page: the same code, in the other language.
        session["lang"] = lang
        refresh()
        return _render_receipt(code)
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


@dataclass
class Entry:
    kind: str
    created: datetime.date
    record_id: str = ""
    text: str = ""
    fields: list[dict[str, str]] = field(default_factory=list)
    files: list[tuple[str, int]] = field(default_factory=list)
    unreadable: bool = False
    #: A reply whose signature does not verify with the pinned office key: not shown.
    forged: bool = False
    #: Protocol 2: signed, and numbered in its direction; protocol 1 records are neither.
    signed: bool = False
    sequence: int | None = None
    #: Shown from the source's own copy: the record itself was collected by the office.
    copy: bool = False
    position: int = 0


@dataclass
class CaseView:
    """A case as its source sees it: the entries, and what the numbering says is missing."""

    entries: list[Entry]
    missing_replies: list[int]
    signed_case: bool
    #: The highest reply number read (the next follow-up says so: ``seen``).
    replies_seen: int
    #: How many copies of what the source sent the server keeps for them.
    copies: int = 0


def _derive_and_find(master: bytes) -> tuple[SourceKeys, bytes | None]:
    """Derivation and lookup, the same work for every well-formed code, known or not.

    The caller holds a look-up slot (whistle/submit/slots.py).
    """
    keys = source_keys_from_master(master)
    return keys, find_case(keys.login_token)


def _lookup(master: bytes) -> tuple[SourceKeys, bytes | None]:
    """``_derive_and_find`` holding a look-up slot (``LookupsBusyError`` when none is free)."""
    with state().lookup_slots.hold():
        return _derive_and_find(master)


def _sid() -> str:
    return str(session.get("sid", ""))


def _visit_token(master: bytes) -> str:
    """The token that stands for the code on the page this check-in shows (visit.py)."""
    sid = session.setdefault("sid", secrets.token_hex(16))
    return seal_visit(master, sid, state().config.session_keys[0])


def _source_master(fields: Any) -> tuple[bytes | None, CodeProblem | None, str]:
    """(m, None, visit token) from a live visit token or else the typed code; (None, problem,
    "") when neither stands for a code. Decided before any lookup."""
    token = fields.get("visit", "")
    if token:
        master = open_visit(token, _sid(), list(state().config.session_keys))
        if master is not None:
            return master, None, token
        if not fields.get("code", ""):
            return None, CodeProblem(_visit_expired_message()), ""
    code, problem = _code_error(fields.get("code", ""))
    if code is None:
        return None, problem, ""
    return code_master(code, state().config.install_salt), None, ""


def _visit_expired_message() -> str:
    return _(
        "This page was open too long, so it no longer stands for your code. "
        "Enter your code to go on."
    )


def _busy_checkin_page() -> tuple[str, int, dict[str, str]]:
    """The check-in form again, saying the site is busy (503, Retry-After)."""
    page, status = checkin_page(error=busy_message(), status=503)
    return page, status, BUSY_HEADERS


def _office_key() -> bytes:
    """The office signing key pinned in the server's configuration (never its database)."""
    return state().config.office_card.signing_key


def _open_record(
    data: bytes, kind: str, keys: SourceKeys, case_id: bytes, signed_case: bool
) -> Conversation:
    return open_as_source(
        data,
        kind,
        keys.reply_secret_key,
        case_id,
        office_key=_office_key(),
        source_signing_key=keys.signing_public_key,
        signed_case=signed_case,
    )


def _open_case(keys: SourceKeys, case_id: bytes, *, replies_only: bool = False) -> CaseView:
    """Every record of the case opened and checked (replies against the pinned office key).

    Whether the case is a protocol 2 one comes from its submission when the server still
    holds it, else from the case's login row (this server wrote both).
    """
    st = state()
    entries: list[Entry] = []
    with st.sessions() as db_session:
        signed_case = store.case_hints(db_session, case_id).protocol >= 2
        for record in store.case_records(db_session, case_id):
            if replies_only and record.kind != RecordKind.REPLY:
                continue
            entry = Entry(
                kind=record.kind.value,
                created=record.created,
                record_id=record.id,
                position=record.position,
            )
            with spooled_file() as buffer:
                store.read_record(db_session, record.id, buffer)
                buffer.seek(0)
                try:
                    if record.kind == RecordKind.SUBMISSION:
                        opened = open_submission_as_source(buffer, keys.reply_secret_key, case_id)
                        signed_case = opened.source_signing_key is not None
                        fields = opened.form.get("fields", [])
                        entry.fields = [
                            {"label": str(f.get("label", "")), "value": str(f.get("value", ""))}
                            for f in fields
                            if isinstance(f, dict)
                        ]
                        entry.files = opened.files
                    else:
                        message = _open_record(
                            buffer.read(), record.kind.value, keys, case_id, signed_case
                        )
                        entry.text = message.message
                        entry.files = [(p.name, len(p.content)) for p in message.files]
                        entry.signed = message.signed
                        if message.position is not None:
                            entry.sequence = message.position.sequence
                except SignatureError:
                    entry.forged = True
                except CryptoError:
                    entry.unreadable = True
            entries.append(entry)
        copies = [] if replies_only else store.case_copies(db_session, case_id)
        held = {e.position for e in entries}
        entries.extend(_copy_entry(c, keys, case_id) for c in copies if c.position not in held)
    entries.sort(key=lambda e: e.position)
    numbers = {e.sequence for e in entries if e.kind == "reply" and e.sequence is not None}
    missing = sorted(set(range(1, max(numbers, default=0) + 1)) - numbers)
    return CaseView(entries, missing, signed_case, max(numbers, default=0), len(copies))


def _copy_entry(copy: store.StoredCopy, keys: SourceKeys, case_id: bytes) -> Entry:
    """What the source sent, from their copy, in place of a record the office collected."""
    entry = Entry(kind="copy", created=copy.created, copy=True, position=copy.position)
    try:
        opened = open_copy(copy.data, keys.copy_secret_key, case_id)
    except CryptoError:
        entry.unreadable = True
        return entry
    entry.kind = opened.kind
    entry.fields = opened.fields
    entry.text = opened.message
    entry.files = opened.files
    return entry


def _conversation(keys: SourceKeys, case_id: bytes) -> CaseView:
    view = _open_case(keys, case_id)
    read = [
        e.record_id for e in view.entries if e.kind == "reply" and not (e.unreadable or e.forged)
    ]
    if read:
        # A write of its own, after the reads (SQLite: BEGIN IMMEDIATE; see db.writing).
        with db.writing(state().sessions) as db_session:
            mark_replies_read(db_session, read, common.today())
    return view


def _code_error(text: str) -> tuple[str | None, CodeProblem | None]:
    """(canonical code, None) or (None, what is wrong): decided before any lookup."""
    try:
        return normalize_code(text), None
    except (CodeChecksumError, CodeFormatError) as error:
        return None, describe(error, text)


@blueprint.post("/check-in/file")
def reply_file() -> Any:
    """A file the office attached to a reply; the code is asked for again (nothing keeps it)."""
    return _with_code(_reply_file_answer)


def _reply_file_answer(master: bytes, typed: str) -> Any:
    keys, case_id = _derive_and_find(master)
    if case_id is None:
        return checkin_page(error=unknown_message(), status=422, typed=typed)
    record_id, _sep, index_text = request.form.get("file", "").partition(":")
    st = state()
    with st.sessions() as db_session:
        records = {r.id: r for r in store.case_records(db_session, case_id)}
        record = records.get(record_id)
        if record is None or record.kind != RecordKind.REPLY or not is_number(index_text):
            return checkin_page(error=_("Choose one of the files the office sent."), status=422)
        with spooled_file() as buffer:
            store.read_record(db_session, record.id, buffer)
            buffer.seek(0)
            signed_case = store.case_hints(db_session, case_id).protocol >= 2
            try:
                message = _open_record(buffer.read(), "reply", keys, case_id, signed_case)
            except CryptoError:
                # Forged, altered or damaged: no file of it is handed out.
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


def _with_code(answer: Callable[[bytes, str], Any]) -> Any:
    """The posted code (or visit token) checked, then ``answer(m, typed)`` holding a look-up
    slot: the slot covers the look-up and the page it leads to, the whole cost of a guess
    (busy: the 503 page). What was typed comes back in the field when it is refused."""
    typed = request.form.get("code", "")[:MAX_INPUT_CHARS]
    master, problem, _token = _source_master(request.form)
    if master is None:
        return checkin_page(problem=problem, status=422, typed=typed)
    try:
        with state().lookup_slots.hold():
            return answer(master, typed)
    except LookupsBusyError:
        return _busy_checkin_page()


@blueprint.post("/check-in/forget-copy")
def forget_copy() -> Any:
    """The source deletes their copy of what they sent (and wants none kept from now on)."""
    if request.form.get("forget") != "yes":
        return _with_code(_checkin_answer)  # the box unticked: the same page, nothing deleted
    return _with_code(_forget_answer)


def _forget_answer(master: bytes, typed: str) -> Any:
    keys, case_id = _derive_and_find(master)
    if case_id is None:
        return checkin_page(error=unknown_message(), status=422, typed=typed)
    with db.writing(state().sessions) as db_session:
        store.forget_copies(db_session, case_id, keep_none=True)
    return _conversation_page(master, keys, case_id, forgotten=True)


def _checkin_answer(master: bytes, typed: str) -> Any:
    keys, case_id = _derive_and_find(master)
    if case_id is None:
        return checkin_page(error=unknown_message(), status=422, typed=typed)
    return _conversation_page(master, keys, case_id)


def _conversation_page(
    master: bytes,
    keys: SourceKeys,
    case_id: bytes,
    *,
    forgotten: bool = False,
    message: str = "",
    files_dropped: bool = False,
) -> Any:
    view = _conversation(keys, case_id)
    reply_files = [
        (f"{entry.record_id}:{index}", name, size)
        for entry in view.entries
        if entry.kind == "reply" and not entry.forged
        for index, (name, size) in enumerate(entry.files)
    ]
    return render_template(
        "conversation.html",
        entries=view.entries,
        missing_replies=view.missing_replies,
        status=case_status(view.entries),
        reply_files=reply_files,
        followup={"visit": _visit_token(master), "message": message},
        files_dropped=files_dropped,
        copies=view.copies,
        forgotten=forgotten,
    )


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


def _followup_in_language(fields: Any, values: dict[str, str], files_dropped: bool) -> Any:
    """The conversation again, with ``values["message"]`` in its form; the follow-up form
    alone (keeping the message) when the visit token no longer stands for the code."""
    master, problem, _token = _source_master(fields)
    if master is None:
        if not fields.get("code", "") and not fields.get("visit", ""):
            # The form asking for the code, switched before one was typed: nothing is wrong.
            return _render_followup(values, [], files_dropped, 200)
        message = problem.message if problem else ""
        return _render_followup(values, [("code", message)], files_dropped, 422)
    try:
        with state().lookup_slots.hold():
            keys, case_id = _derive_and_find(master)
            if case_id is None:
                return _render_followup(values, [("code", unknown_message())], files_dropped, 422)
            return _conversation_page(
                master, keys, case_id, message=values["message"], files_dropped=files_dropped
            )
    except LookupsBusyError:
        page, status = _render_followup(values, [("", busy_message())], files_dropped, 503)
        return page, status, BUSY_HEADERS


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
        values = {"message": message, "code": parsed.fields.get("code", "")[:MAX_INPUT_CHARS]}
        errors: list[tuple[str, str]] = []
        dropped = bool(parsed.file_names)
        if not _check_csrf(parsed):
            errors.append(
                ("", _("Your session had expired, so the message was not sent. Please send again."))
            )
            return _render_followup(values, errors, dropped, 400)
        switch = parsed.fields.get("switch_language", "")
        if switch in LANGUAGES:
            # The conversation page's language switch: the same page in the other language,
            # with the message being written; nothing sent, nothing kept.
            session["lang"] = switch
            refresh()
            return _followup_in_language(parsed.fields, values, dropped)
        master, code_problem, visit = _source_master(parsed.fields)
        if visit:
            values["visit"] = visit
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
        if master is None:
            errors.insert(0, ("code", code_problem.message if code_problem else ""))
        else:
            try:
                keys, case_id = _lookup(master)
            except LookupsBusyError:
                # Nothing looked up, nothing stored; the message stays in the form.
                errors.insert(0, ("", busy_message()))
                page, status = _render_followup(values, errors, dropped, 503)
                return page, status, BUSY_HEADERS
            if case_id is None:
                errors.insert(0, ("code", unknown_message()))
            elif "visit" not in values:
                # The code was right: it is not asked for again if something else was wrong.
                values["visit"] = _visit_token(master)
        if errors or keys is None or case_id is None:
            return _render_followup(values, errors, dropped, 422)
        card = current_card()
        signing: dict[str, Any] = {}
        try:
            replies = _open_case(keys, case_id, replies_only=True)
            with st.sessions() as db_session:
                hints = store.case_hints(db_session, case_id)
                # The case's key alone once the office announced it (docs/protocol.md §17);
                # one stored that does not verify refuses the follow-up (CaseKeyUnverifiableError).
                announced = case_keys.sealing_key(
                    db_session, case_id, office_signing_key=_office_key()
                )
        except store.CaseGoneError:
            errors.insert(0, ("code", unknown_message()))
            return _render_followup(values, errors, dropped, 422)
        if replies.signed_case:
            position = Position(hints.next_followup, replies.replies_seen)
            signing = {"signing_seed": keys.signing_seed, "position": position}
        with spooled_file() as out:
            writer = FollowupWriter(
                out,
                message=message,
                reply_secret_key=keys.reply_secret_key,
                office_keys=(
                    [announced.public_key]
                    if announced is not None
                    else [d.public_key for d in card.desks]
                ),
                case_id=case_id,
                **signing,
            )
            tally = FileTally(writer)
            staging.replay(tally)
            size = writer.finish()
            out.seek(0)
            copy = (
                seal_copy(
                    copy_document("followup", files=tally.files, message=message),
                    keys.copy_public_key,
                    case_id,
                )
                if hints.keep_copies
                else b""
            )
            try:
                with db.writing(st.sessions) as db_session:
                    stored = store.receive_followup(
                        db_session,
                        quota=limits.storage_quota_bytes,
                        case_id=case_id,
                        envelope=out,
                        size=size + len(copy),
                        today=common.today(),
                        epoch=card.epoch,
                        case_key=announced.public_key if announced else None,
                    )
                    if copy:  # add_copy checks again, under the case's lock
                        store.add_copy(
                            db_session,
                            case_id=case_id,
                            position=stored.position,
                            data=copy,
                            today=common.today(),
                        )
            except store.MailboxFullError:
                return full_page()
            except store.CaseGoneError:
                # Purged between the look-up and now: as if the code were unknown.
                errors.insert(0, ("code", unknown_message()))
                return _render_followup(values, errors, dropped, 422)
            except store.CaseKeyChangedError:
                # The office's new case key arrived while this one was being sealed.
                errors.insert(0, ("", key_changed_message()))
                return _render_followup(values, errors, dropped, 409)
    return render_template("followup_sent.html", files=len(parsed.file_names))
