"""The pepper (key of the login lookup hash) and its rotation.

A rotation (``whistle server rotate-pepper``) keeps the old pepper as
``DIR/pepper.previous`` and writes a new ``DIR/pepper``; both are 32 random bytes, 0600,
each written to a temporary file, flushed and renamed over the old name. Nothing about a
login changes at rotation: a source's code still derives the same login token, and the
server finds its row by trying the lookup of the current pepper and of the previous one
in one indexed query (the same work for every code, known or not). A row found through
the previous pepper is re-hashed with the current one in the same transaction, so each
login moves over at its next check-in or follow-up.

Each login row records which pepper made its lookup (``pepper_id``: 8 bytes of BLAKE2b
keyed with the pepper, of ``whistle/pepper-id/v1`` — it names a pepper and reveals
nothing of it), so ``whistle server status`` can say how many logins still need the
previous pepper. Once none does, ``whistle server housekeeping`` removes the file; the
operator can also drop it earlier (``rotate-pepper --drop-previous``), and then sources
who have not come back since the rotation can no longer open their case with their code.

What a copy of the database now also shows: for each case, whether its source came back
since the last rotation (one bit per case; docs/decisions.md).
"""

import hashlib
from collections.abc import Callable
from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker

from whistle.crypto import login_lookup, random_bytes
from whistle.errors import WhistleError
from whistle.submit import db, store
from whistle.submit.config import PEPPER_FILE, PREVIOUS_PEPPER_FILE, SubmitConfig
from whistle.submit.datadir import replace_file, sync_directory

PEPPER_ID_DOMAIN = b"whistle/pepper-id/v1"
PEPPER_ID_BYTES = 8


class PepperError(WhistleError):
    """A pepper rotation cannot be done now (the message says why and what to do)."""


def pepper_id(pepper: bytes) -> bytes:
    """A short public name for a pepper: BLAKE2b-64 keyed with it of the purpose label."""
    if len(pepper) != 32:
        raise ValueError("the pepper is 32 bytes")
    return hashlib.blake2b(PEPPER_ID_DOMAIN, key=pepper, digest_size=PEPPER_ID_BYTES).digest()


def open_login(
    sessions: sessionmaker[Session], config: SubmitConfig, login_token: bytes
) -> bytes | None:
    """The case a login token opens, or None; re-hashes a login still on the previous pepper.

    Without a previous pepper this is one read. With one, both lookups are tried in one
    query inside a write transaction, and a match through the previous pepper is moved to
    the current one before the transaction commits.
    """
    current = login_lookup(login_token, config.pepper)
    if config.previous_pepper is None:
        with sessions() as session:
            return store.find_logins(session, [current]).get(current)
    previous = login_lookup(login_token, config.previous_pepper)
    with db.writing(sessions) as session:
        found = store.find_logins(session, [current, previous])
        if current in found:
            return found[current]
        if previous in found:
            store.rehash_login(session, previous, current, pepper_id(config.pepper))
            return found[previous]
    return None


def logins_on_previous(session: Session, config: SubmitConfig) -> int | None:
    """How many logins still need the previous pepper (None when none is kept)."""
    if config.previous_pepper is None:
        return None
    return store.count_logins(session, pepper_id(config.previous_pepper))


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
        store.name_unnamed_logins(session, pepper_id(config.pepper))
    fresh = new_pepper()
    if len(fresh) != 32 or fresh == config.pepper:
        raise ValueError("a new pepper is 32 new bytes")
    replace_file(directory / PREVIOUS_PEPPER_FILE, config.pepper)
    replace_file(directory / PEPPER_FILE, fresh)


def _count(sessions: sessionmaker[Session], pepper: bytes) -> int:
    with sessions() as session:
        return store.count_logins(session, pepper_id(pepper))


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
