"""Rules both sides follow when they apply a bundle (docs/bundles.md).

Neutral ground: ``whistle.submit`` and ``whistle.inbox`` both import this module,
never each other. It reads a bundle file within bounds, names every way a bundle
is refused, and decides what a sequence number means against what was applied.
"""

import base64
import binascii
import enum
import io
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, BinaryIO, ClassVar, Protocol, TypeVar

from sqlalchemy import select
from sqlalchemy.orm import InstrumentedAttribute, Session

from whistle.crypto.bundles import BundleRecord, VerifiedBundle, read_bundle, record_hash_hex
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
from whistle.errors import WhistleError

#: Magic numbers of compressed or archived files: a bundle is never compressed, so a file
#: starting with one is refused unread (no decompression bomb can go off).
_COMPRESSED = {
    b"\x1f\x8b": "gzip",
    b"PK\x03\x04": "zip",
    b"\xfd7zXZ\x00": "xz",
    b"BZh": "bzip2",
    b"\x28\xb5\x2f\xfd": "zstd",
    b"7z\xbc\xaf\x27\x1c": "7z",
}


class BundleRefusedError(WhistleError):
    """A bundle was refused as a whole; nothing from it was applied."""


class BundleTooLargeError(BundleRefusedError):
    """The bundle is larger than this side accepts."""


class CompressedBundleError(BundleRefusedError):
    """The file is compressed or an archive: bundles never are."""


class StaleBundleError(BundleRefusedError):
    """A sequence number already used, with other content: a replay or a forgery."""


class ConflictingRecordError(BundleRefusedError):
    """A record id this side already holds with other content."""


class BundleContentError(BundleRefusedError):
    """The signed manifest's instructions (acknowledgements, purges, …) are malformed."""


def describe(exc: CryptoError) -> str:
    """A specific message for each way reading a bundle fails."""
    if isinstance(exc, UnsupportedVersionError):
        return f"the bundle was made by a newer Whistle: upgrade this side ({exc})"
    if isinstance(exc, WrongKeyError):
        return "the bundle is not addressed to this side (sealed to another key)"
    if isinstance(exc, WrongPurposeError):
        return "the bundle's manifest is signed for another purpose than bundles"
    if isinstance(exc, BadSignatureError):
        return "the bundle's manifest is not signed by the pinned key"
    if isinstance(exc, TruncatedError):
        return "the bundle is cut short (truncated)"
    if isinstance(exc, TamperedError):
        return "the bundle fails authentication (altered)"
    if isinstance(exc, ManifestError):
        return f"the bundle's manifest is malformed: {exc}"
    if isinstance(exc, MalformedError):
        return f"the bundle is malformed: {exc}"
    return f"the bundle is refused: {exc}"


def read_bundle_bytes(
    data: bytes,
    *,
    max_bytes: int,
    bundle_secret_key: bytes,
    signer_public_key: bytes,
    install_id: str,
    direction: str,
) -> VerifiedBundle:
    """Check size and shape, then verify the whole bundle (``BundleRefusedError`` if not)."""
    if len(data) > max_bytes:
        raise BundleTooLargeError(f"the bundle is larger than {max_bytes} bytes")
    for magic, name in _COMPRESSED.items():
        if data.startswith(magic):
            raise CompressedBundleError(
                f"the file is {name}-compressed; bundles are never compressed "
                "(use the file exactly as it was exported)"
            )
    try:
        return read_bundle(
            io.BytesIO(data),
            bundle_secret_key=bundle_secret_key,
            signer_public_key=signer_public_key,
            install_id=install_id,
            direction=direction,
        )
    except CryptoError as exc:
        raise BundleRefusedError(describe(exc)) from exc


def read_bundle_file(path: Path, *, max_bytes: int, **keys: Any) -> VerifiedBundle:
    """``read_bundle_bytes`` on a file, refusing an oversized one before reading it."""
    try:
        with path.open("rb") as handle:
            size = handle.seek(0, io.SEEK_END)
            if size > max_bytes:
                raise BundleTooLargeError(f"the bundle is larger than {max_bytes} bytes")
            handle.seek(0)
            data = handle.read()
    except OSError as exc:
        raise BundleRefusedError(f"cannot read {path}: {exc.strerror}") from exc
    return read_bundle_bytes(data, max_bytes=max_bytes, **keys)


def read_limited(stream: IO[bytes], max_bytes: int) -> bytes:
    """Read at most ``max_bytes`` from a stream; one byte more is refused."""
    data = stream.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise BundleTooLargeError(f"the bundle is larger than {max_bytes} bytes")
    return data


class Chain(enum.Enum):
    """How a new bundle's ``previous`` (protocol.md §11) follows what this side applied.

    Restore-tolerant: a sender numbers its next bundle max(its own last, this side's last
    applied) + 1, so a sender restored from an older backup still gets through; what its
    ``previous`` says is shown, never silently accepted, and nothing is refused for it.
    """

    FIRST = "first"  # nothing applied here yet, and the sender names no earlier bundle
    CONTINUOUS = "continuous"  # previous is the bundle applied here last
    GAP = "gap"  # bundles the sender made in between never arrived here
    RESTORED = "restored"  # previous is an older bundle applied here: the sender went back
    FORK = "fork"  # previous is not in this side's history although nothing was missed

    @property
    def unbroken(self) -> bool:
        return self in (Chain.FIRST, Chain.CONTINUOUS)


@dataclass(frozen=True)
class SequenceCheck:
    """What a bundle's sequence number means here: apply it, or it was already applied;
    and, for a new one, how its ``previous`` follows this side's history."""

    apply: bool
    last: int
    missed: int = 0
    chain: Chain = Chain.CONTINUOUS
    chain_note: str | None = None


def check_sequence(
    sequence: int, bundle_id: str, last: int, applied_at: Callable[[int], str | None]
) -> SequenceCheck:
    """Newer: apply (``missed`` counts skipped numbers; a gap is fine, bundles get lost).

    Not newer: a no-op if exactly this bundle was applied at that number, else refused.
    """
    if sequence > last:
        return SequenceCheck(True, last, missed=sequence - last - 1)
    if applied_at(sequence) == bundle_id:
        return SequenceCheck(False, last)
    raise StaleBundleError(
        f"bundle number {sequence} is not newer than {last} and is not the bundle applied "
        "under that number (a replay with other content?)"
    )


def check_chain(
    sequence: int,
    previous: str | None,
    last: tuple[int, str] | None,
    applied_as: Callable[[str], int | None],
) -> tuple[Chain, str | None, int]:
    """How a new bundle (``sequence``, ``previous``) follows ``last`` = (sequence, bundle id)
    applied here: the chain state, a note for people (None when unbroken), and how many
    bundles were missed. ``applied_as(bundle id)`` is the number it was applied under here."""
    if last is None:
        if previous is None:
            return Chain.FIRST, None, 0
        return (
            Chain.GAP,
            "the sender made bundles before this one that were never applied here",
            sequence - 1,
        )
    number, bundle_id = last
    if previous == bundle_id:
        return Chain.CONTINUOUS, None, 0
    if previous is None:
        return (
            Chain.FORK,
            f"this bundle names no earlier one, but no. {number} was applied here: the sender "
            "was set up again, or restored to before its first bundle",
            0,
        )
    earlier = applied_as(previous)
    if earlier is not None:
        return (
            Chain.RESTORED,
            f"the sender continues from bundle no. {earlier}, not from no. {number} applied "
            "here: it was restored from an older backup, and what it sent after that backup "
            "is not in its own history",
            0,
        )
    if sequence > number + 1:
        missed = sequence - number - 1
        return Chain.GAP, f"{missed} earlier bundle(s) never arrived here", missed
    return (
        Chain.FORK,
        f"the bundle before this one is not no. {number} applied here: the sender's history "
        "and this side's differ (two senders, or a sender restored and used again)",
        0,
    )


class LoggedBundle(Protocol):
    """What both sides' ``BundleLog`` models have in common: one row per bundle in a chain.

    The columns are declared as the class attributes SQLAlchemy makes of them (a ``Mapped``
    member of a protocol is not matched through its descriptor); on a row they read as values.
    """

    direction: ClassVar[InstrumentedAttribute[str]]
    sequence: ClassVar[InstrumentedAttribute[int]]
    bundle_id: ClassVar[InstrumentedAttribute[str]]


Log = TypeVar("Log", bound=LoggedBundle)


def last_logged(session: Session, log: type[Log], direction: str) -> Log | None:
    """The newest row of a side's bundle log (its ``BundleLog`` model) in ``direction``."""
    return session.scalar(
        select(log).where(log.direction == direction).order_by(log.sequence.desc()).limit(1)
    )


def check_logged(
    session: Session, log: type[LoggedBundle], direction: str, verified: VerifiedBundle
) -> SequenceCheck:
    """``check_sequence`` and ``check_chain`` for ``verified`` against a side's bundle log."""
    last = last_logged(session, log, direction)
    check = check_sequence(
        verified.manifest.sequence,
        verified.bundle_id,
        last.sequence if last else 0,
        lambda n: session.scalar(
            select(log.bundle_id).where(log.direction == direction, log.sequence == n)
        ),
    )
    if not check.apply:
        return check
    chain, note, missed = check_chain(
        verified.manifest.sequence,
        verified.manifest.previous,
        (last.sequence, last.bundle_id) if last else None,
        lambda bundle_id: session.scalar(
            select(log.sequence).where(log.direction == direction, log.bundle_id == bundle_id)
        ),
    )
    return SequenceCheck(True, check.last, missed=missed, chain=chain, chain_note=note)


class Held(enum.Enum):
    """What this side holds of a bundle's record (``held_records``)."""

    NEW = "new"
    PRESENT = "present"  # the same id with the same content and case: applied before
    TOMBSTONED = "tombstoned"  # purged here: never brought back


def held_records(
    records: Sequence[BundleRecord],
    *,
    stored: Callable[[str], tuple[str, bytes] | None],
    tombstoned: Callable[[BundleRecord], bool],
) -> list[tuple[BundleRecord, Held]]:
    """Each record of a verified bundle with what this side holds of it, in the bundle's order.

    ``stored(record_id)`` is the (case id, record hash) of the row this side holds under that id,
    or ``None``. A row with other content or in another case refuses the whole bundle
    (``ConflictingRecordError``) before the caller writes anything; what a side then does with
    each kind of record is its own.
    """
    held: list[tuple[BundleRecord, Held]] = []
    for record in records:
        row = stored(record.id)
        if row is not None and (
            row[1].hex() != record_hash_hex(record.envelope) or row[0] != record.case
        ):
            raise ConflictingRecordError(
                f"{record.kind} {record.id} is already here with other content"
            )
        if tombstoned(record):
            held.append((record, Held.TOMBSTONED))
        else:
            held.append((record, Held.NEW if row is None else Held.PRESENT))
    return held


@dataclass
class BundleSummary:
    """What a bundle holds or did, for people: printed by the CLI, shown by the inbox."""

    direction: str
    sequence: int
    bundle_id: str
    created: str
    already_applied: bool = False
    missed: int = 0
    #: How this bundle's ``previous`` follows this side's history, when it is not unbroken.
    chain_note: str | None = None
    counts: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    #: The notes again, as (kind, values), for a page to say in its own language.
    notices: list[tuple[str, dict[str, int | str]]] = field(default_factory=list)

    def note(self, kind: str, text: str, **values: int | str) -> None:
        """A note in English (``notes``, for the command line) and as ``kind`` with ``values``."""
        self.notes.append(text)
        self.notices.append((kind, values))

    def lines(self) -> list[str]:
        head = (
            f"{self.direction} bundle no. {self.sequence} ({self.bundle_id[:16]}…), {self.created}"
        )
        out = [head]
        if self.already_applied:
            out.append("already applied: nothing changed")
        if self.chain_note:
            out.append(f"bundle chain: {self.chain_note}")
        elif self.missed:
            out.append(f"{self.missed} earlier bundle(s) never arrived here (that is fine)")
        out += [f"{name}: {count}" for name, count in self.counts.items()]
        out += self.notes
        return out


def write_file_then(
    path: Path, write: Callable[[BinaryIO], object], commit: Callable[[], object]
) -> None:
    """Write ``path`` via a temporary file: fsync, ``commit()``, then rename into place.

    A failure before the commit leaves no file and no logged bundle; after it, at worst
    a sequence number is skipped (a gap, which the other side accepts).
    """
    temporary = path.with_name(f".{path.name}.partial")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "wb") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        commit()
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


#: ``manifest.extra`` field of both directions: the office's list of deletions
#: ``{"entries": n, "list": base64}`` (signed by the office, sealed to its storage key).
DELETIONS_FIELD = "deletions"
#: The largest list either side takes (base64 characters): about 100,000 deletions.
MAX_DELETIONS_CHARS = 32 * 1024 * 1024


def deletions_from_extra(extra: dict[str, Any]) -> tuple[int, bytes] | None:
    """(entries, blob) of the list a manifest carries, None when it carries none;
    ``BundleContentError`` when the field is malformed."""
    value = extra.get(DELETIONS_FIELD)
    if value is None:
        return None
    entries = value.get("entries") if isinstance(value, dict) else None
    text = value.get("list") if isinstance(value, dict) else None
    if (
        not isinstance(entries, int)
        or isinstance(entries, bool)
        or entries < 0
        or not isinstance(text, str)
        or len(text) > MAX_DELETIONS_CHARS
    ):
        raise BundleContentError("the list of deletions in the manifest is malformed")
    try:
        return entries, base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise BundleContentError("the list of deletions in the manifest is not base64") from exc


def deletions_extra(entries: int, blob: bytes) -> dict[str, Any]:
    return {DELETIONS_FIELD: {"entries": entries, "list": base64.b64encode(blob).decode("ascii")}}
