"""The inbox's tables, one model per file."""

from whistle.inbox.models.audit_event import AuditEvent
from whistle.inbox.models.backup import Backup
from whistle.inbox.models.base import Base
from whistle.inbox.models.bundle_log import BundleLog
from whistle.inbox.models.case import (
    OUTCOMES,
    STATUS_ACKNOWLEDGED,
    STATUS_CLOSED,
    STATUS_INVESTIGATING,
    STATUS_NEW,
    STATUSES,
    Case,
)
from whistle.inbox.models.case_grant import CaseGrant
from whistle.inbox.models.case_key import CaseKey
from whistle.inbox.models.case_search import CaseSearch
from whistle.inbox.models.case_seen import CaseSeen
from whistle.inbox.models.compartment import Compartment
from whistle.inbox.models.decision import Decision
from whistle.inbox.models.deletion import Deletion
from whistle.inbox.models.desk_grant import DeskGrant
from whistle.inbox.models.desk_key import DeskKey
from whistle.inbox.models.desk_member import DeskMember
from whistle.inbox.models.desk_search import DeskSearch
from whistle.inbox.models.disclosure import Disclosure
from whistle.inbox.models.held_record import HeldRecord
from whistle.inbox.models.key_epoch import KeyEpoch
from whistle.inbox.models.key_policy import KeyPolicy
from whistle.inbox.models.login_attempt import LoginAttempt
from whistle.inbox.models.note import Note
from whistle.inbox.models.office import Office
from whistle.inbox.models.officer import (
    ROLE_CUSTODIAN,
    ROLE_MANAGER,
    ROLE_OFFICER,
    ROLES,
    Officer,
)
from whistle.inbox.models.outgoing import OUTGOING_KINDS, Outgoing
from whistle.inbox.models.purged_case import PurgedCase
from whistle.inbox.models.record import KINDS, Record
from whistle.inbox.models.recusal import Recusal
from whistle.inbox.models.removed_desk import RemovedDesk
from whistle.inbox.models.reply import Reply
from whistle.inbox.models.search_index import SearchIndex
from whistle.inbox.models.security_key import SecurityKey
from whistle.inbox.models.setting import Setting
from whistle.inbox.models.step import STEP_KINDS, Step
from whistle.inbox.models.tombstone import Tombstone

__all__ = [
    "KINDS",
    "OUTCOMES",
    "OUTGOING_KINDS",
    "ROLES",
    "ROLE_CUSTODIAN",
    "ROLE_MANAGER",
    "ROLE_OFFICER",
    "STATUSES",
    "STATUS_ACKNOWLEDGED",
    "STATUS_CLOSED",
    "STATUS_INVESTIGATING",
    "STATUS_NEW",
    "STEP_KINDS",
    "AuditEvent",
    "Backup",
    "Base",
    "BundleLog",
    "Case",
    "CaseGrant",
    "CaseKey",
    "CaseSearch",
    "CaseSeen",
    "Compartment",
    "Decision",
    "Deletion",
    "DeskGrant",
    "DeskKey",
    "DeskMember",
    "DeskSearch",
    "Disclosure",
    "HeldRecord",
    "KeyEpoch",
    "KeyPolicy",
    "LoginAttempt",
    "Note",
    "Office",
    "Officer",
    "Outgoing",
    "PurgedCase",
    "Record",
    "Recusal",
    "RemovedDesk",
    "Reply",
    "SearchIndex",
    "SecurityKey",
    "Setting",
    "Step",
    "Tombstone",
]
