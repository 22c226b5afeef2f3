"""The workflow pages: dashboard, state changes, assignment, labels, replies, purge, export,
the register and the statistics."""

import io
from collections.abc import Callable

from flask import Blueprint, Response, make_response, redirect, render_template, request, url_for
from flask_babel import gettext as _
from sqlalchemy.orm import Session

from whistle.inbox import (
    db,
    export,
    register,
    replies,
    settings,
    stats,
    steps,
    workflow,
)
from whistle.inbox.audit import record_event
from whistle.inbox.context import OfficerContext
from whistle.inbox.dashboard import dashboard
from whistle.inbox.errors import (
    CaseNotFoundError,
    InboxError,
    ReasonRequiredError,
    StateChangeRefusedError,
    UnknownOfficerError,
    WorkflowError,
)
from whistle.inbox.keyring import OfficeKeyring
from whistle.inbox.models import OUTCOMES, STATUSES, Case
from whistle.inbox.refusals import refusal_message
from whistle.inbox.views.cases import case_page_with_error
from whistle.inbox.web import officer_context, page_desk_names, require_unlocked, state

#: What an officer writes by hand; the other purposes are the inbox's own notices.
COMPOSED = ("reply", "feedback", "meeting")

blueprint = Blueprint("workflow", __name__)


def _redirect(case_id: str, done: str, anchor: str) -> Response:
    target = url_for("cases.detail", case_id=case_id, done=done) + "#" + anchor
    return make_response(redirect(target, 303))  # typed as Flask's Response, which it is


#: A case action: in the request's transaction, with the officer's keys and context.
Action = Callable[[Session, OfficeKeyring, OfficerContext], None]


def _act(
    case_id: str,
    field: str,
    action: Action,
    done: str | Callable[[], str],
    anchor: str,
) -> Response | tuple[str, int]:
    """Run ``action(session, keyring, ctx)``; an ``InboxError`` re-renders the case.

    ``done`` names the confirmation shown (a callable: what the action decided)."""
    unlocked = require_unlocked()
    ctx = officer_context(unlocked)
    try:
        with db.transaction(state().sessions) as session:
            action(session, unlocked.keyring, ctx)
    except CaseNotFoundError:
        raise  # purged (410) or unknown (404): an error page, not the case page
    except InboxError as exc:
        return case_page_with_error(case_id, field, refusal_message(exc))
    return _redirect(case_id, done() if callable(done) else done, anchor)


@blueprint.get("/dashboard")
def dashboard_page() -> str:
    unlocked = require_unlocked()
    inbox = state()
    mine = request.args.get("mine") == "1"
    with db.transaction(inbox.sessions) as session:
        desk_names = page_desk_names(session)
        desk = request.args.get("desk")
        desk = desk if desk in desk_names else None
        board = dashboard(
            session,
            unlocked.keyring,
            today=inbox.config.today(),
            officer_id=unlocked.officer_id,
            cache=inbox.keystore.plaintext_cache,
            assignee=unlocked.officer_id if mine else None,
            desk=desk,
        )
        responsable = steps.responsable(session)
    return render_template(
        "dashboard.html",
        board=board,
        mine=mine,
        desk=desk,
        desk_names=desk_names,
        today=inbox.config.today(),
        responsable=responsable,
    )


@blueprint.post("/cases/<case_id>/status")
def change_status(case_id: str) -> Response | tuple[str, int]:
    to = request.form.get("to", "")
    outcome = request.form.get("outcome") or None
    reason = request.form.get("reason", "")

    def action(session: Session, keyring: OfficeKeyring, ctx: OfficerContext) -> None:
        if to == "reopen":
            workflow.reopen(session, keyring, case_id, reason=reason, ctx=ctx)
            return
        if to not in STATUSES:
            raise StateChangeRefusedError("Unknown state.")
        workflow.change_status(
            session,
            keyring,
            case_id,
            to,
            reason=reason,
            outcome=outcome if to == "closed" else None,
            ctx=ctx,
        )

        if to == "closed":
            # Closing is not the feedback: offer the officer the template to tell the source.
            case = session.get(Case, case_id)
            if case is not None and replies.offer_closing_feedback(
                session,
                keyring,
                case,
                ctx=ctx,
            ):
                done[0] = "closed-tell"

    done = ["status"]
    return _act(case_id, "status-reason", action, lambda: done[0], "workflow")


@blueprint.post("/cases/<case_id>/acknowledge")
def acknowledge(case_id: str) -> Response | tuple[str, int]:
    def action(session: Session, keyring: OfficeKeyring, ctx: OfficerContext) -> None:
        replies.acknowledge(session, keyring, case_id, ctx=ctx)

    return _act(case_id, "acknowledge", action, "acknowledged", "workflow")


@blueprint.post("/cases/<case_id>/extend")
def extend(case_id: str) -> Response | tuple[str, int]:
    reason = request.form.get("reason", "")

    def action(session: Session, keyring: OfficeKeyring, ctx: OfficerContext) -> None:
        case = workflow.extend_feedback(session, keyring, case_id, reason=reason, ctx=ctx)
        replies.notify_extension(session, keyring, case, ctx=ctx)

    return _act(case_id, "extend-reason", action, "extended", "workflow")


@blueprint.post("/cases/<case_id>/assign")
def assign(case_id: str) -> Response | tuple[str, int]:
    raw = request.form.get("assignee", "")
    reason = request.form.get("reason", "")

    def action(session: Session, keyring: OfficeKeyring, ctx: OfficerContext) -> None:
        try:
            assignee = int(raw) if raw else None
        except ValueError as exc:
            raise UnknownOfficerError("No such officer.") from exc
        workflow.assign(session, keyring, case_id, assignee, reason=reason, ctx=ctx)

    return _act(case_id, "assign-reason", action, "assigned", "workflow")


@blueprint.post("/cases/<case_id>/labels")
def labels(case_id: str) -> Response | tuple[str, int]:
    text = request.form.get("labels", "")[:2000]

    def action(session: Session, keyring: OfficeKeyring, ctx: OfficerContext) -> None:
        workflow.set_labels(session, keyring, case_id, workflow.parse_labels(text), ctx=ctx)

    return _act(case_id, "labels", action, "labels", "workflow")


@blueprint.post("/cases/<case_id>/replies")
def save_reply(case_id: str) -> Response | tuple[str, int]:
    text = request.form.get("text", "")
    purpose = request.form.get("purpose", "reply")
    if purpose not in COMPOSED:
        purpose = "reply"
    raw_id = request.form.get("reply_id", "")
    files = [(f.filename or "file", f.read()) for f in request.files.getlist("files") if f.filename]
    ready = request.form.get("ready") == "1"
    if not text.strip():
        return case_page_with_error(case_id, "reply", _("Write the reply before saving it."))
    if purpose == "meeting" and not files and not raw_id:
        return case_page_with_error(
            case_id, "reply", _("Attach the recording or the minutes of the meeting.")
        )

    def action(session: Session, keyring: OfficeKeyring, ctx: OfficerContext) -> None:
        reply = replies.save_draft(
            session,
            keyring,
            case_id,
            text,
            ctx=ctx,
            files=files,
            purpose=purpose,
            reply_id=int(raw_id) if raw_id.isdigit() else None,
        )
        if ready:
            replies.mark_ready(session, keyring, case_id, reply.id, ctx=ctx)

    return _act(case_id, "reply", action, "queued" if ready else "draft", "replies")


@blueprint.post("/cases/<case_id>/replies/<int:reply_id>/ready")
def reply_ready(case_id: str, reply_id: int) -> Response | tuple[str, int]:
    def action(session: Session, keyring: OfficeKeyring, ctx: OfficerContext) -> None:
        replies.mark_ready(session, keyring, case_id, reply_id, ctx=ctx)

    return _act(case_id, "reply", action, "queued", "replies")


@blueprint.post("/cases/<case_id>/purge")
def purge(case_id: str) -> Response | tuple[str, int] | str:
    unlocked = require_unlocked()
    inbox = state()
    confirm = request.form.get("confirm") == "1"
    reason = request.form.get("reason", "")
    try:
        with db.transaction(inbox.sessions) as session:
            paths = workflow.purge_case(
                session,
                unlocked.keyring,
                case_id,
                confirm=confirm,
                reason=reason,
                officer_id=unlocked.officer_id,
                now=inbox.config.clock(),
                today=inbox.config.today(),
                store_dir=inbox.config.store_dir,
            )
    except ReasonRequiredError:
        return case_page_with_error(
            case_id, "purge", _("This case is not due for deletion: give a reason.")
        )
    except WorkflowError as exc:
        return case_page_with_error(case_id, "purge", refusal_message(exc))
    workflow.remove_files(paths)
    return render_template("purged.html", case_id=case_id)


@blueprint.post("/cases/<case_id>/export")
def export_case(case_id: str) -> Response | tuple[str, int]:
    unlocked = require_unlocked()
    inbox = state()
    passphrase = request.form.get("passphrase", "")
    if len(passphrase) < export.MIN_PASSPHRASE_CHARS:
        return case_page_with_error(
            case_id,
            "passphrase",
            _("The passphrase needs at least %(n)d characters.", n=export.MIN_PASSPHRASE_CHARS),
        )
    if passphrase != request.form.get("passphrase2", ""):
        return case_page_with_error(case_id, "passphrase", _("The two passphrases differ."))
    out = io.BytesIO()
    with db.transaction(inbox.sessions) as session:
        export.export_case(
            session,
            unlocked.keyring,
            case_id,
            passphrase,
            out,
            store_dir=inbox.config.store_dir,
            kdf_params=inbox.config.kdf_params,
        )
        record_event(
            session,
            inbox.config.clock(),
            "case-exported",
            officer_id=unlocked.officer_id,
            case_id=case_id,
        )
    return Response(
        out.getvalue(),
        mimetype="application/octet-stream",
        headers={"Content-Disposition": f'attachment; filename="case-{case_id[:8]}.wref"'},
    )


@blueprint.get("/register")
def register_page() -> str:
    unlocked = require_unlocked()
    inbox = state()
    with db.transaction(inbox.sessions) as session:
        lines = register.register_lines(session, unlocked.keyring, inbox.keystore.plaintext_cache)
        # Access to the register is recorded (art. 26: it is not public).
        record_event(
            session, inbox.config.clock(), "register-viewed", officer_id=unlocked.officer_id
        )
        names = settings.category_names(session)
        desk_names = page_desk_names(session)
    return render_template(
        "register.html", lines=lines, category_names=names, desk_names=desk_names
    )


@blueprint.post("/register.csv")
def register_csv() -> Response:
    unlocked = require_unlocked()
    inbox = state()
    with db.transaction(inbox.sessions) as session:
        lines = register.register_lines(session, unlocked.keyring, inbox.keystore.plaintext_cache)
        record_event(
            session, inbox.config.clock(), "register-exported", officer_id=unlocked.officer_id
        )
    return Response(
        register.register_csv(lines),
        mimetype="text/csv",
        headers={"Content-Disposition": 'attachment; filename="register.csv"'},
    )


def _year() -> int | None:
    raw = request.args.get("year", "")
    return int(raw) if raw.isdigit() and 2000 <= int(raw) <= 2200 else None


def _status_labels() -> dict[str, str]:
    return {
        "new": _("New"),
        "acknowledged": _("Acknowledged"),
        "investigating": _("Under investigation"),
        "closed": _("Closed"),
    }


@blueprint.get("/statistics")
def statistics_page() -> str:
    require_unlocked()
    inbox = state()
    year = _year()
    with db.transaction(inbox.sessions) as session:
        figures = stats.statistics(session, year)
    return render_template(
        "statistics.html",
        figures=figures,
        year=year,
        statuses=STATUSES,
        outcomes=OUTCOMES,
        threshold=stats.SUPPRESS_BELOW,
        title=_period_title(figures.period),
    )


def _period_title(period: str) -> str:
    return {
        "quarter": _("Cases received per quarter, by status"),
        "year": _("Cases received per year, by status"),
    }.get(period, _("Cases received per month, by status"))


@blueprint.get("/statistics/chart.svg")
def statistics_chart() -> Response:
    require_unlocked()
    inbox = state()
    with db.transaction(inbox.sessions) as session:
        figures = stats.statistics(session, _year())

    def days(value: float | None) -> str:
        return "—" if value is None else f"{value:.0f}"  # as the page's table says it

    footer = (
        _("Days to acknowledge (median)") + ": " + days(figures.days_to_acknowledge),
        _("Days to close (median)") + ": " + days(figures.days_to_close),
    )
    svg = stats.chart_svg(figures, _status_labels(), _period_title(figures.period), footer)
    return Response(svg, mimetype="image/svg+xml")
