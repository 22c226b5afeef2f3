"""The Responsable del Sistema's steps on a case (``models/step.py``) and the Responsable's
own designation.

    record_step           the person concerned informed or heard (art. 9.2.f), a measure
                          adopted, a referral (recipient, day, "must refer at once")
    disclose_to_third     the reporter's identity given to an authority (art. 33.3 ⚠): the
                          reporter is told beforehand, with the reasons, by a queued reply —
                          unless telling would jeopardise the investigation, an exception
                          recorded with its reason. Separate from the custodian's internal
                          opening (``cases.decide_disclosure``).
    designate_responsable the Responsable del Sistema and the day of appointment or removal;
                          the authority must be told within 10 working days (art. 8.3), and
                          the dashboard says so until ``responsable_notified`` is recorded.
"""

import json
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from whistle.crypto import CryptoError
from whistle.inbox import compartments, deadlines, sealing
from whistle.inbox.audit import record_case_event, record_event
from whistle.inbox.context import OfficerContext
from whistle.inbox.errors import CaseLockedError, StepRefusedError
from whistle.inbox.keyring import OfficeKeyring
from whistle.inbox.models import Case, Officer, Setting, Step
from whistle.inbox.workflow import check_reason, live_case

MAX_RECIPIENT_CHARS = 200
#: Steps an officer records directly (a disclosure goes through ``disclose_to_third``).
RECORDED = (
    "concerned-informed",
    "concerned-heard",
    "referral",
    "measure",
    "meeting-requested",
    "meeting-offered",
)
RESPONSABLE = "responsable"
#: Working days to notify the authority of an appointment or removal (art. 8.3).
NOTIFY_WORKING_DAYS = 10


def _recipient(text: str, required: bool) -> str | None:
    text = " ".join(text.split())
    if not text:
        if required:
            raise StepRefusedError("Name the recipient.", why="recipient")
        return None
    if len(text) > MAX_RECIPIENT_CHARS:
        raise StepRefusedError("The recipient's name is too long.", why="recipient")
    return text


def record_step(
    session: Session,
    keyring: OfficeKeyring,
    case_id: str,
    kind: str,
    *,
    day: date,
    note: str,
    ctx: OfficerContext,
    recipient: str = "",
    immediate: bool = False,
) -> Step:
    case = live_case(session, case_id)
    if kind not in RECORDED:
        raise StepRefusedError("Unknown kind of step.", why="kind")
    if day > ctx.today:
        raise StepRefusedError("A step is recorded once done: not a future day.", why="day")
    if day < case.received_day:
        raise StepRefusedError("The day is before the report was received.", why="day")
    note = check_reason(note, "this step")
    step = Step(
        case_id=case.id,
        officer_id=ctx.officer_id,
        at=ctx.now.replace(tzinfo=None),
        kind=kind,
        day=day,
        recipient=_recipient(recipient, kind == "referral"),
        immediate=immediate and kind == "referral",
        note=sealing.seal_text(
            compartments.case_public(session, case.id), sealing.DECISION, case.id, note
        ),
    )
    session.add(step)
    if kind == "meeting-requested":
        case.meeting_requested_day = day
        case.meeting_offered_day = None
    elif kind == "meeting-offered":
        if case.meeting_requested_day is None or day < case.meeting_requested_day:
            raise StepRefusedError("No meeting was requested before that day.", why="meeting")
        case.meeting_offered_day = day
    case.last_activity_day = max(case.last_activity_day, ctx.today)
    session.flush()
    record_case_event(session, ctx, "step-recorded", case.id, detail=kind)
    return step


def disclose_to_third(
    session: Session,
    keyring: OfficeKeyring,
    case_id: str,
    *,
    recipient: str,
    day: date,
    reasons: str,
    ctx: OfficerContext,
    exception: str = "",
) -> Step:
    """Record that the identity is (to be) given to ``recipient`` on ``day``. Unless an
    exception is recorded, the reporter is told first: the notice, with ``reasons``, is
    queued now, and the day of disclosure cannot be before it."""
    from whistle.inbox import compartments, replies

    case = live_case(session, case_id)
    name = _recipient(recipient, True)
    reasons = check_reason(reasons, "the disclosure")
    exception = exception.strip()
    if day < ctx.today and not exception:
        raise StepRefusedError(
            "The reporter must be told before the disclosure: choose today or a later day, or "
            "record why telling them would jeopardise the investigation.",
            why="not-told",
        )
    note = reasons if not exception else f"{reasons}\n\n{check_reason(exception, 'the exception')}"
    step = Step(
        case_id=case.id,
        officer_id=ctx.officer_id,
        at=ctx.now.replace(tzinfo=None),
        kind="third-party-disclosure",
        day=day,
        recipient=name,
        exception=bool(exception),
        reporter_told_day=None if exception else ctx.today,
        note=sealing.seal_text(
            compartments.case_public(session, case.id), sealing.DECISION, case.id, note
        ),
    )
    session.add(step)
    if not exception:
        language = replies.source_language(session, keyring, case.id)
        text = replies.template_text("third-party", language, ctx.default_language).format(
            recipient=name, reasons=reasons
        )
        draft = replies.save_draft(session, keyring, case.id, text, ctx=ctx, purpose="disclosure")
        replies.mark_ready(session, keyring, case.id, draft.id, ctx=ctx)
    session.flush()
    record_case_event(
        session,
        ctx,
        "identity-disclosed",
        case.id,
        detail="exception" if exception else "reporter told",
    )
    return step


@dataclass(frozen=True)
class StepView:
    kind: str
    day: date
    officer: str
    recipient: str | None
    immediate: bool
    reporter_told_day: date | None
    exception: bool
    note: str | None


def case_steps(session: Session, keyring: OfficeKeyring, case: Case) -> list[StepView]:
    names = {oid: name for oid, name in session.execute(select(Officer.id, Officer.name))}
    try:
        keys = compartments.case_secrets(session, keyring, case.id)
    except CaseLockedError:
        keys = []  # the steps are listed, their notes stay sealed
    found: list[StepView] = []
    for step in session.scalars(
        select(Step).where(Step.case_id == case.id).order_by(Step.day, Step.id)
    ):
        try:
            note: str | None = sealing.open_text(keys, sealing.DECISION, case.id, step.note)
        except (CryptoError, ValueError):
            note = None
        found.append(
            StepView(
                step.kind,
                step.day,
                names.get(step.officer_id, "?"),
                step.recipient,
                step.immediate,
                step.reporter_told_day,
                step.exception,
                note,
            )
        )
    return found


# The Responsable del Sistema ---------------------------------------------------------------


@dataclass(frozen=True)
class Responsable:
    name: str
    #: Appointed (or removed, when ``removed``) on this day.
    day: date
    removed: bool
    notified: date | None

    @property
    def notify_by(self) -> date:
        return deadlines.add_working_days(self.day, NOTIFY_WORKING_DAYS)


def responsable(session: Session) -> Responsable | None:
    row = session.get(Setting, RESPONSABLE)
    if row is None:
        return None
    raw = json.loads(row.value)
    return Responsable(
        raw["name"],
        date.fromisoformat(raw["day"]),
        bool(raw.get("removed")),
        date.fromisoformat(raw["notified"]) if raw.get("notified") else None,
    )


def _store(session: Session, value: Responsable) -> None:
    text = json.dumps(
        {
            "name": value.name,
            "day": value.day.isoformat(),
            "removed": value.removed,
            "notified": value.notified.isoformat() if value.notified else None,
        },
        ensure_ascii=False,
    )
    row = session.get(Setting, RESPONSABLE)
    if row is None:
        session.add(Setting(key=RESPONSABLE, value=text))
    else:
        row.value = text
    session.flush()


def designate_responsable(
    session: Session,
    name: str,
    day: date,
    *,
    removed: bool = False,
    officer_id: int | None,
    now: datetime,
    today: date,
) -> Responsable:
    """Record the appointment (or removal) of the Responsable del Sistema (art. 8)."""
    name = " ".join(name.split())
    if not 3 <= len(name) <= 120:
        raise StepRefusedError("Give the Responsable's name (3 to 120 characters).", why="name")
    if day > today:
        raise StepRefusedError("Record the appointment once it is made.", why="day")
    value = Responsable(name, day, removed, None)
    _store(session, value)
    record_event(
        session,
        now,
        "responsable-removed" if removed else "responsable-appointed",
        officer_id=officer_id,
        detail=day.isoformat(),
    )
    return value


def mark_responsable_notified(
    session: Session, day: date, *, officer_id: int | None, now: datetime, today: date
) -> Responsable:
    current = responsable(session)
    if current is None:
        raise StepRefusedError("No Responsable del Sistema is recorded yet.", why="none")
    if day > today or day < current.day:
        raise StepRefusedError(
            "The authority was told on or after the appointment, and not later than today.",
            why="day",
        )
    value = Responsable(current.name, current.day, current.removed, day)
    _store(session, value)
    record_event(
        session, now, "responsable-notified", officer_id=officer_id, detail=day.isoformat()
    )
    return value
