"""A cap on concurrent code look-ups: check-in, follow-up and their JavaScript routes.

Every source reaches the site as 127.0.0.1 (tor), so a flood of guessed codes cannot be told
from sources by address: the defence is global. Each worker process holds ``size`` slots
(``limits.lookup_slots``); a look-up (deriving the keys of a code, then finding its case) takes
one for its duration. When none frees up within ``wait_seconds`` (``limits.lookup_wait_ms``),
the request is answered "busy, try again in a moment" (HTTP 503 with Retry-After) and nothing
is looked up or stored. At most ``WAITERS_PER_SLOT`` requests per slot may wait; more are
answered "busy" at once, so waiting look-ups never pile up without bound. Under gevent workers
(whistle/deploy/workers.py) a waiting request holds a greenlet, not a thread, and the rest of the
site is served beside it.

The network-level defence is tor's onion-service proof-of-work (docs/deployment.md).
"""

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from whistle.errors import WhistleError

#: Seconds a busy source is asked to wait before trying again (the Retry-After header).
RETRY_AFTER_SECONDS = 5
#: Requests that may wait for each slot (beyond that, "busy" at once): one tor circuit's
#: streams (torrc.example). With 5 (sized for 8 threads), an 8-connection flood that landed on
#: one worker turned legitimate check-ins away at once (docs/benchmarks.md).
WAITERS_PER_SLOT = 16


class LookupsBusyError(WhistleError):
    """Every look-up slot of this process stayed taken for the whole wait."""


class LookupSlots:
    """A bounded semaphore with a bounded wait; one per worker process (per app)."""

    def __init__(self, size: int, wait_seconds: float) -> None:
        if size < 1:
            raise ValueError("at least one look-up slot")
        self.size = size
        self.wait_seconds = wait_seconds
        self._semaphore = threading.BoundedSemaphore(size)
        # Admission: the slot holders plus those allowed to wait for a slot.
        self._admission = threading.BoundedSemaphore(size * (1 + WAITERS_PER_SLOT))
        self._admitted = 0
        self._count_lock = threading.Lock()

    @property
    def admitted(self) -> int:
        """Requests holding or waiting for a slot now (for tests and status)."""
        return self._admitted

    def _count(self, change: int) -> None:
        with self._count_lock:
            self._admitted += change

    def _acquire(self) -> bool:
        if self.wait_seconds <= 0:
            return self._semaphore.acquire(blocking=False)
        return self._semaphore.acquire(timeout=self.wait_seconds)

    @contextmanager
    def hold(self) -> Iterator[None]:
        """One slot for the body of the ``with``; ``LookupsBusyError`` when none came free."""
        if not self._admission.acquire(blocking=False):
            raise LookupsBusyError("every look-up slot is taken and enough requests wait")
        self._count(1)
        try:
            if not self._acquire():
                raise LookupsBusyError("every look-up slot is taken")
            try:
                yield
            finally:
                self._semaphore.release()
        finally:
            self._count(-1)
            self._admission.release()

    @contextmanager
    def all_taken(self) -> Iterator[None]:
        """Hold every slot (tests, and an operator's drill): look-ups are refused meanwhile."""
        for taken in range(self.size):
            if not self._semaphore.acquire(timeout=10):
                for _ in range(taken):
                    self._semaphore.release()
                raise LookupsBusyError("could not take every look-up slot")
        try:
            yield
        finally:
            for _ in range(self.size):
                self._semaphore.release()
