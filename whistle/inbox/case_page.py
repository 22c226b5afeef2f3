"""The case page's conversation: the report, the source's messages and the office's replies
in one list, in order, each message once.

A reply of this inbox comes back from the server as a record too (same record id as the
reply's ``outgoing_id``): it is shown once, as the reply, with its delivery and read days.
Replies imported without a local draft (an inbox restored from an older backup) stay as
records. Drafts are not part of the conversation: the source has not seen them.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from whistle.inbox.models.reply import DRAFT


@dataclass(frozen=True)
class Message:
    #: "entry" (a record: report, follow-up, reply from elsewhere) or "reply" (this inbox's).
    source: str
    day: date
    #: The inbox's clock: when the record was collected, or the reply written.
    at: datetime
    item: Any


def conversation(entries: Sequence[Any], replies: Sequence[Any]) -> list[Message]:
    """``entries``: ``cases.Entry`` in import order; ``replies``: ``replies.ReplyView``."""
    sent = [r for r in replies if r.state != DRAFT]
    ours = {r.outgoing_id for r in sent if getattr(r, "outgoing_id", None)}
    messages = [
        Message("entry", e.received_day, e.imported_at or datetime.min, e)
        for e in entries
        if not (e.kind == "reply" and e.record_id in ours)
    ]
    messages += [Message("reply", r.created_at.date(), r.created_at, r) for r in sent]
    # In the order the office saw them happen: a message is there once it was collected, a
    # reply once it was written (the server's day is shown, but two clocks do not mix).
    messages.sort(key=lambda m: m.at)
    return messages


def subject(entries: Sequence[Any]) -> str:
    """The report's subject field, for the page title ("" when it has none or is unreadable)."""
    for entry in entries:
        if entry.kind == "submission" and not entry.error:
            for f in entry.form:
                if f["key"] == "subject" and not f["deleted"]:
                    return str(f["value"])
    return ""


def drafts(replies: Sequence[Any]) -> list[Any]:
    """Replies still being written: shown beside the reply box, not in the conversation."""
    return [r for r in replies if r.state == DRAFT]
