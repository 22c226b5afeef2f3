"""The routes for JavaScript on: the page encrypts, the server stores ciphertext.

Bodies are binary: the login token (32 bytes), then for a submission or a follow-up the
case id (16 bytes), the source's sealed copy when the URL says its size (``copy=N``; pages
served before copies send none), and the envelope the page wrote. The CSRF token travels in the
X-CSRFToken header. Answers are JSON: {"error": text, "reason": word} with 4xx or 503 (the
page says each reason in its own words, in the language it shows: js/page.js), or what the page
shows.
"""

import base64
import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from flask import Response, jsonify, render_template, request
from flask_babel import force_locale
from flask_babel import gettext as _
from flask_wtf.csrf import validate_csrf
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from wtforms.validators import ValidationError

from whistle.crypto import (
    CryptoError,
    OfficeCard,
    check_envelope_shape,
    login_lookup,
    max_envelope_size,
)
from whistle.crypto.source_copy import RECORD_TYPE
from whistle.errors import WhistleError
from whistle.submit import case_keys, db, epochs, store
from whistle.submit.bundles import mark_replies_read
from whistle.submit.config import LANGUAGES
from whistle.submit.models import RecordKind
from whistle.submit.pepper import pepper_tag
from whistle.submit.slots import LookupsBusyError
from whistle.submit.upload import READ_BYTES, drain
from whistle.submit.views import common
from whistle.submit.views.common import (
    BUSY_HEADERS,
    FORM_ALLOWANCE,
    MIN_ENVELOPE_BYTES,
    blueprint,
    current_cards,
    desk_or_404,
    find_case,
    is_number,
    key_changed_message,
    quota_reached,
    unknown_message,
)
from whistle.submit.web import busy_message, human_size, spooled_file, state

TOKEN_BYTES = 32


#: What the page reads of an envelope's start to check its header shape.
HEAD_BYTES = 8 + 32 + 16 * 81 + 24

#: The largest source's copy taken: a form (at most 256 KiB of JSON), a message and the names
#: of the files fit well inside.
COPY_CAP = max_envelope_size(FORM_ALLOWANCE, 1)


class SealedError(WhistleError):
    """A sealed request refused: the status, the reason the page names it by ("expired",
    "malformed", "too-large", "full", "keys-changed", "case-key-changed", "case-key-malformed",
    "unknown-code", "busy") and the message."""

    def __init__(
        self, status: int, reason: str, message: str, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.reason = reason
        self.message = message
        self.headers = headers or {}


def _sealed_error(error: SealedError) -> tuple[Response, int, dict[str, str]]:
    return jsonify(error=error.message, reason=error.reason), error.status, error.headers


def _full() -> SealedError:
    return SealedError(503, "full", _("This mailbox is full. Nothing was kept."))


def _unknown() -> SealedError:
    return SealedError(404, "unknown-code", unknown_message())


def _check_header_csrf() -> None:
    try:
        validate_csrf(request.headers.get("X-CSRFToken"))
    except ValidationError as error:
        drain(request.stream, state().config.limits.discard_cap_bytes)
        raise SealedError(
            400,
            "expired",
            _("Your session had expired, so nothing was sent. Reload the page and send again."),
        ) from error


def _malformed() -> SealedError:
    return SealedError(
        400, "malformed", _("What the page sent is not a valid encrypted record. Nothing was kept.")
    )


def _read_exactly(size: int) -> bytes:
    data = request.stream.read(size)
    if len(data) != size:
        raise _malformed()
    return data


def _login_token_body() -> bytes:
    """A body that is a login token and nothing else (check-in, forgetting the copy)."""
    if request.content_length != TOKEN_BYTES:
        raise _malformed()
    return _read_exactly(TOKEN_BYTES)


def _copy_size() -> int:
    """The size of the source's copy the URL announces (0: none)."""
    text = request.args.get("copy", "0")
    if not is_number(text) or int(text) > COPY_CAP:
        drain(request.stream, state().config.limits.discard_cap_bytes)
        raise _malformed()
    return int(text)


def _read_copy(size: int) -> bytes:
    """The source's copy, read and checked for shape: sealed to one key, padded (b"": none)."""
    if not size:
        return b""
    copy = _read_exactly(size)
    try:
        check_envelope_shape(copy, size, sealed=1, boxed=0, sender=False)
    except CryptoError as error:
        drain(request.stream, state().config.limits.discard_cap_bytes)
        raise _malformed() from error
    return copy


def _read_sealed(
    out: Any, cap: int, *, with_case: bool, copy_size: int = 0
) -> tuple[bytes, bytes, bytes, int]:
    """(login token, case id, source's copy, envelope size): the body read, the envelope into
    ``out``, both checked for shape."""
    limits = state().config.limits
    prefix = TOKEN_BYTES + (store.CASE_ID_BYTES if with_case else 0) + copy_size
    length = request.content_length
    if length is None:
        raise _malformed()
    if length > prefix + cap:
        drain(request.stream, limits.discard_cap_bytes)
        raise SealedError(
            413,
            "too-large",
            _(
                "What you chose is larger than this site accepts: at most %(files)d files, "
                "%(size)s in total. Nothing was sent.",
                files=limits.max_files,
                size=human_size(limits.max_upload_bytes),
            ),
        )
    if quota_reached(max(length - prefix, MIN_ENVELOPE_BYTES)):
        drain(request.stream, limits.discard_cap_bytes)
        raise _full()
    token = _read_exactly(TOKEN_BYTES)
    case_id = _read_exactly(store.CASE_ID_BYTES) if with_case else b""
    copy = _read_copy(copy_size)
    remaining = length - prefix
    size = 0
    while remaining > 0:
        piece = request.stream.read(min(READ_BYTES, remaining))
        if not piece:
            raise _malformed()  # the upload stopped midway: nothing is stored
        out.write(piece)
        size += len(piece)
        remaining -= len(piece)
    return token, case_id, copy, size


def _check_shape(out: Any, size: int, *, sealed: int, boxed: int, sender: bool) -> None:
    out.seek(0)
    head = out.read(HEAD_BYTES)
    out.seek(0)
    try:
        check_envelope_shape(head, size, sealed=sealed, boxed=boxed, sender=sender)
    except CryptoError as error:
        raise _malformed() from error


def _check_followup_shape(out: Any, size: int, office_keys: int) -> None:
    """A protocol 2 follow-up is sealed to the office's keys (every desk, or the case's key)
    and names no sender; a protocol 1 follow-up (a case opened before protocol 2) is boxed
    from the reply key."""
    try:
        _check_shape(out, size, sealed=office_keys + 1, boxed=0, sender=False)
    except SealedError:
        _check_shape(out, size, sealed=1, boxed=office_keys, sender=True)


def _posted_case_key() -> bytes | None:
    """The public case key the page sealed to (``case_key=`` its 64 lower-case hex characters,
    docs/protocol.md §17); None: to the desks."""
    text = request.args.get("case_key")
    if text is None:
        return None
    if not _CASE_KEY.fullmatch(text):
        drain(request.stream, state().config.limits.discard_cap_bytes)
        raise SealedError(
            400,
            "case-key-malformed",
            _("What the page sent is not a valid encrypted record. Nothing was kept."),
        )
    return bytes.fromhex(text)


_CASE_KEY = re.compile(r"[0-9a-f]{64}")


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
    known = current_cards()
    epoch = state().config.office_card.epoch
    if text is not None:
        if not is_number(text):
            drain(request.stream, state().config.limits.discard_cap_bytes)
            raise _malformed()
        epoch = int(text)
    try:
        return known.card_for(epoch, common.today())
    except epochs.EpochRefusedError as exc:
        drain(request.stream, state().config.limits.discard_cap_bytes)
        raise SealedError(
            409,
            "keys-changed",
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
    desk_or_404(desk_id)
    try:
        _check_header_csrf()
        card = _posted_card()
        copy_size = _copy_size()
        with spooled_file() as out:
            token, case_id, copy, size = _read_sealed(
                out, _envelope_cap(card), with_case=True, copy_size=copy_size
            )
            _check_shape(out, size, sealed=2, boxed=0, sender=False)
            pepper = st.peppers.current
            lookup = login_lookup(token, pepper)
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
                _keep_copy(db_session, case_id, stored.position, copy)
    except store.MailboxFullError:
        return _sealed_error(_full())
    except store.CaseExistsError:
        return _sealed_error(_malformed())
    except SealedError as error:
        return _sealed_error(error)
    except IntegrityError:
        # The same case id sent twice at once (PostgreSQL): the second is refused.
        return _sealed_error(_malformed())
    # The receipt (the plain path's) in each language, for the page to show with the code it
    # made and to re-show in another language: the code exists only in the page. A few KB
    # once, rather than in the weight of every form page.
    receipts = {}
    for lang in LANGUAGES:
        with force_locale(lang):
            receipts[lang] = render_template("_receipt_main.html", code="", receipt_token="")
    return jsonify(receipts=receipts)


def _keep_copy(db_session: Session, case_id: bytes, position: int, copy: bytes) -> None:
    if copy:
        store.add_copy(
            db_session, case_id=case_id, position=position, data=copy, today=common.today()
        )


@contextmanager
def _sealed_slot() -> Iterator[None]:
    """A look-up slot for a sealed route; ``SealedError`` 503 (Retry-After) when busy."""
    try:
        with state().lookup_slots.hold():
            yield
    except LookupsBusyError as error:
        raise SealedError(503, "busy", busy_message(), BUSY_HEADERS) from error


@blueprint.post("/check-in/sealed")
def checkin_sealed() -> Any:
    """The encrypted conversation for a login token the page derived (it decrypts it)."""
    try:
        _check_header_csrf()
        token = _login_token_body()
        with _sealed_slot():
            return _sealed_conversation(token)
    except SealedError as error:
        return _sealed_error(error)


def _sealed_conversation(token: bytes) -> Any:
    st = state()
    case_id = find_case(token)
    if case_id is None:
        return _sealed_error(_unknown())
    records: list[tuple[int, dict[str, str]]] = []
    delivered: list[str] = []
    with st.sessions() as db_session:
        try:
            hints = store.case_hints(db_session, case_id)
        except store.CaseGoneError:
            return _sealed_error(_unknown())
        announced = case_keys.stored(db_session, case_id)
        for record in store.case_records(db_session, case_id):
            with spooled_file() as buffer:
                store.read_record(db_session, record.id, buffer)
                buffer.seek(0)
                data = base64.b64encode(buffer.read()).decode("ascii")
            records.append(
                (
                    record.position,
                    {
                        "kind": record.kind.value,
                        "created": record.created.isoformat(),
                        "data": data,
                    },
                )
            )
            if record.kind == RecordKind.REPLY:
                delivered.append(record.id)
        # The source's copy of what the office collected, in its place (views/plain.py).
        held = {position for position, _record in records}
        copies = store.case_copies(db_session, case_id)
        records += [
            (
                copy.position,
                {
                    "kind": RECORD_TYPE,
                    "created": copy.created.isoformat(),
                    "data": base64.b64encode(copy.data).decode("ascii"),
                },
            )
            for copy in copies
            if copy.position not in held
        ]
    records.sort(key=lambda item: item[0])
    if delivered:
        # As the plain check-in does: the replies' read-expiry clock starts now (a write of
        # its own, after the reads; SQLite: BEGIN IMMEDIATE, see db.writing).
        with db.writing(st.sessions) as db_session:
            mark_replies_read(db_session, delivered, common.today())
    # The page checks replies and the case key against the pinned office key it was given
    # with the page (data-office-key), not against anything in this answer; protocol and
    # next_followup are hints (docs/protocol.md §7).
    return jsonify(
        case_id=case_id.hex(),
        records=[record for _position, record in records],
        protocol=hints.protocol,
        next_followup=hints.next_followup,
        copies=len(copies),
        keep_copies=hints.keep_copies,
        # The page verifies it with the card it checked and seals to it (docs/protocol.md §17).
        case_key=(base64.b64encode(announced.announcement).decode("ascii") if announced else None),
    )


@blueprint.post("/check-in/sealed/forget-copy")
def forget_copy_sealed() -> Any:
    """The source deletes their copy (JavaScript on): the login token says which case."""
    try:
        _check_header_csrf()
        token = _login_token_body()
        with _sealed_slot():
            case_id = find_case(token)
        if case_id is None:
            raise _unknown()
        with db.writing(state().sessions) as db_session:
            store.forget_copies(db_session, case_id, keep_none=True)
    except SealedError as error:
        return _sealed_error(error)
    return jsonify(forgotten=True)


@blueprint.post("/follow-up/sealed")
def followup_sealed() -> Any:
    """A follow-up the page encrypted with the reply key; the token says which case."""
    st = state()
    limits = st.config.limits
    try:
        _check_header_csrf()
        card = _posted_card()
        sealed_to = _posted_case_key()
        copy_size = _copy_size()
        with spooled_file() as out:
            token, case_id, copy, size = _read_sealed(
                out, _envelope_cap(card), with_case=True, copy_size=copy_size
            )
            _check_followup_shape(out, size, 1 if sealed_to is not None else len(card.desks))
            with _sealed_slot():
                found = find_case(token)
            if found != case_id:
                raise _unknown()
            out.seek(0)
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
                        case_key=sealed_to,
                    )
                    # Dropped if the source deleted their copy (a page loaded before sends one).
                    _keep_copy(db_session, case_id, stored.position, copy)
            except store.MailboxFullError as exc:
                raise _full() from exc
            except store.CaseGoneError as exc:
                # Purged between the look-up and now: as if the token were unknown.
                raise _unknown() from exc
            except store.CaseKeyChangedError as exc:
                # Sealed to another key than the one held now, or to the desks once a
                # case key is held (docs/protocol.md §17): the page checks in again.
                raise SealedError(409, "case-key-changed", key_changed_message()) from exc
    except SealedError as error:
        return _sealed_error(error)
    # The page shows what the check-in page carries for this (_sealed_conversation.html).
    return jsonify(sent=True)
