"""The pepper (key of the login lookup hash) and its rotation.

A rotation (``whistle server rotate-pepper``) keeps the old pepper as
``DIR/pepper.previous`` and writes a new ``DIR/pepper``; both are 32 random bytes, 0600,
each written to a temporary file, flushed and renamed over the old name. Nothing about a
login changes at rotation: a source's code still derives the same login token, and the
server finds its row by trying the lookup of the current pepper and of the previous one
in one indexed query (the same work for every code, known or not). A row found through
the previous pepper is re-hashed with the current one in the same transaction, so each
login moves over at its next check-in or follow-up.

Each login row carries a tag saying which pepper made its lookup (``pepper_tag``: 8 bytes
of BLAKE2b keyed with that pepper, of ``whistle/pepper-tag/v1`` ‖ lookup), so ``whistle
server status`` can count the logins that still need the previous pepper (it holds both
peppers and checks each tag). Without the pepper files the tags look random: a copy of the
database alone does not show which sources came back since a rotation. Once no login needs
the previous pepper, ``whistle server housekeeping`` removes the file; the operator can also
drop it earlier (``rotate-pepper --drop-previous``), and then sources who have not come back
since the rotation can no longer open their case with their code.
"""

import hashlib
import hmac
import threading
from collections.abc import Callable
from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker

from whistle.crypto import login_lookup, random_bytes
from whistle.durable import sync_directory
from whistle.errors import WhistleError
from whistle.submit import db, store
from whistle.submit.config import (
    PEPPER_FILE,
    PREVIOUS_PEPPER_FILE,
    SubmitConfig,
    previous_pepper,
    read_secret,
)
from whistle.submit.datadir import replace_file

PEPPER_TAG_DOMAIN = b"whistle/pepper-tag/v1"
PEPPER_TAG_BYTES = 8


class PepperError(WhistleError):
    """A pepper rotation cannot be done now (the message says why and what to do)."""


def pepper_tag(pepper: bytes, lookup: bytes) -> bytes:
    """Which pepper made ``lookup``, checkable only with that pepper: BLAKE2b-64 keyed with
    the pepper of the purpose label and the lookup value."""
    if len(pepper) != 32:
        raise ValueError("the pepper is 32 bytes")
    return hashlib.blake2b(
        PEPPER_TAG_DOMAIN + lookup, key=pepper, digest_size=PEPPER_TAG_BYTES
    ).digest()


class Peppers:
    """The current and previous pepper of a running site, re-read when a rotation
    replaces their files.

    Every worker reads the configuration once, and gunicorn starts fresh workers now and
    then (``max_requests``): without this, a worker started after ``rotate-pepper`` would
    move logins to a pepper the older workers do not know, and those would tell a returning
    source "unknown code". A ``stat`` of the two files per look-up is the whole cost.
    """

    def __init__(self, config: SubmitConfig) -> None:
        self._directory = config.data_dir
        self._lock = threading.Lock()
        self._pair = (config.pepper, config.previous_pepper)
        self._seen = self._signature()

    def get(self) -> tuple[bytes, bytes | None]:
        """(current, previous or None), as the files say now."""
        signature = self._signature()
        with self._lock:
            if self._directory is not None and signature != self._seen:
                current = read_secret(self._directory, PEPPER_FILE, 32)
                self._pair = (current, previous_pepper(self._directory, current))
                self._seen = signature
            return self._pair

    @property
    def current(self) -> bytes:
        return self.get()[0]

    def _signature(self) -> tuple[tuple[int, int, int] | None, ...]:
        if self._directory is None:
            return ()
        return tuple(
            _file_signature(self._directory / name) for name in (PEPPER_FILE, PREVIOUS_PEPPER_FILE)
        )


def _file_signature(path: Path) -> tuple[int, int, int] | None:
    try:
        info = path.stat()
    except FileNotFoundError:
        return None
    return (info.st_ino, info.st_mtime_ns, info.st_size)


def open_login(
    sessions: sessionmaker[Session], peppers: tuple[bytes, bytes | None], login_token: bytes
) -> bytes | None:
    """The case a login token opens, or None; re-hashes a login still on the previous pepper.

    ``peppers`` is (current, previous or None). Without a previous pepper this is one read.
    With one, both lookups are tried in one query inside a write transaction, and a match
    through the previous pepper is moved to the current one before the transaction commits.
    """
    pepper, previous_pepper_ = peppers
    current = login_lookup(login_token, pepper)
    if previous_pepper_ is None:
        with sessions() as session:
            return store.find_logins(session, [current]).get(current)
    previous = login_lookup(login_token, previous_pepper_)
    with db.writing(sessions) as session:
        found = store.find_logins(session, [current, previous])
        if current in found:
            return found[current]
        if previous in found:
            store.rehash_login(session, previous, current, pepper_tag(pepper, current))
            return found[previous]
    return None


def logins_on_previous(session: Session, config: SubmitConfig) -> int | None:
    """How many logins still need the previous pepper (None when none is kept)."""
    if config.previous_pepper is None:
        return None
    return count_made_with(session, config.previous_pepper)


def count_made_with(session: Session, pepper: bytes) -> int:
    """How many logins ``pepper`` made (their tags check out under it): one pass over the
    logins, one BLAKE2b each."""
    return sum(
        1
        for lookup, tag in store.login_tags(session)
        if tag is not None and hmac.compare_digest(tag, pepper_tag(pepper, lookup))
    )


def rotate(
    directory: Path,
    config: SubmitConfig,
    sessions: sessionmaker[Session],
    new_pepper: Callable[[], bytes] = lambda: random_bytes(32),
) -> None:
    """Keep the current pepper as the previous one and make a new current one.

    Refused while logins still need an older previous pepper (only two are ever kept). A
    stop half-way leaves either the old state or ``pepper.previous`` equal to ``pepper``,
    which is read as "no previous" and put right by running the rotation again.
    """
    if config.previous_pepper is not None:
        waiting = _count(sessions, config.previous_pepper)
        if waiting:
            raise PepperError(
                f"{waiting} login(s) still use the pepper before the last rotation; rotating "
                "again would lose it. Wait until `whistle server status` shows none, or drop "
                "it with `whistle server rotate-pepper --drop-previous` (those sources' codes "
                "then stop working)."
            )
    with db.writing(sessions) as session:
        untagged = [lookup for lookup, tag in store.login_tags(session) if tag is None]
        for lookup in untagged:
            store.set_pepper_tag(session, lookup, pepper_tag(config.pepper, lookup))
    fresh = new_pepper()
    if len(fresh) != 32 or fresh == config.pepper:
        raise ValueError("a new pepper is 32 new bytes")
    replace_file(directory / PREVIOUS_PEPPER_FILE, config.pepper)
    replace_file(directory / PEPPER_FILE, fresh)


def _count(sessions: sessionmaker[Session], pepper: bytes) -> int:
    with sessions() as session:
        return count_made_with(session, pepper)


def drop_previous(
    directory: Path, config: SubmitConfig, sessions: sessionmaker[Session], *, force: bool
) -> int:
    """Remove the previous pepper; returns how many logins it still opened (now lost).

    Without ``force`` it is removed only when no login needs it.
    """
    if config.previous_pepper is None:
        (directory / PREVIOUS_PEPPER_FILE).unlink(missing_ok=True)  # a half-way leftover
        return 0
    waiting = _count(sessions, config.previous_pepper)
    if waiting and not force:
        raise PepperError(
            f"{waiting} login(s) still use the previous pepper: removing it now means those "
            "sources can no longer open their case with their code. Add --force to do so."
        )
    (directory / PREVIOUS_PEPPER_FILE).unlink()
    sync_directory(directory)
    return waiting
