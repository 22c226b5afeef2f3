"""Unwrapped keys in memory, per signed-in officer, dropped after idle time.

The browser's cookie holds only a random session id; the map from id to keys
lives in this object, in the memory of the running inbox, never on disk. Each
request touches its session; a session idle longer than the limit is dropped
(its keys with it) the next time anything looks at the store, so an unattended
laptop locks itself. Python cannot scrub memory: dropping the last reference
is the best it can do (docs/inbox.md says so).
"""

import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import Session, sessionmaker

from whistle.inbox.compartments import KEYS_CHANGED
from whistle.inbox.keyring import CustodianKeyring, OfficeKeyring
from whistle.inbox.preview import PreviewCache

#: ``session.info`` key a transaction that purged a case carries (``workflow.purge_case``).
PURGED = "whistle_purged_cases"


@dataclass(repr=False)
class Unlocked:
    session_id: str
    officer_id: int
    name: str
    roles: tuple[str, ...]
    keyring: OfficeKeyring
    custodian_keyring: CustodianKeyring | None
    csrf_token: str
    last_seen: datetime
    #: This session's previews: made once, gone with the session.
    previews: PreviewCache = field(default_factory=PreviewCache)

    def __repr__(self) -> str:
        return f"Unlocked(officer={self.name!r})"


class KeyStore:
    def __init__(self, idle_seconds: int, clock: Callable[[], datetime]) -> None:
        self._idle = timedelta(seconds=idle_seconds)
        self._clock = clock
        self._sessions: dict[str, Unlocked] = {}
        self._lock = threading.Lock()
        #: Decrypted case summaries, shared by the signed-in officers; emptied as soon as
        #: no session is open, so plaintext is in memory only while the inbox is unlocked.
        self.plaintext_cache: dict[tuple[str, ...], Any] = {}

    def open(
        self,
        officer_id: int,
        name: str,
        roles: tuple[str, ...],
        keyring: OfficeKeyring,
        custodian_keyring: CustodianKeyring | None,
    ) -> Unlocked:
        entry = Unlocked(
            session_id=secrets.token_urlsafe(32),
            officer_id=officer_id,
            name=name,
            roles=roles,
            keyring=keyring,
            custodian_keyring=custodian_keyring,
            csrf_token=secrets.token_urlsafe(32),
            last_seen=self._clock(),
        )
        with self._lock:
            self._sweep()
            self._sessions[entry.session_id] = entry
        return entry

    def get(self, session_id: str | None) -> Unlocked | None:
        """The session, touched; ``None`` when unknown or idle too long (then dropped)."""
        with self._lock:
            self._sweep()
            entry = self._sessions.get(session_id) if session_id else None
            if entry is not None:
                entry.last_seen = self._clock()
            return entry

    def drop(self, session_id: str | None) -> None:
        with self._lock:
            if session_id:
                self._sessions.pop(session_id, None)
            self._forget_if_empty()

    def drop_officer(self, officer_id: int) -> None:
        with self._lock:
            for sid in [s for s, e in self._sessions.items() if e.officer_id == officer_id]:
                del self._sessions[sid]
            self._forget_if_empty()

    def forget_purged(self, sessions: sessionmaker[Session]) -> None:
        """Empty the plaintext cache after each commit of ``sessions`` that purged a case,
        whichever page or task purged it: a deleted case's text leaves memory with it."""

        @event.listens_for(sessions, "after_commit")
        def _committed(session: Session) -> None:
            purged = session.info.pop(PURGED, None)
            # Keys changed hands (a member left, someone stepped aside): what the cache
            # opened with the old grants must be opened again with the new ones.
            if session.info.pop(KEYS_CHANGED, None) or purged:
                with self._lock:
                    self.plaintext_cache.clear()

        @event.listens_for(sessions, "after_rollback")
        def _rolled_back(session: Session) -> None:
            session.info.pop(PURGED, None)
            session.info.pop(KEYS_CHANGED, None)

    def __len__(self) -> int:
        with self._lock:
            self._sweep()
            return len(self._sessions)

    def _sweep(self) -> None:
        now = self._clock()
        for sid in [s for s, e in self._sessions.items() if now - e.last_seen > self._idle]:
            del self._sessions[sid]
        self._forget_if_empty()

    def _forget_if_empty(self) -> None:
        if not self._sessions:
            self.plaintext_cache.clear()
