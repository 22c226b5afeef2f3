"""Office settings chosen in the inbox, kept in the database (table ``setting``).

    acknowledge_on_import   "1": acknowledge records to the server as soon as they are
                            imported; "0" (default): only once a backup holds them
    backup_warning_days     the dashboard warns when the last backup is older (default 7)
    categories              the office's list of categories (JSON: [[key, name], …]); officers
                            file each case under one (``workflow.set_category``)
    require_security_keys   "1": every officer must sign in with a security key; one without a
                            key reaches only the page that adds one (``views/account.py``);
                            "0" (default): each officer chooses

and one fact the inbox keeps for itself (no audit event):

    server_replies_applied  the highest replies bundle number the server said it applied;
                            after a restore from a backup the next replies bundle must be
                            numbered above it, or the server refuses it as a replay

Every change is written to the audit log.
"""

import json
import re
from datetime import datetime

from sqlalchemy.orm import Session

from whistle.inbox.audit import record_event
from whistle.inbox.errors import CategoryRefusedError, InboxError
from whistle.inbox.models import Setting

ACKNOWLEDGE_ON_IMPORT = "acknowledge_on_import"
BACKUP_WARNING_DAYS = "backup_warning_days"
SERVER_REPLIES_APPLIED = "server_replies_applied"
CATEGORIES = "categories"
REQUIRE_SECURITY_KEYS = "require_security_keys"
MAX_CATEGORIES = 40
MAX_CATEGORY_NAME = 80
_CATEGORY_KEY = re.compile(r"[a-z0-9][a-z0-9-]{0,31}")
DEFAULT_WARNING_DAYS = 7
MAX_WARNING_DAYS = 365


class SettingRefusedError(InboxError):
    """A setting's value is out of bounds."""


def _get(session: Session, key: str) -> str | None:
    row = session.get(Setting, key)
    return row.value if row is not None else None


def _set(session: Session, key: str, value: str, *, officer_id: int | None, now: datetime) -> None:
    row = session.get(Setting, key)
    if row is not None and row.value == value:
        return
    if row is None:
        session.add(Setting(key=key, value=value))
    else:
        row.value = value
    session.flush()
    record_event(session, now, "setting-changed", officer_id=officer_id, detail=f"{key}={value}")


def acknowledge_on_import(session: Session) -> bool:
    return _get(session, ACKNOWLEDGE_ON_IMPORT) == "1"


def set_acknowledge_on_import(
    session: Session, value: bool, *, officer_id: int | None, now: datetime
) -> None:
    _set(session, ACKNOWLEDGE_ON_IMPORT, "1" if value else "0", officer_id=officer_id, now=now)


def security_keys_required(session: Session) -> bool:
    return _get(session, REQUIRE_SECURITY_KEYS) == "1"


def set_security_keys_required(
    session: Session, value: bool, *, officer_id: int | None, now: datetime
) -> None:
    _set(session, REQUIRE_SECURITY_KEYS, "1" if value else "0", officer_id=officer_id, now=now)


def backup_warning_days(session: Session) -> int:
    raw = _get(session, BACKUP_WARNING_DAYS)
    return int(raw) if raw is not None and raw.isdigit() else DEFAULT_WARNING_DAYS


def set_backup_warning_days(
    session: Session, days: int, *, officer_id: int | None, now: datetime
) -> None:
    if not 1 <= days <= MAX_WARNING_DAYS:
        raise SettingRefusedError(f"The warning comes after 1 to {MAX_WARNING_DAYS} days.")
    _set(session, BACKUP_WARNING_DAYS, str(days), officer_id=officer_id, now=now)


def server_replies_applied(session: Session) -> int:
    raw = _get(session, SERVER_REPLIES_APPLIED)
    return int(raw) if raw is not None and raw.isdigit() else 0


def note_server_replies_applied(session: Session, value: object) -> None:
    """Remember the server's ``replies_applied`` when it is higher than known."""
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        return
    if value > server_replies_applied(session):
        row = session.get(Setting, SERVER_REPLIES_APPLIED)
        if row is None:
            session.add(Setting(key=SERVER_REPLIES_APPLIED, value=str(value)))
        else:
            row.value = str(value)
        session.flush()


def categories(session: Session) -> list[tuple[str, str]]:
    """The office's categories, (key, name), in the order the office gave them."""
    raw = _get(session, CATEGORIES)
    return [(str(k), str(n)) for k, n in json.loads(raw)] if raw else []


def category_names(session: Session) -> dict[str, str]:
    return dict(categories(session))


def parse_categories(text: str) -> list[tuple[str, str]]:
    """One category a line, ``key = Name`` (Barcelona's: ``contractacio = Contractació``)."""
    found: list[tuple[str, str]] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        key, sep, name = line.partition("=")
        key, name = key.strip().lower(), " ".join(name.split())
        if not sep or not _CATEGORY_KEY.fullmatch(key) or not name:
            raise CategoryRefusedError(
                f"Line {number}: write a key (lower-case letters, digits, dashes), "
                "an equals sign and the name."
            )
        if len(name) > MAX_CATEGORY_NAME:
            raise CategoryRefusedError(f"Line {number}: the name is too long.")
        if key in (k for k, _ in found):
            raise CategoryRefusedError(f"Line {number}: the key {key} is there twice.")
        found.append((key, name))
    if len(found) > MAX_CATEGORIES:
        raise CategoryRefusedError(f"At most {MAX_CATEGORIES} categories.")
    return found


def set_categories(
    session: Session, value: list[tuple[str, str]], *, officer_id: int | None, now: datetime
) -> None:
    """Replace the list. A key in use by a case stays valid for it even if removed here."""
    text = json.dumps([list(pair) for pair in value], ensure_ascii=False)
    row = session.get(Setting, CATEGORIES)
    if row is not None and row.value == text:
        return
    if row is None:
        session.add(Setting(key=CATEGORIES, value=text))
    else:
        row.value = text
    session.flush()
    record_event(
        session, now, "setting-changed", officer_id=officer_id, detail=f"categories={len(value)}"
    )
