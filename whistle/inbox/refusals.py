"""Officers' messages for refusals whose exceptions carry English text for the command line
(case actions, bundles, backups, previews), and for the other English the inbox writes itself
(bundle notes, its own decision reasons).

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
from whistle.inbox import replies, workflow
from whistle.inbox.backup import BackupError
from whistle.inbox.bundles import NoBundleKeyError, NoServerPinnedError
from whistle.inbox.errors import (
    AcknowledgementWithheldError,
    AlreadyAcknowledgedError,
    AlreadyAssignedError,
    AlreadyWithheldError,
    CategoryRefusedError,
    ConfirmationRequiredError,
    DeletionRefusedError,
    EmptyReplyError,
    ExtensionRefusedError,
    InboxError,
    LabelTooLongError,
    MeetingRecordRequiredError,
    OutcomeNotAllowedError,
    OutcomeRequiredError,
    ReasonRequiredError,
    ReasonTooLongError,
    ReopenRefusedError,
    ReplyAlreadyReadyError,
    ReplyAlreadySentError,
    ReplyFileNameError,
    ReplyFilesTooLargeError,
    ReplyTooLongError,
    StateChangeRefusedError,
    StepRefusedError,
    TooManyLabelsError,
    TooManyReplyFilesError,
    UnknownOfficerError,
    UnknownReplyKindError,
    WorkflowError,
)
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
    "case-keys-held": lambda v: _(
        "%(n)d new case key(s) held back: until a backup made after they were created holds "
        "them, the server keeps sealing those cases' follow-ups as before (make a backup, then "
        "export again).",
        n=v["n"],
    ),
    "case-keys-above-server": lambda v: _(
        "The server holds case keys this inbox does not (was it restored from an older "
        "backup?): %(n)d case(s) get a new key, sent to the server once a backup holds it "
        "(make a backup, then export again).",
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


def extension_message(why: str) -> str:
    """Why the feedback deadline cannot be extended, by ``ExtensionRefusedError.why``."""
    return {
        "already-extended": _("The feedback deadline was already extended."),
        "closed": _("A closed case has no feedback deadline to extend."),
        "met": _("The feedback was already given: there is nothing to extend."),
        "too-late": _("The first feedback deadline has passed: it can no longer be extended."),
    }.get(why, _("The case's state does not allow this."))


def deletion_message(why: str) -> str:
    """Why a part cannot be deleted or its deletion postponed, by ``DeletionRefusedError.why``."""
    return {
        "no-such-part": _("Choose a message, file or field of this case to delete."),
        "grounds": _("Choose the grounds for the deletion."),
        "damaged": _("This record cannot be decrypted: it is damaged."),
        "investigation": _("An investigation was opened: no deletion is due."),
        "retention": _("A deletion cannot be postponed past the retention limit."),
    }.get(why, _("Postpone the deletion to a day after today."))


def step_message(why: str) -> str:
    """Why a Responsable's step cannot be recorded, by ``StepRefusedError.why``."""
    return {
        "recipient": _("Name the recipient (at most 200 characters)."),
        "day": _("Give the day it was done as YYYY-MM-DD: not before the report, not after today."),
        "kind": _("Choose what was done."),
        "not-told": _(
            "The reporter must be told before the disclosure: choose today or a later day, or "
            "record why telling them would jeopardise the investigation."
        ),
        "name": _("Give the Responsable's name (3 to 120 characters)."),
        "none": _("No Responsable del Sistema is recorded yet."),
        "meeting": _("No meeting was requested before that day."),
    }.get(why, _("The case's state does not allow this."))


#: The officer's message for each refusal a case action can meet, by class. A class not here
#: gets its nearest ancestor's message; the English text of an exception is never shown.
CASE_REFUSALS: dict[type[InboxError], Callable[[], str]] = {
    ReasonRequiredError: lambda: _("Give a reason for this decision."),
    ReasonTooLongError: lambda: _(
        "A reason has at most %(count)d characters.", count=workflow.MAX_REASON_CHARS
    ),
    UnknownOfficerError: lambda: _("No such officer."),
    LabelTooLongError: lambda: _(
        "A label has at most %(count)d characters.", count=workflow.MAX_LABEL_CHARS
    ),
    TooManyLabelsError: lambda: _(
        "A case has at most %(count)d labels.", count=workflow.MAX_LABELS
    ),
    EmptyReplyError: lambda: _("Write the reply before saving it."),
    ReplyTooLongError: lambda: _(
        "A reply has at most %(count)d characters.", count=replies.MAX_REPLY_CHARS
    ),
    TooManyReplyFilesError: lambda: _(
        "A reply carries at most %(count)d files.", count=replies.MAX_REPLY_FILES
    ),
    ReplyFilesTooLargeError: lambda: _("The files of a reply take at most 20 MiB together."),
    ReplyFileNameError: lambda: _("A file name has 1 to 200 characters and no slashes."),
    UnknownReplyKindError: lambda: _("Choose what kind of message this is."),
    MeetingRecordRequiredError: lambda: _("Attach the recording or the minutes of the meeting."),
    WorkflowError: lambda: _("The case's state does not allow this."),
    StateChangeRefusedError: lambda: _("The case's state does not allow this."),
    AlreadyAcknowledgedError: lambda: _("This case was already acknowledged."),
    OutcomeRequiredError: lambda: _("Choose the outcome to close the case."),
    OutcomeNotAllowedError: lambda: _("Only closing a case has an outcome."),
    AcknowledgementWithheldError: lambda: _("The acknowledgement was already sent."),
    AlreadyWithheldError: lambda: _("The acknowledgement was already withheld."),
    CategoryRefusedError: lambda: _("Choose one of the office's categories."),
    ReopenRefusedError: lambda: _("The case's state does not allow this."),
    ConfirmationRequiredError: lambda: _("Tick the confirmation: the deletion cannot be undone."),
    AlreadyAssignedError: lambda: _("This was already done."),
    ReplyAlreadySentError: lambda: _("This was already done."),
    ReplyAlreadyReadyError: lambda: _("This was already done."),
    InboxError: lambda: _("Something could not be done"),
}


#: Refusals that say which way they refuse (``why``): their messages are chosen by it.
CASE_REFUSALS_BY_WHY: dict[type[InboxError], Callable[[str], str]] = {
    ExtensionRefusedError: extension_message,
    DeletionRefusedError: deletion_message,
    StepRefusedError: step_message,
}


def refusal_message(exc: InboxError) -> str:
    """The translated message for ``exc``, chosen by its class (never by its English text)."""
    for cls, by_why in CASE_REFUSALS_BY_WHY.items():
        if isinstance(exc, cls):
            return by_why(getattr(exc, "why", ""))
    message = next(CASE_REFUSALS[cls] for cls in type(exc).__mro__ if cls in CASE_REFUSALS)
    return message()
