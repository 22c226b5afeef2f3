"""The office's legal settings and the annual report: the Responsable del Sistema (art. 8),
the list of categories, the yearly memòria's figures (page and CSV), and the audit log's head.

Any officer sees the page and the report; only a manager changes the settings.
"""

from datetime import date
from typing import Any

from flask import Blueprint, Response, redirect, render_template, request, url_for
from flask_babel import gettext as _

from whistle.crypto import CodeChecksumError, CodeError
from whistle.crypto.audit import format_head, normalize_head
from whistle.inbox import audit, db, register, settings, stats, steps
from whistle.inbox.errors import AuditChainError, CategoryRefusedError, StepRefusedError
from whistle.inbox.refusals import step_message
from whistle.inbox.web import require_manager_unlocked, require_unlocked, state

blueprint = Blueprint("office", __name__, url_prefix="/office")


def _page(errors: dict[str, str] | None = None, status: int = 200, **form: Any) -> Any:
    unlocked = require_unlocked()
    inbox = state()
    with db.transaction(inbox.sessions) as session:
        context = {
            "responsable": steps.responsable(session),
            "categories": settings.categories(session),
        }
    return (
        render_template(
            "office.html",
            **context,
            errors=errors or {},
            form=form,
            is_manager="manager" in unlocked.roles,
            done=request.args.get("done"),
            today=inbox.config.today(),
            year=inbox.config.today().year,
        ),
        status,
    )


@blueprint.get("")
def index() -> Any:
    return _page()


def _day(raw: str) -> date:
    try:
        return date.fromisoformat(raw)
    except ValueError as exc:
        raise StepRefusedError("Give the day as YYYY-MM-DD.", why="day") from exc


def _done(what: str) -> Response:
    return redirect(url_for("office.index", done=what), 303)  # type: ignore[return-value]


@blueprint.post("/responsable")
def responsable() -> Any:
    unlocked = require_manager_unlocked()
    inbox = state()
    try:
        with db.transaction(inbox.sessions) as session:
            if request.form.get("action") == "notified":
                steps.mark_responsable_notified(
                    session,
                    _day(request.form.get("day", "")),
                    officer_id=unlocked.officer_id,
                    now=inbox.config.clock(),
                    today=inbox.config.today(),
                )
            else:
                steps.designate_responsable(
                    session,
                    request.form.get("name", ""),
                    _day(request.form.get("day", "")),
                    removed=request.form.get("removed") == "1",
                    officer_id=unlocked.officer_id,
                    now=inbox.config.clock(),
                    today=inbox.config.today(),
                )
    except StepRefusedError as exc:
        return _page({"responsable": step_message(exc.why)}, 400)
    return _done("responsable")


@blueprint.post("/categories")
def categories() -> Any:
    unlocked = require_manager_unlocked()
    inbox = state()
    text = request.form.get("categories", "")
    try:
        value = settings.parse_categories(text)
    except CategoryRefusedError:
        return _page(
            {
                "categories": _(
                    "Write one category a line: a key (lower-case letters, digits, dashes), an "
                    "equals sign and the name; each key once, at most 40."
                )
            },
            400,
            categories_text=text,
        )
    with db.transaction(inbox.sessions) as session:
        settings.set_categories(
            session, value, officer_id=unlocked.officer_id, now=inbox.config.clock()
        )
    return _done("categories")


def _report() -> tuple[stats.AnnualReport, dict[str, str]]:
    unlocked = require_unlocked()
    inbox = state()
    raw = request.args.get("year", "")
    year = int(raw) if raw.isdigit() and 2000 <= int(raw) <= 2999 else inbox.config.today().year
    mode = request.args.get("mode", stats.STANDARD)
    if mode not in stats.MODES:
        mode = stats.STANDARD
    with db.transaction(inbox.sessions) as session:
        lines = register.register_lines(session, unlocked.keyring, inbox.keystore.plaintext_cache)
        names = settings.category_names(session)
    names[""] = _("No category") if "" not in names else names[""]
    names[stats.OTHER] = _("Other (fewer than 5 each)")
    return stats.annual_report(lines, year, mode), names


@blueprint.get("/annual-report")
def annual_report() -> str:
    report, names = _report()
    return render_template(
        "annual_report.html",
        report=report,
        names=names,
        modes=stats.MODES,
        threshold=stats.SUPPRESS_BELOW,
    )


@blueprint.get("/annual-report.csv")
def annual_report_csv() -> Response:
    report, names = _report()
    return Response(
        stats.annual_report_csv(report, names),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="annual-report-{report.year}.csv"'},
    )


@blueprint.get("/audit")
def audit_head() -> str:
    """The audit log checked with the office key, its head for the paper logbook, and whether
    a head written there earlier is still in it (review finding L6). Reads only."""
    unlocked = require_unlocked()
    written = request.args.get("head", "").strip()
    wanted, error = None, None
    if written:
        try:
            wanted = normalize_head(written)
        except CodeChecksumError:
            error = _("That head was mistyped: its last character does not match. Check it.")
        except CodeError:
            error = _("A head is 10 letters or digits and a check character.")
    chain_error = None
    head = None
    with db.transaction(state().sessions) as session:
        try:
            head = audit.verify_chain(
                session, audit.key_for(unlocked.keyring.storage_secret), written_head=wanted
            )
        except AuditChainError as exc:
            chain_error = exc.entry_id
    return render_template(
        "audit.html",
        head=head,
        chain_error=chain_error,
        sealed_head=format_head(head.sealed_head) if head and head.sealed_head else None,
        written=format_head(wanted) if wanted else written,
        checked=wanted is not None and head is not None,
        error=error,
    )
