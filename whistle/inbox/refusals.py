"""Officers' messages for refusals whose exceptions carry English text for the command line,
and for the other English the inbox writes itself (bundle notes, its own decision reasons).

Pages never show an exception's own text: each message here is chosen by the exception's
class, its ``why`` code, or (for a bundle that fails verification) the class of the crypto
error behind it, and is translated like every other string of the inbox.
"""

import errno as errnos
from collections.abc import Callable
from typing import Any

from flask_babel import gettext as _

from whistle.bundling import (
    BundleContentError,
    BundleRefusedError,
    BundleTooLargeError,
    CompressedBundleError,
    ConflictingRecordError,
    StaleBundleError,
)
from whistle.crypto.errors import (
    BadSignatureError,
    CryptoError,
    MalformedError,
    ManifestError,
    TamperedError,
    TruncatedError,
    UnsupportedVersionError,
    WrongKeyError,
    WrongPurposeError,
)
from whistle.epochs import CardRefusedError
from whistle.inbox.backup import BackupError
from whistle.inbox.bundles import NoBundleKeyError, NoServerPinnedError
from whistle.inbox.replies import ACKNOWLEDGEMENT_REASON

#: Most specific class first: the first match wins.
BUNDLES: list[tuple[type[BundleRefusedError], Callable[[], str]]] = [
    (NoServerPinnedError, lambda: _("no server card is pinned yet (see the Keys page)")),
    (NoBundleKeyError, lambda: _("this inbox holds no live bundle key: sign in again first")),
    (BundleTooLargeError, lambda: _("the file is larger than a bundle can be")),
    (
        CompressedBundleError,
        lambda: _(
            "the file is compressed or an archive, and bundles are never compressed: use the "
            "file exactly as it was exported"
        ),
    ),
    (
        StaleBundleError,
        lambda: _("its number is not newer than the last bundle applied, and its content differs"),
    ),
    (ConflictingRecordError, lambda: _("it holds a record this inbox has with other content")),
    (CardRefusedError, lambda: _("the office card it carries is not acceptable")),
    (BundleContentError, lambda: _("its instructions are malformed")),
]

#: For a bundle that failed verification: the crypto error behind it.
CAUSES: list[tuple[type[CryptoError], Callable[[], str]]] = [
    (UnsupportedVersionError, lambda: _("it was made by a newer Whistle: upgrade this inbox")),
    (WrongKeyError, lambda: _("it is not addressed to this inbox")),
    (WrongPurposeError, lambda: _("its manifest is signed for another purpose than bundles")),
    (BadSignatureError, lambda: _("its manifest is not signed by the pinned server key")),
    (TruncatedError, lambda: _("it is cut short")),
    (TamperedError, lambda: _("it was altered (it fails authentication)")),
    (ManifestError, lambda: _("its manifest is malformed")),
    (MalformedError, lambda: _("it is malformed")),
]


def bundle_reason(exc: BundleRefusedError) -> str:
    """Why a bundle was refused, in the officer's language (after "The bundle was refused:")."""
    for cls, message in BUNDLES:
        if isinstance(exc, cls):
            return message()
    for cause_cls, message in CAUSES:
        if isinstance(exc.__cause__, cause_cls):
            return message()
    return _("it cannot be read")


def _system(code: int | None) -> str:
    if code == errnos.ENOSPC:
        return _("the disk is full")
    if code == errnos.EROFS:
        return _("the disk is read-only")
    if code in (errnos.EACCES, errnos.EPERM):
        return _("this laptop's account may not write there")
    if code is not None and code in errnos.errorcode:
        return _("the system refused (%(code)s)", code=errnos.errorcode[code])
    return _("the system refused")


#: Why a backup could not be written, by ``BackupError.why`` (``path`` is the file or folder).
BACKUP_REASONS: dict[str, Callable[[BackupError], str]] = {
    "exists": lambda exc: _(
        "%(path)s exists already: choose a new file name", path=str(exc.path or "")
    ),
    "not-directory": lambda exc: _("%(path)s is not a directory", path=str(exc.path or "")),
    "system": lambda exc: _system(exc.errno),
    "database": lambda exc: _("the database could not be copied"),
    "keys": lambda exc: _("the keys signed in do not belong to this inbox's office"),
    "no-office": lambda exc: _("this inbox holds no office yet"),
    "stored-name": lambda exc: _("a stored file has an unexpected name"),
    "busy": lambda exc: _("another backup is being written to %(path)s", path=str(exc.path or "")),
    "appeared": lambda exc: _(
        "%(path)s appeared while the backup was written", path=str(exc.path or "")
    ),
}


def backup_reason(exc: BackupError) -> str:
    """Why a backup could not be written, in the officer's language."""
    message = BACKUP_REASONS.get(exc.why)
    return message(exc) if message else _("the system refused")


#: Why an attachment has no preview or cannot be cleaned, by ``PreviewError.why`` (and
#: ``Kind.reason``); "worker-…" are the image worker's own refusals.
PREVIEW_PROBLEMS: dict[str, Callable[[], str]] = {
    "empty": lambda: _("No preview: the file is empty."),
    "worker-empty": lambda: _("No preview: the file is empty."),
    "no-preview": lambda: _("This kind of file has no safe preview: download it instead."),
    "too-large": lambda: _("The file is too large to preview: download it instead."),
    "not-installed": lambda: _("The preview tool is not installed on this laptop."),
    "unfinished": lambda: _("The preview took too long: download the file instead."),
    "timeout": lambda: _("The preview took too long: download the file instead."),
    "output": lambda: _("No preview: the preview tool cannot read this file."),
    "too-heavy": lambda: _("This file takes too long to preview: download it instead."),
    "unreadable": lambda: _("No preview: the preview tool cannot read this file."),
    "worker-format": lambda: _("No preview: the file is not an image this preview can read."),
    "worker-pixels": lambda: _("No preview: the image has too many pixels."),
    "worker-damaged": lambda: _("No preview: the image is damaged or cut short."),
    "pdf-pages": lambda: _("No preview: the PDF's pages cannot be counted."),
    "first-pages": lambda: _("Only the first pages have a preview."),
    "empty-page": lambda: _("No preview: the page is empty."),
    "clean-too-large": lambda: _("The file is too large to clean here: download the original."),
    "unpacked": lambda: _("The file unpacks to too much: it cannot be cleaned here."),
    "nested": lambda: _("The file holds archives nested too deep to be cleaned here."),
    "too-many-files": lambda: _("The archive holds too many files to be cleaned here."),
    "damaged-archive": lambda: _("The archive is damaged: it cannot be cleaned here."),
}


def preview_problem(why: str) -> str:
    """Why an attachment has no preview or cannot be cleaned, in the officer's language."""
    return PREVIEW_PROBLEMS.get(why, lambda: _("No preview: download the file instead."))()


#: A bundle's notes (``BundleSummary.notices``), by kind, with their values.
BUNDLE_NOTES: dict[str, Callable[[dict[str, Any]], str]] = {
    "refused": lambda v: _(
        "Record %(record)s was refused: the audit log says why.", record=str(v["record"])[:16]
    ),
    "deletion-list-refused": lambda v: _(
        "The server's copy of the list of deletions is not this office's: it was not applied "
        "(the audit log says why)."
    ),
    "resent": lambda v: _(
        "The server no longer has %(n)d item(s) it had confirmed (restored from an older "
        "backup?): they go again with the next replies bundle.",
        n=v["n"],
    ),
    "pending": lambda v: _(
        "Key epoch %(epoch)d: %(n)d record(s) still on the server.", epoch=v["epoch"], n=v["n"]
    ),
    "destroyed": lambda v: _(
        "The desk keys of epoch %(epoch)d were destroyed: everything sent to them is collected.",
        epoch=v["epoch"],
    ),
    "held": lambda v: _(
        "%(n)d acknowledgement(s) held back: the server keeps those reports until a backup made "
        "after their import holds them (make a backup, then export again).",
        n=v["n"],
    ),
    "waiting": lambda v: (
        _(
            "%(reports)d report(s) and %(followups)d follow-up(s) for one of the desks "
            "%(desks)s wait for one of their members to collect them. They are kept as they "
            "came, unread, and the server keeps its copy until then.",
            reports=v["reports"],
            followups=v["followups"],
            desks=v["desks"],
        )
        if v["several"]
        else _(
            "%(reports)d report(s) and %(followups)d follow-up(s) for the desk %(desks)s wait "
            "for one of its members to collect them. They are kept as they came, unread, and "
            "the server keeps its copy until then.",
            reports=v["reports"],
            followups=v["followups"],
            desks=v["desks"],
        )
    ),
    "keys-wait": lambda v: _(
        "The new keys (epoch %(new)d) wait for a backup: until one holds them the server keeps "
        "encrypting to epoch %(old)d (make a backup, then export).",
        new=v["new"],
        old=v["old"],
    ),
}


def bundle_note(kind: str, values: dict[str, Any]) -> str:
    """One note of a bundle's summary, in the officer's language."""
    return BUNDLE_NOTES[kind](values)


#: Decision reasons the inbox writes itself (sealed like any reason): shown translated.
SYSTEM_REASONS: dict[str, Callable[[], str]] = {
    ACKNOWLEDGEMENT_REASON: lambda: _("Acknowledgement of receipt sent to the source."),
}


def decision_reason(reason: str) -> str:
    """A decision's reason as recorded, or its translation when the inbox wrote it."""
    message = SYSTEM_REASONS.get(reason)
    return message() if message else reason
