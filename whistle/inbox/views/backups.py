"""Backups in the browser: write one to a directory (a USB stick), and the office settings.

A manager picks a removable medium mounted now (``media.mounted_media``) or types the
directory; the inbox writes ``whistle-backup-….wbak`` there (the same
``backup.make_backup`` as the CLI, so the file opens with any officer's password or the
recovery key). There is no download: a backup counts — and releases acknowledgements to
the server — only once it is written in full to a place the officer chose, which a
browser download cannot confirm. Every page shows the last backup's date (footer), and
the dashboard warns when it is too old or records wait for one.
"""

from pathlib import Path
from typing import Any

from flask import Blueprint, g, render_template, request
from flask_babel import gettext as _
from sqlalchemy import select

from whistle.inbox import db, media
from whistle.inbox.backup import (
    BackupChangedError,
    BackupError,
    backup_status,
    default_file_name,
    make_backup,
)
from whistle.inbox.models import Backup
from whistle.inbox.outgoing import held_acks
from whistle.inbox.refusals import backup_reason
from whistle.inbox.settings import (
    MAX_WARNING_DAYS,
    acknowledge_on_import,
    set_acknowledge_on_import,
    set_backup_warning_days,
)
from whistle.inbox.web import require_manager_unlocked, state

blueprint = Blueprint("backups", __name__, url_prefix="/backup")
MAX_PATH_CHARS = 4096


@blueprint.app_context_processor
def _backup_globals() -> dict[str, Any]:
    """The last backup and what waits for one, for the footer and the dashboard."""
    if getattr(g, "unlocked", None) is None:
        return {"backup_state": None}
    inbox = state()
    with db.transaction(inbox.sessions) as session:
        status = backup_status(session, inbox.config.clock())
    return {"backup_state": status}


def _page(status: int = 200, **context: object) -> tuple[str, int]:
    inbox = state()
    with db.transaction(inbox.sessions) as session:
        context.setdefault("ack_on_import", acknowledge_on_import(session))
        context["held"] = held_acks(session)
        context["history"] = list(
            session.scalars(select(Backup).order_by(Backup.made_at.desc()).limit(10))
        )
        context["status"] = backup_status(session, inbox.config.clock())
    context.setdefault("errors", {})
    context["media"] = media.mounted_media()
    return render_template("backup.html", max_days=MAX_WARNING_DAYS, **context), status


@blueprint.get("/")
def index() -> tuple[str, int]:
    require_manager_unlocked()
    return _page()


@blueprint.post("/make")
def make() -> tuple[str, int]:
    unlocked = require_manager_unlocked()
    target = request.form.get("target", "other")
    typed = request.form.get("directory", "").strip()[:MAX_PATH_CHARS]
    if target != "other":
        # Only a medium mounted now: a stale page cannot write to a path nobody chose.
        offered = {m.path for m in media.mounted_media()}
        if target not in offered:
            message = _("That drive is no longer connected: choose again.")
            return _page(400, errors={"directory": message})
        typed = target
    directory = Path(typed)
    if not typed:
        return _page(400, errors={"directory": _("Type the directory to write the backup to.")})
    if not directory.is_absolute():
        return _page(
            400,
            directory=typed,
            errors={"directory": _("Type the whole path, starting with /.")},
        )
    if not directory.is_dir():
        return _page(
            400,
            directory=typed,
            errors={"directory": _("There is no directory %(path)s.", path=typed)},
        )
    inbox = state()
    now = inbox.config.clock()
    try:
        made = make_backup(
            inbox.sessions,
            inbox.config.database_path,
            inbox.config.store_dir,
            unlocked.keyring,
            directory / default_file_name(now),
            now=now,
            officer_id=unlocked.officer_id,
        )
    except BackupChangedError:
        message = _("The inbox changed while the backup was made: make it again.")
        return _page(400, directory=typed, errors={"directory": message})
    except BackupError as exc:
        message = _("The backup could not be written: %(reason)s", reason=backup_reason(exc))
        return _page(400, directory=typed, errors={"directory": message})
    return _page(made=made, directory=typed)


@blueprint.post("/settings")
def settings() -> tuple[str, int]:
    unlocked = require_manager_unlocked()
    on = request.form.get("acknowledge_on_import") == "1"
    raw_days = request.form.get("warning_days", "").strip()
    if not raw_days.isdigit() or not 1 <= int(raw_days) <= MAX_WARNING_DAYS:
        message = _("Give a number of days from 1 to %(n)d.", n=MAX_WARNING_DAYS)
        return _page(400, errors={"warning_days": message}, ack_on_import=on)
    inbox = state()
    now = inbox.config.clock()
    with db.transaction(inbox.sessions) as session:
        set_acknowledge_on_import(session, on, officer_id=unlocked.officer_id, now=now)
        set_backup_warning_days(session, int(raw_days), officer_id=unlocked.officer_id, now=now)
    return _page(saved=True)
