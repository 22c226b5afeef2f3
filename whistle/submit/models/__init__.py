"""The submission server's tables: ciphertext records, their chunks, login lookups.

Nothing here can tell whether a source identified themselves, how many files
they sent or when in the day they came: ids are random, dates are days, sizes
are padded envelope sizes.
"""

from whistle.submit.models.base import Base
from whistle.submit.models.chunk import Chunk
from whistle.submit.models.login import Login
from whistle.submit.models.record import Record, RecordKind

__all__ = ["Base", "Chunk", "Login", "Record", "RecordKind"]
