"""The submission server's tables: ciphertext records, their chunks, login lookups.

Nothing here can tell whether a source identified themselves, how many files
they sent or when in the day they came: ids are random, dates are days, sizes
are padded envelope sizes.
"""

from whistle.submit.models.base import Base
from whistle.submit.models.bundle_log import BundleLog
from whistle.submit.models.case_key import CaseKeyRow
from whistle.submit.models.challenge import CourierChallenge
from whistle.submit.models.chunk import Chunk
from whistle.submit.models.deletion_list import DeletionListRow
from whistle.submit.models.login import Login
from whistle.submit.models.office_card import OfficeCardRow
from whistle.submit.models.record import Record, RecordKind
from whistle.submit.models.source_copy import SourceCopy
from whistle.submit.models.tombstone import Tombstone

__all__ = [
    "Base",
    "BundleLog",
    "CaseKeyRow",
    "Chunk",
    "CourierChallenge",
    "DeletionListRow",
    "Login",
    "OfficeCardRow",
    "Record",
    "RecordKind",
    "SourceCopy",
    "Tombstone",
]
