"""The next step on a case, suggested from its state and clocks (the case page's side panel).

One suggestion, the most pressing first: what the law requires soonest comes before what is
merely useful. Pure: it reads the case, its deadlines and its replies, and nothing else.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from whistle.inbox import deadlines
from whistle.inbox.models import STATUS_ACKNOWLEDGED, STATUS_CLOSED, STATUS_NEW
from whistle.inbox.models.reply import DRAFT

ACKNOWLEDGE = "acknowledge"
SEND_DRAFT = "send-draft"
FEEDBACK = "feedback"
MEETING = "meeting"
ANSWER = "answer"
TRIAGE = "triage"
DELETE = "delete"
WAIT = "wait"
DONE = "done"


@dataclass(frozen=True)
class NextStep:
    kind: str
    #: The day the step is due by, when a clock sets one.
    due: date | None
    #: The part of the case page where the step is taken.
    anchor: str


def suggest(
    case: Any,
    case_deadlines: Sequence[deadlines.Deadline],
    replies: Sequence[Any],
    entries: Sequence[Any] = (),
) -> NextStep:
    """``case``: a ``Case``; ``replies``: ``ReplyView``s; ``entries``: the conversation."""
    clocks = {d.kind: d for d in case_deadlines}
    open_clock = {
        k: d for k, d in clocks.items() if d.state not in (deadlines.MET, deadlines.STOPPED)
    }
    ack = open_clock.get(deadlines.ACKNOWLEDGEMENT)
    if case.status == STATUS_NEW and case.acknowledged_day is None and ack is not None:
        return NextStep(ACKNOWLEDGE, ack.due, "acknowledge")
    if any(r.state == DRAFT for r in replies):
        return NextStep(SEND_DRAFT, None, "replies")
    if (meeting := open_clock.get(deadlines.MEETING)) is not None:
        return NextStep(MEETING, meeting.due, "steps")
    feedback = open_clock.get(deadlines.FEEDBACK)
    if feedback is not None and feedback.state in (
        deadlines.OVERDUE,
        deadlines.TODAY,
        deadlines.SOON,
    ):
        return NextStep(FEEDBACK, feedback.due, "reply")
    if _unanswered(replies, entries):
        return NextStep(ANSWER, None, "reply")
    deletion = clocks.get(deadlines.DELETION)
    if deletion is not None and deletion.state in (deadlines.OVERDUE, deadlines.TODAY):
        return NextStep(DELETE, deletion.due, "danger")
    if case.status == STATUS_ACKNOWLEDGED:
        return NextStep(TRIAGE, deletion.due if deletion else None, "workflow")
    if case.status == STATUS_CLOSED:
        return NextStep(DONE, None, "workflow")
    return NextStep(WAIT, feedback.due if feedback else None, "deadlines")


def _unanswered(replies: Sequence[Any], entries: Sequence[Any]) -> bool:
    """The source's latest follow-up came after the office's latest reply (by day)."""
    followups = [e.received_day for e in entries if e.kind == "followup" and not e.error]
    if not followups:
        return False
    sent = [
        r.created_at.date() for r in replies if r.state != DRAFT and r.purpose != "acknowledgement"
    ]
    return not sent or max(followups) > max(sent)
