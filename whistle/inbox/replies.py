"""Replies to the source: compose, save a draft (sealed at rest), mark ready (queued outgoing).

A draft's text and files are one small envelope sealed to the storage key (type
``reply-draft``, bound to the case). Marking it ready hands the text and files to
``outgoing.queue_reply``, which encrypts them to the source's reply key and to the office (the
history stays readable) for the next outgoing bundle; the draft row stays, as ``ready``, for the
case's history.

Templates (the acknowledgement, the disclosure notice, the meeting record) are written in the
source's language (the submission form's ``language``), falling back to the office default.
"""

from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from whistle.crypto import CryptoError, PartKind, associated_data, open_bytes, seal, sealed_to
from whistle.inbox import sealing
from whistle.inbox.audit import record_event
from whistle.inbox.errors import (
    AlreadyAcknowledgedError,
    CaseNotFoundError,
    EmptyReplyError,
    InboxError,
    MeetingRecordRequiredError,
    ReplyAlreadyReadyError,
    ReplyAlreadySentError,
    ReplyFileNameError,
    ReplyFilesTooLargeError,
    ReplyTooLongError,
    TooManyReplyFilesError,
    UnknownReplyKindError,
)
from whistle.inbox.keyring import OfficeKeyring
from whistle.inbox.models import STATUS_ACKNOWLEDGED, STATUS_NEW, Case, Officer, Record, Reply
from whistle.inbox.models.reply import DRAFT, PURPOSES, READY
from whistle.inbox.store import record_meta
from whistle.inbox.workflow import _decide, live_case

MAX_REPLY_CHARS = 50_000
MAX_REPLY_FILES = 10
MAX_REPLY_BYTES = 20 * 1024 * 1024

TEMPLATES: dict[str, dict[str, str]] = {
    "acknowledgement": {
        "ca": (
            "Hem rebut la vostra comunicació i l'hem registrada. La tractarem amb "
            "confidencialitat. Us respondrem en un termini màxim de tres mesos des de la seva "
            "recepció. Podeu tornar amb el vostre codi per llegir les nostres respostes i "
            "afegir-hi informació. No us demanarem mai qui sou."
        ),
        "es": (
            "Hemos recibido su comunicación y la hemos registrado. La trataremos con "
            "confidencialidad. Le responderemos en un plazo máximo de tres meses desde su "
            "recepción. Puede volver con su código para leer nuestras respuestas y añadir "
            "información. Nunca le preguntaremos quién es."
        ),
        "en": (
            "We have received your report and registered it. We will treat it confidentially. "
            "We will give you feedback within three months of its receipt. You can come back "
            "with your code to read our replies and add information. We will never ask you "
            "who you are."
        ),
    },
    "disclosure": {
        "ca": (
            "Us informem que la persona custòdia de la identitat ha decidit, amb una raó "
            "registrada, accedir a les dades d'identificació que vau facilitar. Ho fem d'acord "
            "amb la llei, que exigeix informar-vos-en."
        ),
        "es": (
            "Le informamos de que la persona custodia de la identidad ha decidido, con una "
            "razón registrada, acceder a los datos de identificación que facilitó. Lo hacemos "
            "de acuerdo con la ley, que exige informarle."
        ),
        "en": (
            "We are letting you know that the identity custodian has decided, with a recorded "
            "reason, to open the identification details you gave us. The law requires us to "
            "tell you."
        ),
    },
    "meeting": {
        "ca": (
            "Adjuntem l'acta (o l'enregistrament) de la reunió o comunicació verbal. Si us "
            "plau, reviseu-la i responeu per confirmar-la o corregir-la."
        ),
        "es": (
            "Adjuntamos el acta (o la grabación) de la reunión o comunicación verbal. Por "
            "favor, revísela y responda para confirmarla o corregirla."
        ),
        "en": (
            "Attached are the minutes (or the recording) of the meeting or oral report. "
            "Please check them and reply to confirm or correct them."
        ),
    },
}


def template_text(name: str, language: str | None, default: str = "en") -> str:
    texts = TEMPLATES[name]
    return texts.get(language or "", texts.get(default, texts["en"]))


def source_language(session: Session, keyring: OfficeKeyring, case_id: str) -> str | None:
    submission = session.scalar(
        select(Record).where(Record.case_id == case_id, Record.kind == "submission")
    )
    if submission is None:
        return None
    try:
        form = record_meta(keyring, submission).get("form") or {}
    except (InboxError, CryptoError):
        return None
    language = form.get("language")
    return language if isinstance(language, str) else None


@dataclass(frozen=True)
class DraftContent:
    text: str
    files: list[tuple[str, bytes]]


def _seal_draft(keyring: OfficeKeyring, case_id: str, content: DraftContent) -> bytes:
    parts = [(PartKind.TEXT, "text", content.text.encode("utf-8"))]
    parts += [(PartKind.FILE, name, data) for name, data in content.files]
    return seal(
        parts,
        [sealed_to(keyring.storage_public)],
        associated_data(sealing.DRAFT, sealing.case_bytes(case_id)),
    )


def open_draft(keyring: OfficeKeyring, reply: Reply) -> DraftContent:
    message = open_bytes(
        reply.body,
        keyring.storage_secret,
        associated_data(sealing.DRAFT, sealing.case_bytes(reply.case_id)),
    )
    text = message.part("text").text
    files = [(p.name, p.content) for p in message.parts if p.kind == PartKind.FILE]
    return DraftContent(text, files)


def _check_content(text: str, files: list[tuple[str, bytes]]) -> str:
    text = text.strip()
    if not text:
        raise EmptyReplyError("Write the reply before saving it.")
    if len(text) > MAX_REPLY_CHARS:
        raise ReplyTooLongError(f"A reply has at most {MAX_REPLY_CHARS} characters.")
    if len(files) > MAX_REPLY_FILES:
        raise TooManyReplyFilesError(f"A reply carries at most {MAX_REPLY_FILES} files.")
    if sum(len(data) for _, data in files) > MAX_REPLY_BYTES:
        raise ReplyFilesTooLargeError("The files of a reply take at most 20 MiB together.")
    for name, _data in files:
        if not name or len(name) > 200 or "/" in name or "\\" in name:
            raise ReplyFileNameError("A file name has 1 to 200 characters and no slashes.")
    return text


def save_draft(
    session: Session,
    keyring: OfficeKeyring,
    case_id: str,
    text: str,
    *,
    officer_id: int,
    now: datetime,
    files: list[tuple[str, bytes]] | None = None,
    purpose: str = "reply",
    reply_id: int | None = None,
) -> Reply:
    """Create a draft, or replace the text (and files) of an existing one."""
    case = live_case(session, case_id)
    if purpose not in PURPOSES:
        raise UnknownReplyKindError("Unknown kind of reply.")
    files = list(files or [])
    if purpose == "meeting" and not files and reply_id is None:
        raise MeetingRecordRequiredError("Attach the recording or the minutes of the meeting.")
    text = _check_content(text, files)
    at = now.replace(tzinfo=None)
    if reply_id is None:
        reply = Reply(
            case_id=case.id,
            author_id=officer_id,
            created_at=at,
            updated_at=at,
            state=DRAFT,
            purpose=purpose,
            body=_seal_draft(keyring, case.id, DraftContent(text, files)),
        )
        session.add(reply)
    else:
        reply = get_reply(session, case.id, reply_id)
        if reply.state != DRAFT:
            raise ReplyAlreadySentError("This reply was already sent: it cannot change.")
        if not files:
            files = open_draft(keyring, reply).files
        reply.body = _seal_draft(keyring, case.id, DraftContent(text, files))
        reply.updated_at = at
    session.flush()
    record_event(
        session, now, "reply-drafted", officer_id=officer_id, case_id=case.id, detail=purpose
    )
    return reply


def get_reply(session: Session, case_id: str, reply_id: int) -> Reply:
    reply = session.get(Reply, reply_id)
    if reply is None or reply.case_id != case_id:
        raise CaseNotFoundError("No such reply.")
    return reply


def mark_ready(
    session: Session,
    keyring: OfficeKeyring,
    case_id: str,
    reply_id: int,
    *,
    officer_id: int,
    now: datetime,
    today: date,
    store_dir: Path | None = None,
) -> Reply:
    """Queue the draft for the next outgoing bundle; it cannot change afterwards."""
    from whistle.inbox import outgoing

    case = live_case(session, case_id)
    reply = get_reply(session, case.id, reply_id)
    if reply.state != DRAFT:
        raise ReplyAlreadyReadyError("This reply was already marked ready.")
    content = open_draft(keyring, reply)
    reply.outgoing_id = outgoing.queue_reply(
        session,
        keyring,
        case_id=case.id,
        message=content.text,
        files=content.files,
        now=now,
        store_dir=store_dir,
    )
    reply.state = READY
    reply.updated_at = now.replace(tzinfo=None)
    # Feedback is an answer about the report: a reply or a meeting record, after the
    # acknowledgement (not the acknowledgement itself, nor the notice of a disclosure).
    is_feedback = reply.purpose in ("reply", "meeting") and case.acknowledged_day is not None
    if is_feedback and case.feedback_day is None:
        case.feedback_day = today
    case.last_activity_day = max(case.last_activity_day, today)
    record_event(
        session, now, "reply-queued", officer_id=officer_id, case_id=case.id, detail=reply.purpose
    )
    return reply


def acknowledge(
    session: Session,
    keyring: OfficeKeyring,
    case_id: str,
    *,
    officer_id: int,
    now: datetime,
    today: date,
    default_language: str = "en",
    store_dir: Path | None = None,
) -> Reply:
    """One click: the acknowledgement reply in the source's language, queued; state moves on."""
    case = live_case(session, case_id)
    if case.acknowledged_day is not None:
        raise AlreadyAcknowledgedError(
            f"This case was already acknowledged on {case.acknowledged_day.isoformat()}."
        )
    language = source_language(session, keyring, case.id)
    text = template_text("acknowledgement", language, default_language)
    reply = save_draft(
        session, keyring, case.id, text, officer_id=officer_id, now=now, purpose="acknowledgement"
    )
    mark_ready(
        session,
        keyring,
        case.id,
        reply.id,
        officer_id=officer_id,
        now=now,
        today=today,
        store_dir=store_dir,
    )
    from_status = case.status
    case.acknowledged_day = today
    if from_status != STATUS_NEW:
        # Closed (inadmissible) before it was acknowledged: the acknowledgement still goes out
        # and meets its clock; the state stays.
        record_event(
            session, now, "acknowledged", officer_id=officer_id, case_id=case.id, detail=from_status
        )
        return reply
    case.status = STATUS_ACKNOWLEDGED
    _decide(
        session,
        keyring,
        case,
        "status",
        "Acknowledgement of receipt sent to the source.",
        officer_id=officer_id,
        now=now,
        from_status=from_status,
        to_status=STATUS_ACKNOWLEDGED,
    )
    record_event(
        session,
        now,
        "status-changed",
        officer_id=officer_id,
        case_id=case.id,
        detail=f"{from_status}->{STATUS_ACKNOWLEDGED}",
    )
    return reply


def notify_disclosure(
    session: Session,
    keyring: OfficeKeyring,
    case: Case,
    *,
    officer_id: int,
    now: datetime,
    today: date,
    default_language: str = "en",
    store_dir: Path | None = None,
) -> Reply:
    """The reply that tells the reporter their identification was opened (queued at once)."""
    language = source_language(session, keyring, case.id)
    text = template_text("disclosure", language, default_language)
    reply = save_draft(
        session, keyring, case.id, text, officer_id=officer_id, now=now, purpose="disclosure"
    )
    return mark_ready(
        session,
        keyring,
        case.id,
        reply.id,
        officer_id=officer_id,
        now=now,
        today=today,
        store_dir=store_dir,
    )


@dataclass(frozen=True)
class ReplyView:
    id: int
    author: str
    created_at: datetime
    updated_at: datetime
    state: str
    purpose: str
    text: str | None
    files: list[tuple[str, int]]


def replies(session: Session, keyring: OfficeKeyring, case_id: str) -> list[ReplyView]:
    names = {oid: name for oid, name in session.execute(select(Officer.id, Officer.name))}
    found: list[ReplyView] = []
    for reply in session.scalars(
        select(Reply).where(Reply.case_id == case_id).order_by(Reply.created_at, Reply.id)
    ):
        try:
            content = open_draft(keyring, reply)
            text: str | None = content.text
            files = [(name, len(data)) for name, data in content.files]
        except CryptoError:
            text, files = None, []
        found.append(
            ReplyView(
                reply.id,
                names.get(reply.author_id, "?"),
                reply.created_at,
                reply.updated_at,
                reply.state,
                reply.purpose,
                text,
                files,
            )
        )
    return found
