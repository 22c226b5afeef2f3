"""The case list and a case's detail, notes and disclosure decisions."""

from typing import Any

from flask import Blueprint, redirect, render_template, request, url_for
from flask_babel import gettext as _
from sqlalchemy import select
from werkzeug.wrappers import Response  # what redirect() returns; Flask's is a subclass

from whistle.inbox import (
    case_page,
    db,
    deadlines,
    epochs,
    naming,
    news,
    next_step,
    replies,
    settings,
    steps,
    workflow,
)
from whistle.inbox.cases import (
    MAX_NOTE_CHARS,
    MAX_REASON_CHARS,
    MIN_REASON_CHARS,
    SORTS,
    CaseFilters,
    add_note,
    case_detail,
    decide_disclosure,
    disclosure_decided,
    get_case,
    identification,
    list_cases,
)
from whistle.inbox.errors import CaseLockedError, NotCustodianError
from whistle.inbox.models import OUTCOMES, ROLE_CUSTODIAN, STATUSES, Case, Officer
from whistle.inbox.web import officer_context, page_desk_names, require_unlocked, state

blueprint = Blueprint("cases", __name__, url_prefix="/cases")


def _int(value: str | None, default: int | None) -> int | None:
    try:
        return int(value) if value else default
    except ValueError:
        return default


@blueprint.get("")
def index() -> str:
    unlocked = require_unlocked()
    inbox = state()
    args = request.args
    status = args.get("status") if args.get("status") in STATUSES else None
    sort = args.get("sort", "")
    if sort not in SORTS:
        sort = "received-desc"
    filters = CaseFilters(
        status=status,
        desk=(args.get("desk") or None),
        assignee=_int(args.get("assignee"), None),
        overdue=args.get("overdue") == "1",
        news=args.get("news") == "1",
        query=args.get("q", "")[:200],
        sort=sort,
        page=_int(args.get("page"), 1) or 1,
    )
    with db.transaction(inbox.sessions) as session:
        page = list_cases(
            session,
            unlocked.keyring,
            filters,
            today=inbox.config.today(),
            page_size=inbox.config.page_size,
            cache=inbox.keystore.plaintext_cache,
            officer_id=unlocked.officer_id,
        )
        desk_names = page_desk_names(session)
        desks = sorted(set(session.scalars(select(Case.desk_id))) | set(epochs.desk_ids(session)))
        officers = list(session.execute(select(Officer.id, Officer.name).order_by(Officer.name)))
    query = {k: v for k, v in args.items() if k != "page" and v}
    return render_template(
        "cases.html",
        page=page,
        filters=filters,
        desks=desks,
        desk_names=desk_names,
        officers=officers,
        statuses=STATUSES,
        sorts=SORTS,
        query=query,
    )


@blueprint.get("/<case_id>")
def detail(case_id: str) -> str:
    try:
        context = _case_context(case_id)
    except CaseLockedError:
        return _custodian_page(case_id, message=request.args.get("done"))
    return render_template("case.html", **context, message=request.args.get("done"))


def _custodian_page(case_id: str, **extra: Any) -> str:
    """A custodian outside the case's desk: the disclosure decision and nothing of the content.
    Anyone else whose keys do not open the case is told it is not found."""
    unlocked = require_unlocked()
    if ROLE_CUSTODIAN not in unlocked.roles or unlocked.custodian_keyring is None:
        raise CaseLockedError("Your keys do not open this case.")
    with db.transaction(state().sessions) as session:
        case = get_case(session, case_id)
        disclosed = disclosure_decided(session, case.id)
    return render_template("case_custodian.html", case=case, disclosed=disclosed, **extra)


def _case_context(case_id: str) -> dict[str, Any]:
    unlocked = require_unlocked()
    inbox = state()
    today = inbox.config.today()
    with db.transaction(inbox.sessions) as session:
        view = case_detail(session, unlocked.keyring, case_id, today=today)
        dates = workflow.case_dates(view.case)
        case_deadlines = deadlines.case_deadlines(dates, today)
        case_replies = replies.replies(session, unlocked.keyring, view.case.id)
        desk_names = page_desk_names(session)
        context = {
            "view": view,
            "is_custodian": ROLE_CUSTODIAN in unlocked.roles
            and unlocked.custodian_keyring is not None,
            "deadlines": case_deadlines,
            "deletion_due": deadlines.deletion_is_due(dates, today),
            "deletion_warning": deadlines.deletion_warning(dates, today),
            "can_extend": deadlines.extension_refusal(dates, today) is None,
            "categories": settings.categories(session),
            "steps": steps.case_steps(session, unlocked.keyring, view.case),
            "decisions": workflow.decisions(session, unlocked.keyring, view.case.id),
            "replies": case_replies,
            "conversation": case_page.conversation(view.entries, case_replies),
            "drafts": case_page.drafts(case_replies),
            "subject": case_page.subject(view.entries),
            "next": next_step.suggest(view.case, case_deadlines, case_replies, view.entries),
            "desk_names": desk_names,
            "language_name": naming.language_name(view.language),
            "labels": workflow.case_labels(unlocked.keyring, view.case),
            "officers": officers_for_assignment(session),
            "desks": [d.id for d in epochs.current_card(session).desks],
            "next_states": workflow.ALLOWED.get(view.case.status, ()),
            "outcomes": OUTCOMES,
            "today": today,
        }
        news.mark_seen(session, unlocked.officer_id, view.case.id, now=inbox.config.clock())
    return context


@blueprint.post("/<case_id>/notes")
def note(case_id: str) -> Response | tuple[str, int]:
    unlocked = require_unlocked()
    inbox = state()
    text = request.form.get("text", "").strip()
    if not text:
        return case_page_with_error(case_id, "note", _("Write the note before saving it."))
    if len(text) > MAX_NOTE_CHARS:
        return case_page_with_error(
            case_id, "note", _("A note has at most %(n)d characters.", n=MAX_NOTE_CHARS)
        )
    with db.transaction(inbox.sessions) as session:
        add_note(
            session,
            unlocked.keyring,
            case_id,
            text,
            officer_id=unlocked.officer_id,
            now=inbox.config.clock(),
        )
    target = url_for("cases.detail", case_id=case_id, done="note") + "#notes"
    return redirect(target, 303)


def case_page_with_error(case_id: str, field: str, message: str) -> tuple[str, int]:
    """The case page again, with ``message`` at ``field`` and the form as sent (400)."""
    try:
        context = _case_context(case_id)
    except CaseLockedError:
        return _custodian_page(case_id, errors={field: message}), 400
    return (
        render_template("case.html", **context, errors={field: message}, form=request.form),
        400,
    )


@blueprint.post("/<case_id>/disclosure")
def disclosure(case_id: str) -> Response | tuple[str, int]:
    unlocked = require_unlocked()
    inbox = state()
    if ROLE_CUSTODIAN not in unlocked.roles or unlocked.custodian_keyring is None:
        raise NotCustodianError("Only an identity custodian can do this.")
    reason = request.form.get("reason", "").strip()
    if not MIN_REASON_CHARS <= len(reason) <= MAX_REASON_CHARS:
        message = _(
            "Give the reason for the decision (%(low)d to %(high)d characters).",
            low=MIN_REASON_CHARS,
            high=MAX_REASON_CHARS,
        )
        return case_page_with_error(case_id, "reason", message)
    with db.transaction(inbox.sessions) as session:
        decide_disclosure(
            session,
            unlocked.keyring,
            case_id,
            reason,
            ctx=officer_context(unlocked),
            roles=unlocked.roles,
            custodian=unlocked.custodian_keyring,
        )
    target = url_for("cases.detail", case_id=case_id, done="disclosed") + "#identity"
    return redirect(target, 303)


@blueprint.post("/<case_id>/identification")
def show_identification(case_id: str) -> str:
    unlocked = require_unlocked()
    inbox = state()
    with db.transaction(inbox.sessions) as session:
        shown = identification(
            session,
            unlocked.keyring,
            case_id,
            officer_id=unlocked.officer_id,
            roles=unlocked.roles,
            custodian=unlocked.custodian_keyring,
            now=inbox.config.clock(),
        )
    page = render_template("identification.html", case_id=case_id, identity=shown)
    return (page, 409) if shown.refused else page  # type: ignore[return-value]


def officers_for_assignment(session: Any) -> list[tuple[int, str]]:
    return [
        (oid, name)
        for oid, name in session.execute(
            select(Officer.id, Officer.name).where(Officer.is_officer).order_by(Officer.name)
        )
    ]
