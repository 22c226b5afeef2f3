"""Where a case stands, as its source can be told from what the server still holds.

The server keeps a source's report until the office's inbox has collected it (and then
deletes it, §3.8), and the office's replies until they expire. So: the report still here
means "received, not yet collected"; gone means "the office has it"; a reply means the
office has answered, and its first reply is the acknowledgement of receipt the law asks for
within 7 days. The source's own copy of the report (kept after collection, sealed to their
code) does not count as the report being here. js/page.js tells the same from the records it
is sent.
"""

import datetime
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol


class _Entry(Protocol):
    kind: str
    created: datetime.date
    forged: bool
    copy: bool


@dataclass(frozen=True)
class CaseStatus:
    #: "waiting" (report not yet collected), "collected" or "acknowledged"
    state: str
    acknowledged_on: datetime.date | None = None
    report_here: bool = False
    replies: int = 0
    #: The report is shown from the source's own copy (the office collected it).
    report_copy: bool = False


def case_status(entries: Sequence[_Entry]) -> CaseStatus:
    replies = [e for e in entries if e.kind == "reply" and not e.forged]
    report_here = any(e.kind == "submission" and not e.copy for e in entries)
    report_copy = any(e.kind == "submission" and e.copy for e in entries)
    if replies:
        first = min(e.created for e in replies)
        return CaseStatus("acknowledged", first, report_here, len(replies), report_copy)
    state = "waiting" if report_here else "collected"
    return CaseStatus(state, None, report_here, 0, report_copy)
