"""Backing up the whole inbox into one file, and restoring it on another machine.

    make_backup     a consistent copy of the database (SQLite's online backup API, into
                    a private directory beside it), then one file: a plaintext header
                    (office fingerprint, date, every officer's wrapped keyring and the
                    recovery keyring, what it covers) and one envelope sealed from the
                    storage key to itself holding the database copy and every stored
                    record file (``whistle.crypto.backup``, docs/protocol.md §13).
                    Written to a temporary file, fsynced, renamed; only then is the
                    backup logged, its records marked as backed up (which releases
                    their acknowledgements, ``outgoing.split_acks``) and an audit
                    event written.
    read_header     what the file says about itself, before any password is asked
    restore_backup  refuses a non-empty target, another office (``expect_fingerprint``),
                    a wrong password or recovery key, a truncated or altered file —
                    each its own error, and nothing written: the whole content is
                    authenticated first, then written into a temporary directory next to
                    the target, checked (office keys, every stored file, the audit
                    chain), logged, and renamed into place.

The backup opens with the password of any officer who existed when it was made, or with
the recovery key, because it carries their wrapped keyrings and the content is encrypted
to the storage key inside them. Officers and keys are restored exactly as they were.

One module although it is over 600 lines: writing and reading the file are the two halves of
one format, with its constants and its errors; apart, a change to one could miss the other.
"""

import os
import re
import secrets
import shutil
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO

from alembic.util.exc import CommandError
from sqlalchemy import select, tuple_, update
from sqlalchemy.orm import Session, sessionmaker

from whistle.crypto import (
    CodeError,
    CryptoError,
    MalformedError,
    PartData,
    PartEnd,
    PartStart,
    SecondFactorNeededError,
    TamperedError,
    TruncatedError,
    UnsupportedVersionError,
    WrongKeyError,
    WrongPassphraseError,
    fingerprint,
    recovery_wrapping_key,
    same_fingerprint,
    signing_keypair_from_seed,
)
from whistle.crypto.backup import BackupHeader, open_backup, read_backup_header, start_backup
from whistle.durable import sync_directory
from whistle.inbox import db
from whistle.inbox.audit import record_event, verify_chain
from whistle.inbox.deletions import LIST_FILE, apply_list, deletion_list, read_list
from whistle.inbox.errors import AuditChainError, InboxError
from whistle.inbox.keyring import OfficeKeyring, unwrap_office, unwrap_office_recovery
from whistle.inbox.models import Backup, CaseKey, Office, Record
from whistle.inbox.workflow import remove_files

DATABASE_PART = "inbox.sqlite"
STORE_PREFIX = "store/"
_STORE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
_DATE = "%Y-%m-%dT%H:%M:%SZ"
#: One part per stored record plus the database: far above any office's case count.
MAX_PARTS = 10_000_000
SUFFIX = ".wbak"


class BackupError(InboxError):
    """A backup cannot be made or restored. The message (English) is for the command line;
    the inbox's pages translate ``why`` ("exists", "not-directory", "system", "database",
    "keys", "no-office", "stored-name", "busy", "appeared"), with ``path`` and ``errno``."""

    def __init__(
        self, message: str, *, why: str = "", path: Path | None = None, errno: int | None = None
    ) -> None:
        super().__init__(message)
        self.why = why
        self.path = path
        self.errno = errno


class BackupChangedError(BackupError):
    """The inbox changed while the backup was made (a case was purged): make it again."""


class BackupFormatError(BackupError):
    """The file is not a Whistle backup, or one made by a newer Whistle."""


class BackupTruncatedError(BackupError):
    """The backup file is cut short (an interrupted copy?)."""


class BackupTamperedError(BackupError):
    """The backup fails authentication: altered, or put together from several files."""


class BackupWrongPasswordError(BackupError):
    """The password does not open this officer's keys in the backup."""


class BackupUnknownOfficerError(BackupError):
    """No officer of that name existed when the backup was made."""


class BackupWrongRecoveryKeyError(BackupError):
    """The recovery key is mistyped or belongs to another office."""


class BackupOfficeMismatchError(BackupError):
    """The backup belongs to another office than the fingerprint expected."""


class RestoreTargetError(BackupError):
    """The restore target is not an empty (or new) directory."""


@dataclass(frozen=True)
class BackupMade:
    path: Path
    backup_id: str
    made_at: datetime
    size: int
    records: int
    store_files: int
    #: Written to the disk the inbox itself lives on: it dies with the laptop.
    same_disk: bool = False


@dataclass(frozen=True)
class BackupInfo:
    """What a backup's header says (not authenticated until the backup is opened)."""

    office_name: str
    fingerprint: str
    made_at: datetime
    backup_id: str
    officers: tuple[str, ...]
    records: int
    last_import_at: datetime | None
    header: BackupHeader


@dataclass(frozen=True)
class Restored:
    info: BackupInfo
    records: int
    audit_entries: int
    #: Deletions made after the backup, made again from the list given to the restore.
    deletions_reapplied: int = 0


# --- Making a backup --------------------------------------------------------------------


def default_file_name(now: datetime) -> str:
    return f"whistle-backup-{now.astimezone(UTC):%Y%m%d-%H%M%S}{SUFFIX}"


def make_backup(
    sessions: sessionmaker[Session],
    database_path: Path,
    store_dir: Path,
    keyring: OfficeKeyring,
    out: Path,
    *,
    now: datetime,
    officer_id: int | None = None,
) -> BackupMade:
    """Write a backup of the inbox to ``out`` (a new file), then log it."""
    if out.exists():
        raise BackupError(f"{out} exists already: choose a new file name.", why="exists", path=out)
    if not out.parent.is_dir():
        raise BackupError(f"{out.parent} is not a directory.", why="not-directory", path=out.parent)
    backup_id = secrets.token_hex(16)
    made_at = now.astimezone(UTC).replace(microsecond=0)
    try:
        return _make_backup(
            sessions, database_path, store_dir, keyring, out, backup_id, made_at, now, officer_id
        )
    except OSError as exc:
        raise BackupError(
            f"The backup could not be made: {exc.strerror}.", why="system", errno=exc.errno
        ) from exc


def _make_backup(
    sessions: sessionmaker[Session],
    database_path: Path,
    store_dir: Path,
    keyring: OfficeKeyring,
    out: Path,
    backup_id: str,
    made_at: datetime,
    now: datetime,
    officer_id: int | None,
) -> BackupMade:
    with _private_dir(database_path.parent, ".backup-") as scratch:
        snapshot = scratch / DATABASE_PART
        try:
            _snapshot(database_path, snapshot)
            facts = _snapshot_facts(snapshot)
        except sqlite3.Error as exc:
            raise BackupError(f"The database could not be copied: {exc}.", why="database") from exc
        if facts.storage_public != keyring.storage_public:
            raise BackupError(
                "The keys signed in do not belong to this inbox's office.", why="keys"
            )
        fields = {
            "version": 1,
            "backup_id": backup_id,
            "created": made_at.strftime(_DATE),
            "office": {"name": facts.office_name, "fingerprint": facts.fingerprint},
            "officers": [
                {"name": name, "keyring": wrapped.decode("ascii")}
                for name, wrapped in facts.officers
            ],
            "recovery_keyring": facts.recovery_keyring.decode("ascii"),
            "covers": {
                "records": len(facts.record_ids),
                "last_import": facts.last_import.strftime(_DATE) if facts.last_import else None,
                "audit_entries": facts.audit_entries,
            },
        }
        size = _write_atomically(
            out,
            lambda handle: _write_content(
                handle, fields, keyring, snapshot, store_dir, facts.stored_names
            ),
        )
    with db.transaction(sessions) as session:
        session.add(
            Backup(
                backup_id=backup_id,
                made_at=made_at.replace(tzinfo=None),
                officer_id=officer_id,
                file_name=out.name[:255],
                directory=str(out.parent)[:4096],
                size=size,
                records=len(facts.record_ids),
                last_import_at=facts.last_import,
                audit_entries=facts.audit_entries,
                restored=False,
            )
        )
        _mark_backed_up(session, facts.record_ids, made_at)
        _mark_case_keys_backed_up(session, facts.case_keys, made_at)
        record_event(
            session,
            now,
            "backup-made",
            officer_id=officer_id,
            detail=f"{backup_id} {len(facts.record_ids)} records, {size} bytes",
        )
    with db.transaction(sessions) as session:
        write_deletion_list(session, keyring, out.parent / LIST_FILE)
    same_disk = out.parent.stat().st_dev == database_path.stat().st_dev
    return BackupMade(
        out, backup_id, made_at, size, len(facts.record_ids), len(facts.stored_names), same_disk
    )


def write_deletion_list(session: Session, keyring: OfficeKeyring, path: Path) -> None:
    """The signed list of every deletion, replacing the one at ``path`` (beside the backups:
    a restore of any of them applies it, ``restore_backup(deletions=...)``)."""
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(4)}")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(deletion_list(session, keyring))
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    sync_directory(path.parent)


def _snapshot(database_path: Path, target: Path) -> None:
    """A consistent copy of the live database, taken with SQLite's online backup API."""
    source = sqlite3.connect(f"{database_path.resolve().as_uri()}?mode=ro", uri=True)
    copy = sqlite3.connect(target)
    try:
        source.backup(copy)
        # One self-contained file (the live database is in WAL mode; the copy needs no -wal).
        copy.execute("PRAGMA journal_mode=DELETE")
        copy.commit()
    finally:
        copy.close()
        source.close()


@dataclass(frozen=True)
class _Facts:
    office_name: str
    fingerprint: str
    storage_public: bytes
    recovery_keyring: bytes
    officers: list[tuple[str, bytes]]
    record_ids: list[str]
    stored_names: list[str]
    #: (case id, generation, public key) of every case key the snapshot holds.
    case_keys: list[tuple[str, int, bytes]]
    last_import: datetime | None
    audit_entries: int


def _snapshot_facts(snapshot: Path) -> _Facts:
    connection = sqlite3.connect(snapshot)
    try:
        office = connection.execute(
            "SELECT name, fingerprint, storage_public_key, recovery_keyring FROM office"
        ).fetchone()
        if office is None:
            raise BackupError(
                "This inbox holds no office yet: nothing to back up.", why="no-office"
            )
        officers = connection.execute(
            "SELECT name, wrapped_keyring FROM officer WHERE password_hash != '' ORDER BY id"
        ).fetchall()
        records = connection.execute("SELECT id, stored_name FROM record ORDER BY id").fetchall()
        case_keys = connection.execute(
            "SELECT case_id, generation, public_key FROM case_key"
        ).fetchall()
        last = connection.execute("SELECT max(imported_at) FROM record").fetchone()[0]
        audit = connection.execute("SELECT count(*) FROM audit_event").fetchone()[0]
    finally:
        connection.close()
    return _Facts(
        office_name=office[0],
        fingerprint=office[1],
        storage_public=bytes(office[2]),
        recovery_keyring=bytes(office[3]),
        officers=[(name, bytes(wrapped)) for name, wrapped in officers],
        record_ids=[r[0] for r in records],
        stored_names=[r[1] for r in records],
        case_keys=[(case_id, gen, bytes(public)) for case_id, gen, public in case_keys],
        last_import=datetime.fromisoformat(last) if last else None,
        audit_entries=int(audit),
    )


def _write_content(
    handle: BinaryIO,
    fields: dict[str, Any],
    keyring: OfficeKeyring,
    snapshot: Path,
    store_dir: Path,
    stored_names: list[str],
) -> None:
    writer = start_backup(handle, fields, keyring.storage_secret)
    with snapshot.open("rb") as source:
        writer.add_file(DATABASE_PART, source)
    for name in sorted(stored_names):
        if not _STORE_NAME.fullmatch(name) or ".." in name:
            raise BackupError(f"A stored file has an unexpected name: {name!r}.", why="stored-name")
        try:
            with (store_dir / name).open("rb") as source:
                writer.add_file(STORE_PREFIX + name, source)
        except FileNotFoundError as exc:
            raise BackupChangedError(
                "The inbox changed while the backup was made (a case was deleted): "
                "make the backup again."
            ) from exc
    writer.finish()


def _write_atomically(out: Path, write: Callable[[BinaryIO], None]) -> int:
    """Write via ``.NAME.partial`` beside ``out``: fsync, rename, fsync the directory."""
    temporary = out.with_name(f".{out.name}.partial")
    try:
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError as exc:
        raise BackupError(
            f"{temporary} exists: another backup is being written there?", why="busy", path=out
        ) from exc
    except OSError as exc:
        raise BackupError(
            f"Cannot write to {out.parent}: {exc.strerror}.", why="system", errno=exc.errno
        ) from exc
    try:
        with os.fdopen(fd, "wb") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
            size = handle.tell()
        if out.exists():
            raise BackupError(
                f"{out} appeared while the backup was written: nothing replaced.",
                why="appeared",
                path=out,
            )
        os.replace(temporary, out)
        sync_directory(out.parent)
    except OSError as exc:
        temporary.unlink(missing_ok=True)
        raise BackupError(
            f"The backup could not be written to {out}: {exc.strerror}.",
            why="system",
            errno=exc.errno,
        ) from exc
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    return size


def _mark_backed_up(session: Session, record_ids: list[str], at: datetime) -> None:
    naive = at.replace(tzinfo=None)
    for start in range(0, len(record_ids), 500):
        session.execute(
            update(Record)
            .where(Record.id.in_(record_ids[start : start + 500]), Record.backed_up_at.is_(None))
            .values(backed_up_at=naive)
        )


def _mark_case_keys_backed_up(
    session: Session, keys: list[tuple[str, int, bytes]], at: datetime
) -> None:
    """The case keys a backup holds may be announced to the server (``case_announce``): by
    key, as the snapshot has them, so a generation made again since is not taken for it."""
    naive = at.replace(tzinfo=None)
    for start in range(0, len(keys), 500):
        session.execute(
            update(CaseKey)
            .where(
                tuple_(CaseKey.case_id, CaseKey.generation, CaseKey.public_key).in_(
                    keys[start : start + 500]
                ),
                CaseKey.backed_up_at.is_(None),
            )
            .values(backed_up_at=naive)
        )


@contextmanager
def _private_dir(parent: Path, prefix: str) -> Iterator[Path]:
    path = parent / f"{prefix}{secrets.token_hex(8)}"
    path.mkdir(mode=0o700)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


# --- What the inbox shows about backups ------------------------------------------------


@dataclass(frozen=True)
class BackupStatus:
    last: Backup | None
    waiting: int
    warning_days: int
    too_old: bool


def backup_status(session: Session, now: datetime) -> BackupStatus:
    """The last backup, how many records no backup holds yet, and whether to warn."""
    from sqlalchemy import func

    from whistle.inbox.settings import backup_warning_days

    last = session.scalars(select(Backup).order_by(Backup.made_at.desc()).limit(1)).first()
    waiting = session.scalar(
        select(func.count()).select_from(Record).where(Record.backed_up_at.is_(None))
    )
    days = backup_warning_days(session)
    naive = now.astimezone(UTC).replace(tzinfo=None)
    too_old = last is None or (naive - last.made_at).total_seconds() > days * 86400
    return BackupStatus(last, int(waiting or 0), days, too_old)


# --- Restoring -------------------------------------------------------------------------


def read_header(source: BinaryIO) -> BackupInfo:
    """Parse the header (``source`` is left at the content). Nothing is authenticated yet."""
    try:
        header = read_backup_header(source)
    except UnsupportedVersionError as exc:
        raise BackupFormatError(f"This backup cannot be read here: {exc}.") from exc
    except TruncatedError as exc:
        raise BackupTruncatedError("The backup file is cut short (truncated).") from exc
    except MalformedError as exc:
        raise BackupFormatError(f"This is not a Whistle backup ({exc}).") from exc
    fields = header.fields
    try:
        if fields["version"] != 1:
            raise BackupFormatError("This backup's header version is unknown here.")
        officers = tuple(str(o["name"]) for o in fields["officers"])
        covers = fields["covers"]
        last = covers["last_import"]
        return BackupInfo(
            office_name=str(fields["office"]["name"]),
            fingerprint=str(fields["office"]["fingerprint"]),
            made_at=datetime.strptime(fields["created"], _DATE).replace(tzinfo=UTC),
            backup_id=str(fields["backup_id"]),
            officers=officers,
            records=int(covers["records"]),
            last_import_at=datetime.strptime(last, _DATE) if last else None,
            header=header,
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise BackupFormatError("The backup's header is malformed.") from exc


def check_fingerprint(info: BackupInfo, expected: str | None) -> None:
    if expected is not None and not same_fingerprint(info.fingerprint, expected):
        raise BackupOfficeMismatchError(
            f"This backup belongs to another office (fingerprint {info.fingerprint}), "
            f"not to {expected}."
        )


def check_target(target: Path) -> None:
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise RestoreTargetError(
            f"{target} is not empty: restore into a new or empty directory (nothing was written)."
        )
    if not target.parent.is_dir():
        raise RestoreTargetError(f"{target.parent} does not exist.")


def unlock_with_password(info: BackupInfo, officer: str, password: str) -> OfficeKeyring:
    wrapped = {str(o["name"]): o.get("keyring") for o in info.header.fields["officers"]}
    if officer not in wrapped:
        raise BackupUnknownOfficerError(
            f"No officer called {officer!r} existed when this backup was made "
            f"(it holds: {', '.join(info.officers) or 'nobody'})."
        )
    try:
        return unwrap_office(str(wrapped[officer]).encode("ascii"), password)
    except SecondFactorNeededError as exc:
        raise BackupWrongPasswordError(
            f"{officer}'s keys in this backup open only with their password and security key "
            "together, and a restore cannot use a security key: restore with the recovery key "
            "or the password of an officer without one."
        ) from exc
    except (WrongPassphraseError, UnicodeEncodeError) as exc:
        raise BackupWrongPasswordError(
            f"Wrong password for {officer} (as it was when the backup was made)."
        ) from exc
    except CryptoError as exc:
        raise BackupTamperedError(f"The backup's copy of {officer}'s keys is damaged.") from exc


def unlock_with_recovery_key(info: BackupInfo, recovery_key: str) -> OfficeKeyring:
    try:
        key = recovery_wrapping_key(recovery_key)
    except CodeError as exc:
        raise BackupWrongRecoveryKeyError(f"The recovery key is mistyped: {exc}.") from exc
    try:
        return unwrap_office_recovery(
            str(info.header.fields["recovery_keyring"]).encode("ascii"), key
        )
    except (WrongPassphraseError, UnicodeEncodeError) as exc:
        raise BackupWrongRecoveryKeyError(
            "This recovery key does not open this backup (another office's key?)."
        ) from exc
    except (CryptoError, KeyError) as exc:
        raise BackupTamperedError("The backup's recovery copy of the keys is damaged.") from exc


def restore_backup(
    source: BinaryIO,
    info: BackupInfo,
    keyring: OfficeKeyring,
    target: Path,
    *,
    now: datetime,
    expect_fingerprint: str | None = None,
    opened_by: str = "",
    deletions: bytes | None = None,
) -> Restored:
    """Authenticate everything, write it into a new directory, check it, move it to ``target``.

    ``source`` is positioned right after the header (``read_header`` leaves it so).
    ``deletions``: the office's signed list of deletions (``LIST_FILE`` beside the backups);
    every deletion the backup does not know yet is made again before the restored inbox is
    moved into place, so a backup never brings deleted data back.
    """
    check_target(target)
    check_fingerprint(info, expect_fingerprint)
    office_public = signing_keypair_from_seed(keyring.signing_seed).public_key
    office_fingerprint = fingerprint(office_public)
    entries = read_list(deletions, office_public) if deletions is not None else []
    if not same_fingerprint(office_fingerprint, info.fingerprint):
        raise BackupTamperedError(
            "The keys in this backup belong to another office than its header says: altered."
        )
    start = source.tell()
    try:
        opened = open_backup(source, info.header, keyring.storage_secret, max_parts=MAX_PARTS)
    except (WrongKeyError, TamperedError) as exc:
        raise BackupTamperedError(
            "The backup fails authentication: it was altered (or damaged) after it was made."
        ) from exc
    except TruncatedError as exc:
        raise BackupTruncatedError("The backup file is cut short (truncated).") from exc
    except CryptoError as exc:
        raise BackupTamperedError(f"The backup is damaged: {exc}.") from exc
    names = [p.name for p in opened.parts]
    if not names or names[0] != DATABASE_PART or len(set(names)) != len(names):
        raise BackupTamperedError("The backup's content is not laid out as a backup.")
    for name in names[1:]:
        rest = name[len(STORE_PREFIX) :]
        if not name.startswith(STORE_PREFIX) or not _STORE_NAME.fullmatch(rest) or ".." in rest:
            raise BackupTamperedError(f"The backup holds an unexpected file name: {name[:80]!r}.")
    parent = target.parent
    try:
        with _private_dir(parent, f".{target.name}.restoring-") as staging:
            source.seek(start)
            _write_parts(opened.events(), staging)
            result = _finish_restored(
                staging, info, keyring, office_fingerprint, now, opened_by, entries
            )
            check_target(target)
            if target.exists():
                target.rmdir()
            os.rename(staging, target)
            sync_directory(parent)
    except OSError as exc:
        raise BackupError(
            f"Cannot write the restored inbox next to {target}: {exc.strerror} (nothing was kept)."
        ) from exc
    return result


def _write_parts(events: Iterator[PartStart | PartData | PartEnd], staging: Path) -> None:
    store = staging / "store"
    store.mkdir(mode=0o700)
    handle: BinaryIO | None = None
    try:
        for event in events:
            if isinstance(event, PartStart):
                path = (
                    staging / DATABASE_PART
                    if event.name == DATABASE_PART
                    else store / event.name[len(STORE_PREFIX) :]
                )
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                handle = os.fdopen(fd, "wb")
            elif isinstance(event, PartData) and handle is not None:
                handle.write(event.data)
            elif isinstance(event, PartEnd) and handle is not None:
                handle.flush()
                os.fsync(handle.fileno())
                handle.close()
                handle = None
    except TamperedError as exc:
        raise BackupTamperedError("The backup changed while it was being restored.") from exc
    except CryptoError as exc:
        raise BackupTamperedError(f"The backup is damaged: {exc}.") from exc
    finally:
        if handle is not None:
            handle.close()
    sync_directory(store)


def _finish_restored(
    staging: Path,
    info: BackupInfo,
    keyring: OfficeKeyring,
    office_fingerprint: str,
    now: datetime,
    opened_by: str,
    deletions: list[dict[str, Any]],
) -> Restored:
    """Check the restored inbox, make the later deletions again, log the restore in it; it
    is still in ``staging``."""
    database = staging / DATABASE_PART
    try:
        connection = sqlite3.connect(database)
        try:
            ok = connection.execute("PRAGMA integrity_check").fetchone()[0]
        finally:
            connection.close()
    except sqlite3.DatabaseError as exc:
        raise BackupTamperedError("The backup's database is damaged.") from exc
    if ok != "ok":
        raise BackupTamperedError("The backup's database is damaged.")
    engine = db.make_engine(database)
    try:
        try:
            db.upgrade(engine)
        except CommandError as exc:
            raise BackupFormatError(
                "This backup was made by a newer Whistle: upgrade this one first."
            ) from exc
        with db.transaction(db.session_factory(engine)) as session:
            office = session.get(Office, 1)
            if office is None or not same_fingerprint(office.fingerprint, office_fingerprint):
                raise BackupTamperedError("The backup's database belongs to another office.")
            if office.storage_public_key != keyring.storage_public:
                raise BackupTamperedError("The backup's database does not fit its keys.")
            stored = list(session.execute(select(Record.id, Record.stored_name)))
            missing = [n for _, n in stored if not (staging / "store" / n).is_file()]
            if missing:
                raise BackupTamperedError(f"The backup lacks {len(missing)} stored record(s).")
            try:
                head = verify_chain(session)
            except AuditChainError as exc:
                raise BackupTamperedError(f"In the backup: {exc}") from exc
            made = info.made_at.replace(tzinfo=None)
            if session.scalar(select(Backup.id).where(Backup.backup_id == info.backup_id)) is None:
                session.add(
                    Backup(
                        backup_id=info.backup_id,
                        made_at=made,
                        officer_id=None,
                        file_name="(restored)",
                        size=0,
                        records=len(stored),
                        last_import_at=info.last_import_at,
                        audit_entries=head.count,
                        restored=True,
                    )
                )
            _mark_backed_up(session, [rid for rid, _ in stored], info.made_at)
            # Every case key here came from the backup.
            session.execute(
                update(CaseKey).where(CaseKey.backed_up_at.is_(None)).values(backed_up_at=made)
            )
            record_event(
                session,
                now,
                "backup-restored",
                detail=f"{info.backup_id} made {info.made_at.strftime(_DATE)}"
                + (f", opened by {opened_by}" if opened_by else ""),
            )
            redone, gone = apply_list(
                session, keyring, deletions, now=now, store_dir=staging / "store"
            )
            if redone:
                record_event(
                    session, now, "deletions-reapplied", detail=f"{redone} made after the backup"
                )
        remove_files(gone)
    finally:
        engine.dispose()
    return Restored(info, len(stored) - len(gone), head.count, redone)
