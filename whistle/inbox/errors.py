"""Every way the inbox refuses something, one class each (the UI and CLI say which)."""

from whistle.errors import WhistleError


class InboxError(WhistleError):
    """The inbox refused an action; the message is for the officer."""


class SetupError(InboxError):
    """The office cannot be created here (already exists, bad options)."""


class NotSetUpError(InboxError):
    """The directory holds no office: run ``whistle office init`` first."""


class LoginError(InboxError):
    """Wrong name or password (never says which)."""


class ThrottledError(LoginError):
    """Too many failed sign-ins: wait before trying again."""

    def __init__(self, message: str, retry_after_seconds: int) -> None:
        super().__init__(message)
        self.retry_after_seconds = retry_after_seconds


class PermissionDeniedError(InboxError):
    """The officer's role does not allow this."""


class CustodianRoleError(PermissionDeniedError):
    """The custodian role is given only when an officer is added (their custodian key is
    wrapped with their own password), and only by a custodian or with the recovery key."""


class PasswordLengthError(InboxError):
    """A new password is shorter or longer than the inbox accepts."""


class NotCustodianError(PermissionDeniedError):
    """Only an identity custodian (holding the custodian key) can do this."""


class DisclosureRequiredError(PermissionDeniedError):
    """The identification opens only after a recorded disclosure decision."""


class ImportRefusedError(InboxError):
    """One record was refused at import (the rest of the batch is unaffected)."""


class CaseMissingError(ImportRefusedError):
    """A follow-up or reply for a case this inbox does not have: the record itself may be
    sound (its report was collected by an inbox since restored from an older backup, or is
    withheld), so it is refused for good only along with a report refused for good."""


class CaseNotFoundError(InboxError):
    """No case or attachment with that id."""


class UnreadableRecordError(InboxError):
    """A stored record cannot be decrypted (corrupt or tampered): that case shows an error."""


class AttachmentTooLargeError(InboxError):
    """The file is too large to preview or clean in memory: download it instead."""


class PreviewError(InboxError):
    """An attachment cannot be previewed safely: download it instead. The message (English)
    is for logs; pages translate ``why`` (see ``whistle.inbox.refusals``)."""

    def __init__(self, message: str, *, why: str = "") -> None:
        super().__init__(message)
        self.why = why


class ServerCardError(InboxError):
    """The server card cannot be pinned."""


class AuditChainError(InboxError):
    """The audit log's hash chain is broken; ``entry_id`` is the first broken entry."""

    def __init__(self, message: str, entry_id: int) -> None:
        super().__init__(message)
        self.entry_id = entry_id


class ReasonRequiredError(InboxError):
    """A decision (state change, extension, assignment, purge) needs a reason."""


class ReasonTooLongError(ReasonRequiredError):
    """The reason given for a decision is longer than the inbox keeps."""


class UnknownOfficerError(InboxError):
    """The case is assigned to someone who is not an officer here."""


class LabelTooLongError(InboxError):
    """One of a case's labels is longer than allowed."""


class TooManyLabelsError(InboxError):
    """A case would carry more labels than allowed."""


class ReplyRefusedError(InboxError):
    """A reply draft cannot be saved as written; each subclass says why."""


class EmptyReplyError(ReplyRefusedError):
    """The reply has no text."""


class ReplyTooLongError(ReplyRefusedError):
    """The reply's text is longer than allowed."""


class TooManyReplyFilesError(ReplyRefusedError):
    """The reply carries more files than allowed."""


class ReplyFilesTooLargeError(ReplyRefusedError):
    """The reply's files are larger, together, than allowed."""


class ReplyFileNameError(ReplyRefusedError):
    """A file name of the reply is empty, too long or has a slash."""


class UnknownReplyKindError(ReplyRefusedError):
    """The reply's purpose is not one the inbox knows."""


class MeetingRecordRequiredError(ReplyRefusedError):
    """A meeting's reply needs its recording or minutes attached."""


class WorkflowError(InboxError):
    """The case's state does not allow this; each subclass is one refusal (the views translate
    each by its class, never by its English text)."""


class StateChangeRefusedError(WorkflowError):
    """The case cannot go from its state to the one asked for."""


class AlreadyAcknowledgedError(WorkflowError):
    """The case was acknowledged already."""


class OutcomeRequiredError(WorkflowError):
    """Closing a case needs one of the outcomes."""


class OutcomeNotAllowedError(WorkflowError):
    """An outcome was given for a change other than closing."""


class ReopenRefusedError(WorkflowError):
    """Only a closed case can be reopened."""


class AlreadyAssignedError(WorkflowError):
    """The case is assigned to that officer (or to nobody) already."""


class ConfirmationRequiredError(WorkflowError):
    """Deleting a case needs its confirmation ticked."""


class ReplyAlreadySentError(WorkflowError):
    """The reply left the drafts: it can no longer change."""


class ReplyAlreadyReadyError(WorkflowError):
    """The reply was marked ready already."""


class CasePurgedError(CaseNotFoundError):
    """The case was purged: only its tombstone is left."""


class BadPassphraseError(InboxError):
    """An export passphrase that is too short."""


class NoSuchOfficerError(InboxError):
    """No (current) officer has that name."""


class LastManagerError(InboxError):
    """The last manager cannot be removed or lose the manager role."""


class RecoveryKeyError(InboxError):
    """The recovery key is mistyped, or is not this office's: nothing was changed."""


class OfficerNameTakenError(InboxError):
    """The name belongs to an officer, current or removed (``removed`` says which)."""

    def __init__(self, message: str, *, removed: bool) -> None:
        super().__init__(message)
        self.removed = removed


class ExtensionRefusedError(WorkflowError):
    """The feedback deadline cannot be extended: already extended, already met, the case is
    closed, or the first deadline has passed (``why`` says which)."""

    def __init__(self, message: str, *, why: str = "") -> None:
        super().__init__(message)
        self.why = why


class AcknowledgementWithheldError(WorkflowError):
    """The acknowledgement cannot be withheld: it was already sent."""


class AlreadyWithheldError(AcknowledgementWithheldError):
    """The acknowledgement cannot be withheld: it was already withheld."""


class DeletionRefusedError(WorkflowError):
    """A deletion or its postponement is refused; ``why`` says which way: "no-such-part",
    "grounds", "damaged", "investigation", "retention" or "date"."""

    def __init__(self, message: str, *, why: str = "") -> None:
        super().__init__(message)
        self.why = why


class CategoryRefusedError(InboxError):
    """A category that is not in the office's list, or a list that is malformed."""


class DeletionListError(InboxError):
    """A list of deletions that is not this office's, or altered: nothing was applied."""


class StepRefusedError(InboxError):
    """A step of the Responsable is refused; ``why`` says which way ("recipient", "day",
    "kind", "not-told", "name", "none", "meeting")."""

    def __init__(self, message: str, *, why: str = "") -> None:
        super().__init__(message)
        self.why = why


class SecurityKeyError(InboxError):
    """A security key's answer (WebAuthn) was refused; each subclass says why."""


class SecurityKeyRefusedError(SecurityKeyError):
    """Absent, malformed, not signed by a key of this officer, or for another challenge (a
    replay or an expired page): one answer, so a prober learns nothing more."""


class SecurityKeyNotEnrolledError(SecurityKeyError):
    """No security key with that label or number belongs to this officer."""


class SecurityKeyLabelError(SecurityKeyError):
    """A security key's name is empty or too long."""


class SecondFactorRequiredError(LoginError):
    """This officer signs in with a security key as well: the password alone opens nothing."""


class LastSecurityKeyError(SecurityKeyError):
    """Removing an officer's last key with the recovery key would strand their keyrings."""


class CaseLockedError(CaseNotFoundError):
    """The signed-in officer's keys do not open this case: another desk's, or they stepped
    aside from it. Said the same way for both, and like a missing case to the pages."""


class DeskError(InboxError):
    """A desk or membership change that cannot be made (unknown desk, not a member …)."""


class LastMemberError(DeskError):
    """Removing the last member of a desk would leave its cases to the recovery key alone."""


class DeskHasCasesError(DeskError):
    """A desk that still holds cases (open or closed) cannot be removed: they would be left
    with keys nobody holds. Move them to another desk first (or in the same step)."""

    def __init__(self, message: str, *, cases: int, open_cases: int) -> None:
        super().__init__(message)
        self.cases = cases
        self.open_cases = open_cases


class DeskCasesLockedError(DeskError):
    """Moving a desk's cases needs keys that open each of them: the manager's do not open
    ``locked`` of them (not a member, or stepped aside)."""

    def __init__(self, message: str, *, locked: int) -> None:
        super().__init__(message)
        self.locked = locked


class OfficerDesksError(DeskError):
    """Desks chosen for someone who will not be an officer (only officers handle cases)."""


class LastDeskError(DeskError):
    """The office's only desk cannot be removed: sources would have nowhere to report."""


class SuccessorDeskError(DeskError):
    """The desk chosen to receive a removed desk's cases is not another desk of the card."""


class RecusalError(InboxError):
    """A recusal that cannot be recorded (already recorded, no reason, not allowed)."""


class CompartmentsMigrationError(InboxError):
    """The move from the single storage key into desk compartments cannot run."""


class HeldBackError(InboxError):
    """A record for a desk the importer is not in: kept as it arrived for one of its members
    (``held_back.py``), neither filed nor refused. ``desk_id``: its desk when known."""

    def __init__(self, message: str, *, desk_id: str | None = None) -> None:
        super().__init__(message)
        self.desk_id = desk_id
