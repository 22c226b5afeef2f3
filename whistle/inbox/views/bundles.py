"""Bundles in the browser: check an outbox bundle, apply it, write a replies bundle.

The officer sees what a bundle holds before applying it and what it did after. A
checked bundle waits in this process's memory (one per officer, under a random
token) until it is applied or replaced; a written replies bundle waits likewise
until it is downloaded. Neither touches the disk here: bundles are ciphertext anyway.
"""

import io
import secrets
from dataclasses import dataclass

from flask import Blueprint, Response, current_app, render_template, request
from flask_babel import gettext as _
from sqlalchemy import func, select

from whistle.bundling import BundleRefusedError, read_limited
from whistle.inbox import db, epochs, held_back
from whistle.inbox.bundles import (
    MAX_BUNDLE_BYTES,
    export_replies,
    file_held_back,
    import_outbox,
    preview_outbox,
)
from whistle.inbox.errors import InboxError
from whistle.inbox.models import BundleLog, Outgoing
from whistle.inbox.outgoing import held_acks
from whistle.inbox.refusals import bundle_reason
from whistle.inbox.web import page_desk_names, require_unlocked, state

blueprint = Blueprint("bundles", __name__, url_prefix="/bundles")

#: The inbox's form limit is 1 MiB; bundle uploads get this much instead.
MAX_UPLOAD_BYTES = MAX_BUNDLE_BYTES
#: ``app.extensions`` key of the bundles uploaded and waiting for the officer's confirmation.
HELD = "whistle_inbox_bundles"


@dataclass
class _Held:
    token: str
    data: bytes
    filename: str = ""


def _held(kind: str) -> dict[int, _Held]:
    store: dict[str, dict[int, _Held]] = current_app.extensions.setdefault(HELD, {})
    return store.setdefault(kind, {})


def _waiting() -> dict[str, int]:
    with db.transaction(state().sessions) as session:
        rows = session.execute(
            select(Outgoing.kind, func.count())
            .where(Outgoing.confirmed.is_(None))
            .group_by(Outgoing.kind)
        ).all()
        held = held_acks(session)
        last = {
            direction: session.scalar(
                select(func.max(BundleLog.sequence)).where(BundleLog.direction == direction)
            )
            for direction in ("outbox", "replies")
        }
    counts = {kind: int(n) for kind, n in rows}
    counts["held"] = held
    counts.update({f"last_{k}": v or 0 for k, v in last.items()})
    return counts


def _labels() -> dict[str, str]:
    """The summary's count names (from the bundle modules), in the officer's language."""
    return {
        "submissions": _("reports"),
        "follow-ups": _("follow-ups"),
        "not yet in this inbox": _("not yet in this inbox"),
        "records imported": _("records imported"),
        "already here": _("already here"),
        "refused (see the audit log)": _("refused (see the audit log)"),
        "purged earlier, skipped": _("purged earlier, skipped"),
        "refusals queued": _("refusals queued (records this inbox can never open)"),
        "refused earlier, skipped": _("refused or removed earlier, skipped"),
        "record refusals": _("record refusals"),
        "record removals": _("record removal orders"),
        "acknowledgements queued": _("acknowledgements queued"),
        "replies the server confirmed": _("replies the server confirmed"),
        "replies": _("replies"),
        "replies delivered or read since": _("replies delivered or read since"),
        "deletions made again (from the server's copy of the list)": _(
            "deletions made again (from the server's copy of the list)"
        ),
        "acknowledgements": _("acknowledgements"),
        "purge orders": _("purge orders"),
        "acknowledgements held back until a backup": _("acknowledgements held back until a backup"),
        "held back for another desk": _("held back for another desk"),
    }


def _page(status: int = 200, **context: object) -> tuple[str, int]:
    with db.transaction(state().sessions) as session:
        other_desks = held_back.waiting(session, page_desk_names(session))
    page = render_template(
        "bundles.html",
        waiting=_waiting(),
        labels=_labels(),
        other_desks=other_desks,
        **context,
    )
    return page, status


@blueprint.get("/")
def index() -> tuple[str, int]:
    unlocked = require_unlocked()
    inbox = state()
    # Records held back for this officer's desks are filed as they open the page.
    try:
        with db.transaction(inbox.sessions) as session:
            applied = file_held_back(
                session,
                unlocked.keyring,
                store_dir=inbox.config.store_dir,
                now=inbox.config.clock(),
                officer_id=unlocked.officer_id,
            )
    except (BundleRefusedError, InboxError):
        # A record held here under an id the inbox now holds with other content, or a
        # damaged key: nothing was filed, they stay held.
        return _page(
            409,
            error=_(
                "The records held back for your desks could not be filed: nothing was "
                "changed, and they stay held. Ask a manager to look at the audit log."
            ),
        )
    filed = len(applied.imported.imported) if applied is not None else 0
    return _page(filed=filed)


@blueprint.post("/check")
def check() -> tuple[str, int]:
    unlocked = require_unlocked()
    upload = request.files.get("bundle")
    if upload is None or not upload.filename:
        return _page(400, error=_("Choose the bundle file to import."))
    try:
        data = read_limited(upload.stream, MAX_UPLOAD_BYTES)
        with db.transaction(state().sessions) as session:
            summary = preview_outbox(session, unlocked.keyring, data)
    except BundleRefusedError as exc:
        return _page(400, error=_("The bundle was refused: %(reason)s", reason=bundle_reason(exc)))
    held = _Held(secrets.token_urlsafe(16), data)
    _held("import")[unlocked.officer_id] = held
    return _page(before=summary, token=held.token)


@blueprint.post("/apply")
def apply() -> tuple[str, int]:
    unlocked = require_unlocked()
    held = _held("import").get(unlocked.officer_id)
    if held is None or not secrets.compare_digest(held.token, request.form.get("token", "")):
        return _page(400, error=_("Check the bundle again before applying it."))
    inbox = state()
    try:
        with db.transaction(inbox.sessions) as session:
            summary = import_outbox(
                session,
                unlocked.keyring,
                held.data,
                store_dir=inbox.config.store_dir,
                now=inbox.config.clock(),
                officer_id=unlocked.officer_id,
            )
        epochs.scrub(inbox.engine)  # destroyed keys: out of the write-ahead log too
    except BundleRefusedError as exc:
        return _page(400, error=_("The bundle was refused: %(reason)s", reason=bundle_reason(exc)))
    finally:
        _held("import").pop(unlocked.officer_id, None)
    return _page(after=summary)


@blueprint.post("/export")
def export() -> tuple[str, int]:
    unlocked = require_unlocked()
    inbox = state()
    out = io.BytesIO()
    with db.transaction(inbox.sessions) as session:
        summary = export_replies(session, unlocked.keyring, out, now=inbox.config.clock())
    name = f"whistle-replies-{summary.sequence:06d}.bundle"
    held = _Held(secrets.token_urlsafe(16), out.getvalue(), name)
    _held("export")[unlocked.officer_id] = held
    return _page(written=summary, token=held.token, filename=name)


@blueprint.post("/download")
def download() -> Response | tuple[str, int]:
    unlocked = require_unlocked()
    held = _held("export").get(unlocked.officer_id)
    if held is None or not secrets.compare_digest(held.token, request.form.get("token", "")):
        return _page(400, error=_("Write the replies bundle again."))
    return Response(
        held.data,
        mimetype="application/octet-stream",
        headers={"Content-Disposition": f'attachment; filename="{held.filename}"'},
    )
