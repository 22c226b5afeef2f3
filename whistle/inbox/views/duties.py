"""The case's legal duties beside its workflow: the category, the withheld acknowledgement
(art. 9.2.c), deleting a part (art. 32.2–32.3) or postponing the deletion (32.4), and the
Responsable's steps (person concerned, referral, measures, disclosure to third parties).

Every action runs through ``views.workflow._act``: a refusal re-renders the case with its
message, nothing half-written.
"""

from datetime import date
from typing import Any

from flask import Blueprint, Response, request
from sqlalchemy.orm import Session

from whistle.inbox import deletions, steps, workflow
from whistle.inbox.context import OfficerContext
from whistle.inbox.errors import DeletionRefusedError, StepRefusedError
from whistle.inbox.keyring import OfficeKeyring
from whistle.inbox.views.workflow import _act
from whistle.inbox.web import state

blueprint = Blueprint("duties", __name__)


def _day(raw: str) -> date:
    try:
        return date.fromisoformat(raw)
    except ValueError as exc:
        raise StepRefusedError("Give the day as YYYY-MM-DD.", why="day") from exc


@blueprint.post("/cases/<case_id>/delete-part")
def delete_part(case_id: str) -> Response | tuple[str, int]:
    target, _sep, rest = request.form.get("part", "").partition(":")
    record_id, _sep, which = rest.partition(":")
    grounds = request.form.get("grounds", "")
    reason = request.form.get("reason", "")
    removed: list[Any] = []

    def action(session: Session, keyring: OfficeKeyring, ctx: OfficerContext) -> None:
        removed.extend(
            deletions.delete_part(
                session,
                keyring,
                case_id,
                deletions.PartialDeletion(target, record_id, which),
                grounds=grounds,
                reason=reason,
                officer_id=ctx.officer_id,
                now=ctx.now,
                store_dir=state().config.store_dir,
            )
        )

    response = _act(case_id, "part", action, "part-deleted", "conversation")
    workflow.remove_files(removed)
    state().keystore.plaintext_cache.clear()
    return response


@blueprint.post("/cases/<case_id>/postpone-deletion")
def postpone_deletion(case_id: str) -> Response | tuple[str, int]:
    raw = request.form.get("until", "")
    reason = request.form.get("reason", "")

    def action(session: Session, keyring: OfficeKeyring, ctx: OfficerContext) -> None:
        try:
            until = date.fromisoformat(raw)
        except ValueError as exc:
            raise DeletionRefusedError(
                "Postpone the deletion to a day after today.", why="date"
            ) from exc
        workflow.postpone_deletion(session, keyring, case_id, until, reason=reason, ctx=ctx)

    return _act(case_id, "postpone", action, "postponed", "workflow")


@blueprint.post("/cases/<case_id>/category")
def set_category(case_id: str) -> Response | tuple[str, int]:
    category = request.form.get("category") or None

    def action(session: Session, keyring: OfficeKeyring, ctx: OfficerContext) -> None:
        workflow.set_category(session, case_id, category, ctx=ctx)

    return _act(case_id, "category", action, "category", "workflow")


@blueprint.post("/cases/<case_id>/steps")
def record_step(case_id: str) -> Response | tuple[str, int]:
    form = request.form

    def action(session: Session, keyring: OfficeKeyring, ctx: OfficerContext) -> None:
        steps.record_step(
            session,
            keyring,
            case_id,
            form.get("kind", ""),
            day=_day(form.get("day", "")),
            note=form.get("note", ""),
            recipient=form.get("recipient", ""),
            immediate=form.get("immediate") == "1",
            ctx=ctx,
        )

    return _act(case_id, "step", action, "step", "steps")


@blueprint.post("/cases/<case_id>/third-party-disclosure")
def third_party_disclosure(case_id: str) -> Response | tuple[str, int]:
    form = request.form

    def action(session: Session, keyring: OfficeKeyring, ctx: OfficerContext) -> None:
        steps.disclose_to_third(
            session,
            keyring,
            case_id,
            recipient=form.get("recipient", ""),
            day=_day(form.get("day", "")),
            reasons=form.get("reasons", ""),
            exception=form.get("exception", ""),
            ctx=ctx,
        )

    return _act(case_id, "third-party", action, "step", "steps")


@blueprint.post("/cases/<case_id>/withhold-acknowledgement")
def withhold_acknowledgement(case_id: str) -> Response | tuple[str, int]:
    reason = request.form.get("reason", "")

    def action(session: Session, keyring: OfficeKeyring, ctx: OfficerContext) -> None:
        workflow.withhold_acknowledgement(session, keyring, case_id, reason=reason, ctx=ctx)

    return _act(case_id, "withhold-reason", action, "withheld", "workflow")
