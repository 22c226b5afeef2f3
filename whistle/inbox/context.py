"""Who acts on a case, and when: what every case action records and dates.

A view builds one ``OfficerContext`` per request (``web.officer_context``), the command line one
per command (``for_officer``), a test its own; the case actions (``workflow``, ``replies``,
``steps``, ``cases.decide_disclosure``) take it instead of the same run of keyword arguments.
"""

from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

from whistle.inbox.config import InboxConfig


@dataclass(frozen=True)
class OfficerContext:
    #: The signed-in officer who acts (the audit log and the decisions name them).
    officer_id: int
    #: The instant the action is recorded at, and the office's day of it (the legal clocks).
    now: datetime
    today: date
    #: The language of a notice when the source's own is not known.
    default_language: str = "en"
    #: Where queued replies' files are written (None: nothing stored beside the database).
    store_dir: Path | None = None


def for_officer(config: InboxConfig, officer_id: int) -> OfficerContext:
    """The context of one action by ``officer_id`` now, with the inbox's settings."""
    return OfficerContext(
        officer_id=officer_id,
        now=config.clock(),
        today=config.today(),
        default_language=config.default_language,
        store_dir=config.store_dir,
    )
