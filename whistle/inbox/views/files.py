"""Attachments: download (never rendered), metadata-free download, safe previews."""

from collections.abc import Callable, Iterator
from functools import partial

from flask import Blueprint, Response, render_template, url_for
from flask_babel import gettext as _
from sqlalchemy import select

from whistle.inbox import compartments, db, preview
from whistle.inbox.cases import get_case
from whistle.inbox.errors import AttachmentTooLargeError, CaseNotFoundError, PreviewError
from whistle.inbox.keystore import Unlocked
from whistle.inbox.models import Record
from whistle.inbox.preview import Made
from whistle.inbox.refusals import preview_problem
from whistle.inbox.store import open_attachment, read_attachment
from whistle.inbox.web import require_unlocked, state

blueprint = Blueprint("files", __name__, url_prefix="/cases/<case_id>/records/<record_id>/files")

DOWNLOAD_CSP = "default-src 'none'; sandbox"
#: Previews and metadata stripping work on a copy in memory; larger files are download-only.
MAX_IN_MEMORY = preview.MAX_INPUT_BYTES


def _record(case_id: str, record_id: str) -> tuple[Record, list[bytes]]:
    """The record and the keys of its case this officer holds (refused by key otherwise)."""
    inbox = state()
    with db.transaction(inbox.sessions) as session:
        case = get_case(session, case_id)
        keys = compartments.case_secrets(session, require_unlocked().keyring, case.id)
        record = session.scalar(
            select(Record).where(Record.id == record_id, Record.case_id == case.id)
        )
    if record is None:
        raise CaseNotFoundError("No such attachment.")
    return record, keys


def _load(case_id: str, record_id: str, index: int) -> tuple[str, bytes]:
    """The file in memory, for previews and mat2 (``AttachmentTooLargeError`` past the cap)."""
    record, keys = _record(case_id, record_id)
    store_dir = state().config.store_dir
    return read_attachment(keys, record, index, store_dir, limit=MAX_IN_MEMORY)


def _ascii_name(name: str) -> str:
    cleaned = "".join(c if c.isascii() and (c.isalnum() or c in "._-") else "_" for c in name)
    return cleaned.strip("._")[:100] or "attachment"


def _attachment(content: bytes | Iterator[bytes], name: str) -> Response:
    response = Response(content, mimetype="application/octet-stream")
    response.headers.set("Content-Disposition", "attachment", filename=_ascii_name(name))
    response.headers["Content-Security-Policy"] = DOWNLOAD_CSP
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


@blueprint.get("/<int:index>/download")
def download(case_id: str, record_id: str, index: int) -> Response:
    record, keys = _record(case_id, record_id)
    attachment = open_attachment(keys, record, index, state().config.store_dir)
    response = _attachment(attachment.chunks, attachment.name)
    response.headers["Content-Length"] = str(attachment.size)
    return response


@blueprint.post("/<int:index>/clean")
def clean(case_id: str, record_id: str, index: int) -> Response | tuple[str, int]:
    try:
        name, content = _load(case_id, record_id, index)
        cleaned = preview.strip_metadata(state().config, name, content)
    except AttachmentTooLargeError:
        message = _("The file is too large to clean here: download the original.")
        return render_template("error.html", message=message, status=422), 422
    except PreviewError as exc:
        message = preview_problem(exc.why)
        return render_template("error.html", message=message, status=422), 422
    return _attachment(cleaned, "clean-" + name)


def _cached(
    unlocked: Unlocked, record_id: str, index: int, what: str, make: Callable[[], Made]
) -> Made:
    """A preview made once per unlocked session, within the attachment's time budget."""
    budget = state().config.preview_budget_seconds
    return unlocked.previews.get_or_make((record_id, str(index)), what, budget, make)


@blueprint.get("/<int:index>")
def show(case_id: str, record_id: str, index: int) -> str:
    unlocked = require_unlocked()
    record, keys = _record(case_id, record_id)
    attachment = open_attachment(keys, record, index, state().config.store_dir)
    attachment.chunks.close()
    if attachment.size > MAX_IN_MEMORY:
        return render_template(
            "attachment.html",
            case_id=case_id,
            record_id=record_id,
            index=index,
            name=attachment.name,
            size=attachment.size,
            kind="none",
            pages=[],
            text=None,
            cut=False,
            problem=_("The file is too large to preview: download it instead."),
        )
    name, content = _load(case_id, record_id, index)
    kind = preview.classify(content)
    pages: list[str] = []
    text: str | None = None
    cut = False
    problem = preview_problem(kind.reason) if kind.reason else None
    config = state().config
    try:
        if kind.name == "image":
            _cached(
                unlocked,
                record_id,
                index,
                "page-0",
                partial(preview.image_preview, config, content),
            )
            pages = [
                url_for("files.image", case_id=case_id, record_id=record_id, index=index, page=0)
            ]
        elif kind.name == "pdf":
            counted = partial(preview.pdf_page_count, config, content)
            count = min(
                _cached(unlocked, record_id, index, "pages", counted), preview.MAX_PDF_PAGES
            )
            pages = [
                url_for("files.image", case_id=case_id, record_id=record_id, index=index, page=p)
                for p in range(1, count + 1)
            ]
        elif kind.name == "text":
            text, cut = preview.text_preview(content)
    except PreviewError as exc:
        problem = preview_problem(exc.why)
    return render_template(
        "attachment.html",
        case_id=case_id,
        record_id=record_id,
        index=index,
        name=name,
        size=len(content),
        kind=kind.name,
        pages=pages,
        text=text,
        cut=cut,
        problem=problem,
    )


@blueprint.get("/<int:index>/preview/<int:page>.png")
def image(case_id: str, record_id: str, index: int, page: int) -> Response:
    unlocked = require_unlocked()
    _, content = _load(case_id, record_id, index)
    config = state().config
    kind = preview.classify(content)
    if kind.name == "image" and page == 0:
        make = partial(preview.image_preview, config, content)
    elif kind.name == "pdf" and page >= 1:
        make = partial(preview.pdf_page_preview, config, content, page)
    else:
        raise CaseNotFoundError("No such preview.")
    png = _cached(unlocked, record_id, index, f"page-{page}", make)
    response = Response(png, mimetype="image/png")
    response.headers["Content-Security-Policy"] = DOWNLOAD_CSP
    return response
