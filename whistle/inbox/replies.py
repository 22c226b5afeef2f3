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

from sqlalchemy import select
from sqlalchemy.orm import Session, object_session

from whistle.crypto import CryptoError, PartKind, associated_data, open_bytes, seal, sealed_to
from whistle.inbox import compartments, deadlines, sealing
from whistle.inbox.audit import record_case_event
from whistle.inbox.context import OfficerContext
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
from whistle.inbox.models import STATUS_ACKNOWLEDGED, STATUS_NEW, Case, Officer, Reply
from whistle.inbox.models.reply import DRAFT, PURPOSES, READY
from whistle.inbox.store import source_facts
from whistle.inbox.workflow import _decide, live_case

MAX_REPLY_CHARS = 50_000
MAX_REPLY_FILES = 10
MAX_REPLY_BYTES = 20 * 1024 * 1024

#: The reason the inbox records itself when an acknowledgement goes out (pages translate it).
ACKNOWLEDGEMENT_REASON = "Acknowledgement of receipt sent to the source."

TEMPLATES: dict[str, dict[str, str]] = {
    "acknowledgement": {
        "ca": (
            "Hem rebut la vostra comunicació i l'hem registrada. La tractarem amb "
            "confidencialitat. Us respondrem en un termini màxim de tres mesos des de la seva "
            "recepció; si el cas és especialment complex, el termini es pot ampliar una sola "
            "vegada tres mesos més, i us ho direm. Podeu tornar amb el vostre codi per llegir "
            "les nostres respostes, afegir-hi informació o demanar una reunió. No us demanarem "
            "mai qui sou. També podeu adreçar-vos a les autoritats externes que indica la "
            "pàgina «Canals externs» d'aquest web. Les vostres dades es tracten tal com diu "
            "l'avís de protecció de dades d'aquest web."
        ),
        "es": (
            "Hemos recibido su comunicación y la hemos registrado. La trataremos con "
            "confidencialidad. Le responderemos en un plazo máximo de tres meses desde su "
            "recepción; si el caso es especialmente complejo, el plazo puede ampliarse una "
            "sola vez tres meses más, y se lo diremos. Puede volver con su código para leer "
            "nuestras respuestas, añadir información o pedir una reunión. Nunca le "
            "preguntaremos quién es. También puede dirigirse a las autoridades externas que "
            "indica la página «Canales externos» de este sitio. Sus datos se tratan como "
            "indica el aviso de protección de datos de este sitio."
        ),
        "en": (
            "We have received your report and registered it. We will treat it confidentially. "
            "We will give you feedback within three months of its receipt; if the case is "
            "especially complex, this may be extended once by three more months, and we will "
            "tell you. You can come back with your code to read our replies, add information "
            "or ask for a meeting. We will never ask you who you are. You can also turn to "
            'the external authorities listed on this site\'s "External channels" page. Your '
            "data is handled as this site's data-protection notice says."
        ),
    },
    "disclosure": {
        "ca": (
            "Us informem que la persona encarregada de custodiar la identitat ha accedit, amb "
            "un motiu que consta registrat, a les dades d'identificació que vau facilitar. Us "
            "n'informem tal com preveu la normativa de protecció de les persones informants. "
            "Si teniu cap pregunta, podeu respondre aquest missatge."
        ),
        "es": (
            "Le informamos de que la persona encargada de custodiar la identidad ha accedido, "
            "con un motivo que consta registrado, a los datos de identificación que facilitó. "
            "Se lo comunicamos tal como prevé la normativa de protección de las personas "
            "informantes. Si tiene alguna pregunta, puede responder a este mensaje."
        ),
        "en": (
            "We are letting you know that the person in charge of guarding identities has "
            "opened, with a recorded reason, the identification details you gave us. We tell "
            "you so as the rules protecting whistleblowers provide. If you have any question, "
            "you can answer this message."
        ),
    },
    "extension": {
        "ca": (
            "Us informem que, per la complexitat del cas, hem ampliat el termini per donar-vos "
            "resposta en tres mesos més, fins al {due}, tal com permet l'article 9.2.d de la "
            "Llei 2/2023. Podeu continuar aportant informació amb el vostre codi."
        ),
        "es": (
            "Le informamos de que, por la complejidad del caso, hemos ampliado el plazo para "
            "darle respuesta en tres meses más, hasta el {due}, como permite el artículo 9.2.d "
            "de la Ley 2/2023. Puede seguir aportando información con su código."
        ),
        "en": (
            "Because of the complexity of the case, we have extended the time to give you "
            "feedback by three more months, to {due}, as article 9.2.d of Ley 2/2023 allows. "
            "You can keep adding information with your code."
        ),
    },
    "third-party": {
        "ca": (
            "Us informem, abans de fer-ho, que la vostra identitat es comunicarà a {recipient}, "
            "d'acord amb l'article 33.3 de la Llei 2/2023. Motius: {reasons}"
        ),
        "es": (
            "Le informamos, antes de hacerlo, de que su identidad se comunicará a {recipient}, "
            "de acuerdo con el artículo 33.3 de la Ley 2/2023. Motivos: {reasons}"
        ),
        "en": (
            "We are telling you, before we do so, that your identity will be given to "
            "{recipient}, under article 33.3 of Ley 2/2023. Reasons: {reasons}"
        ),
    },
    "closing": {
        "ca": (
            "Hem acabat de tractar la vostra comunicació. Actuacions dutes a terme i "
            "fonaments: [descriviu-les]. Resultat: [resultat]. Us agraïm que ens ho hàgiu "
            "comunicat."
        ),
        "es": (
            "Hemos terminado de tramitar su comunicación. Actuaciones realizadas y "
            "fundamentos: [descríbalas]. Resultado: [resultado]. Le agradecemos que nos lo "
            "haya comunicado."
        ),
        "en": (
            "We have finished handling your report. Action taken and its grounds: [describe "
            "them]. Outcome: [outcome]. Thank you for reporting it to us."
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
    """The language the reporter wrote in (kept beside the case: the custodian's notice is
    written by someone outside its desk)."""
    case = session.get(Case, case_id)
    if case is None:
        return None
    try:
        language = source_facts(session, keyring, case).get("language")
    except (InboxError, CryptoError):
        return None
    return language if isinstance(language, str) else None


@dataclass(frozen=True)
class DraftContent:
    text: str
    files: list[tuple[str, bytes]]


def _seal_draft(session: Session, case_id: str, content: DraftContent) -> bytes:
    parts = [(PartKind.TEXT, "text", content.text.encode("utf-8"))]
    parts += [(PartKind.FILE, name, data) for name, data in content.files]
    return seal(
        parts,
        [sealed_to(compartments.case_public(session, case_id))],
        associated_data(sealing.DRAFT, sealing.case_bytes(case_id)),
    )


def open_draft(keyring: OfficeKeyring, reply: Reply) -> DraftContent:
    session = object_session(reply)
    if session is None:
        raise ValueError("the reply is not attached to a session")
    message = open_bytes(
        reply.body,
        compartments.case_secrets(session, keyring, reply.case_id),
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
    ctx: OfficerContext,
    files: list[tuple[str, bytes]] | None = None,
    purpose: str = "reply",
    reply_id: int | None = None,
    notice: bool = False,
) -> Reply:
    """Create a draft, or replace the text (and files) of an existing one.

    Writing needs the case's keys, except for a ``notice`` the office owes the reporter
    (the custodian's disclosure notice is written by someone outside the desk)."""
    case = live_case(session, case_id)
    if not notice:
        compartments.case_secrets(session, keyring, case.id)
    if purpose not in PURPOSES:
        raise UnknownReplyKindError("Unknown kind of reply.")
    files = list(files or [])
    if purpose == "meeting" and not files and reply_id is None:
        raise MeetingRecordRequiredError("Attach the recording or the minutes of the meeting.")
    text = _check_content(text, files)
    at = ctx.now.replace(tzinfo=None)
    if reply_id is None:
        reply = Reply(
            case_id=case.id,
            author_id=ctx.officer_id,
            created_at=at,
            updated_at=at,
            state=DRAFT,
            purpose=purpose,
            body=_seal_draft(session, case.id, DraftContent(text, files)),
        )
        session.add(reply)
    else:
        reply = get_reply(session, case.id, reply_id)
        if reply.state != DRAFT:
            raise ReplyAlreadySentError("This reply was already sent: it cannot change.")
        if not files:
            files = open_draft(keyring, reply).files
        reply.body = _seal_draft(session, case.id, DraftContent(text, files))
        reply.updated_at = at
    session.flush()
    record_case_event(session, ctx, "reply-drafted", case.id, detail=purpose)
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
    ctx: OfficerContext,
    content: DraftContent | None = None,
) -> Reply:
    """Queue the draft for the next outgoing bundle; it cannot change afterwards.

    ``content``: the draft's, when the caller has just written it (a notice)."""
    from whistle.inbox import outgoing

    case = live_case(session, case_id)
    reply = get_reply(session, case.id, reply_id)
    if reply.state != DRAFT:
        raise ReplyAlreadyReadyError("This reply was already marked ready.")
    if content is None:
        content = open_draft(keyring, reply)
    reply.outgoing_id = outgoing.queue_reply(
        session,
        keyring,
        case_id=case.id,
        message=content.text,
        files=content.files,
        now=ctx.now,
        store_dir=ctx.store_dir,
    )
    reply.state = READY
    reply.updated_at = ctx.now.replace(tzinfo=None)
    # Feedback is what the officer marks as such (the action taken and its grounds); a
    # question, a meeting record or a notice is not. The clock is met once it reaches the
    # server (``note_delivery``).
    if reply.purpose == "feedback" and case.feedback_day is None:
        case.feedback_day = ctx.today
    case.last_activity_day = max(case.last_activity_day, ctx.today)
    record_case_event(session, ctx, "reply-queued", case.id, detail=reply.purpose)
    return reply


def acknowledge(
    session: Session,
    keyring: OfficeKeyring,
    case_id: str,
    *,
    ctx: OfficerContext,
) -> Reply:
    """One click: the acknowledgement reply in the source's language, queued; state moves on."""
    case = live_case(session, case_id)
    if case.acknowledged_day is not None:
        raise AlreadyAcknowledgedError(
            f"This case was already acknowledged on {case.acknowledged_day.isoformat()}."
        )
    language = source_language(session, keyring, case.id)
    text = template_text("acknowledgement", language, ctx.default_language)
    reply = save_draft(session, keyring, case.id, text, ctx=ctx, purpose="acknowledgement")
    mark_ready(session, keyring, case.id, reply.id, ctx=ctx)
    from_status = case.status
    case.acknowledged_day = ctx.today
    if from_status != STATUS_NEW:
        # Closed (inadmissible) before it was acknowledged: the acknowledgement still goes out
        # and meets its clock; the state stays.
        record_case_event(session, ctx, "acknowledged", case.id, detail=from_status)
        return reply
    case.status = STATUS_ACKNOWLEDGED
    _decide(
        session,
        keyring,
        case,
        "status",
        ACKNOWLEDGEMENT_REASON,
        ctx=ctx,
        from_status=from_status,
        to_status=STATUS_ACKNOWLEDGED,
    )
    record_case_event(
        session, ctx, "status-changed", case.id, detail=f"{from_status}->{STATUS_ACKNOWLEDGED}"
    )
    return reply


def notify_disclosure(
    session: Session,
    keyring: OfficeKeyring,
    case: Case,
    *,
    ctx: OfficerContext,
) -> Reply:
    """The reply that tells the reporter their identification was opened (queued at once)."""
    language = source_language(session, keyring, case.id)
    text = template_text("disclosure", language, ctx.default_language)
    return _send_now(session, keyring, case, text, "disclosure", ctx)


def notify_extension(
    session: Session,
    keyring: OfficeKeyring,
    case: Case,
    *,
    ctx: OfficerContext,
) -> Reply:
    """Tell the source the feedback deadline was extended, and to when (queued at once)."""
    language = source_language(session, keyring, case.id)
    due = deadlines.feedback_due(case.received_day, True).isoformat()
    text = template_text("extension", language, ctx.default_language).format(due=due)
    return _send_now(session, keyring, case, text, "extension", ctx)


def _send_now(
    session: Session,
    keyring: OfficeKeyring,
    case: Case,
    text: str,
    purpose: str,
    ctx: OfficerContext,
) -> Reply:
    """A notice the office owes the reporter: saved and marked ready at once."""
    reply = save_draft(session, keyring, case.id, text, ctx=ctx, purpose=purpose, notice=True)
    return mark_ready(
        session, keyring, case.id, reply.id, ctx=ctx, content=DraftContent(text.strip(), [])
    )


def offer_closing_feedback(
    session: Session,
    keyring: OfficeKeyring,
    case: Case,
    *,
    ctx: OfficerContext,
) -> Reply | None:
    """On closing a case whose feedback was never given: a feedback draft from the template,
    for the officer to complete and send (None when feedback was given or a draft waits)."""
    if case.feedback_day is not None:
        return None
    waiting = session.scalar(
        select(Reply.id).where(
            Reply.case_id == case.id, Reply.purpose == "feedback", Reply.state == DRAFT
        )
    )
    if waiting is not None:
        return None
    language = source_language(session, keyring, case.id)
    text = template_text("closing", language, ctx.default_language)
    return save_draft(session, keyring, case.id, text, ctx=ctx, purpose="feedback")


def note_delivery(
    session: Session, record_id: str, *, delivered: date | None, read: date | None
) -> bool:
    """What the server reported of one of our replies: the day it applied it, the day the
    source first read it. Moves the case's clocks: any message of the office that reached
    the server acknowledges receipt; a feedback reply that reached it meets the feedback
    clock. Returns whether anything changed."""
    reply = session.scalar(select(Reply).where(Reply.outgoing_id == record_id))
    if reply is None:
        return False
    changed = False
    if delivered is not None and reply.delivered_day is None:
        reply.delivered_day, changed = delivered, True
    if read is not None and reply.read_day is None:
        reply.read_day, changed = read, True
    if not changed:
        return False
    case = session.get(Case, reply.case_id)
    if case is None:
        return True
    case.ack_delivered_day = _earliest(case.ack_delivered_day, reply.delivered_day)
    case.ack_read_day = _earliest(case.ack_read_day, reply.read_day)
    if reply.purpose == "feedback":
        case.feedback_delivered_day = _earliest(case.feedback_delivered_day, reply.delivered_day)
        case.feedback_read_day = _earliest(case.feedback_read_day, reply.read_day)
    return True


def _earliest(known: date | None, new: date | None) -> date | None:
    if known is None:
        return new
    return known if new is None else min(known, new)


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
    delivered_day: date | None = None
    read_day: date | None = None
    #: The record id the reply travels under (None while a draft).
    outgoing_id: str | None = None


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
                reply.delivered_day,
                reply.read_day,
                reply.outgoing_id,
            )
        )
    return found
