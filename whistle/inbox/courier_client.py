"""``whistle inbox sync``: the courier client (docs/bundles.md).

One round: fetch the outbox bundle and apply it (one transaction), then — if
anything can go (acknowledgements held for a backup do not count) — write a
replies bundle (committed first, so its sequence number is never reused with
other content) and send it. Each request carries a
fresh challenge signed with the office key (``whistle/courier-challenge/v1``).
Over Tor: ``--socks 127.0.0.1:9050`` (the onion name is resolved by tor).
"""

import base64
import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy.orm import Session, sessionmaker

from whistle.bundling import BundleRefusedError, BundleSummary
from whistle.crypto import COURIER_CHALLENGE, sign
from whistle.inbox import db, epochs
from whistle.inbox.bundles import (
    MAX_BUNDLE_BYTES,
    announced_epoch,
    export_replies,
    import_outbox,
)
from whistle.inbox.case_announce import queue_case_keys
from whistle.inbox.config import InboxConfig
from whistle.inbox.errors import InboxError
from whistle.inbox.keyring import OfficeKeyring
from whistle.inbox.outgoing import sendable

TIMEOUT_SECONDS = 120.0


class CourierError(InboxError):
    """The courier could not be reached or refused the exchange."""


@dataclass
class SyncResult:
    received: BundleSummary | None = None
    sent: BundleSummary | None = None
    server_said: list[str] = field(default_factory=list)


def _proof(keyring: OfficeKeyring, action: str, challenge: str) -> str:
    message = f"whistle-courier:{action}:{challenge}".encode("ascii")
    return base64.b64encode(sign(keyring.signing_seed, COURIER_CHALLENGE, message)).decode()


def client(url: str, socks: str | None = None) -> httpx.Client:
    # socks5h: the .onion name is resolved by tor, never by a local resolver.
    proxy = f"socks5h://{socks}" if socks else None
    return httpx.Client(base_url=url.rstrip("/"), proxy=proxy, timeout=TIMEOUT_SECONDS)


def _post(http: httpx.Client, keyring: OfficeKeyring, action: str, body: bytes = b"") -> Any:
    try:
        answer = http.post("/courier/challenge")
        answer.raise_for_status()
        challenge = str(answer.json()["challenge"])
        headers = {
            "X-Whistle-Challenge": challenge,
            "X-Whistle-Proof": _proof(keyring, action, challenge),
            "Content-Type": "application/octet-stream",
        }
        response = http.post(f"/courier/{action}", content=body, headers=headers)
    except (httpx.HTTPError, ValueError, KeyError, TypeError) as exc:
        raise CourierError(f"The courier cannot be reached: {exc}") from exc
    if response.status_code != 200:
        try:
            reason = str(response.json().get("error", ""))[:300]
        except ValueError:
            reason = ""
        raise CourierError(f"The courier refused ({response.status_code}): {reason}")
    return response


def sync(
    http: httpx.Client,
    sessions: sessionmaker[Session],
    keyring: OfficeKeyring,
    config: InboxConfig,
    *,
    officer_id: int | None = None,
) -> SyncResult:
    result = SyncResult()
    response = _post(http, keyring, "outbox")
    if len(response.content) > MAX_BUNDLE_BYTES:
        raise BundleRefusedError("the outbox bundle is too large")
    with db.transaction(sessions) as session:
        result.received = import_outbox(
            session,
            keyring,
            response.content,
            store_dir=config.store_dir,
            now=config.clock(),
            officer_id=officer_id,
        )
    epochs.scrub(sessions.kw["bind"])  # keys destroyed by the import: out of the WAL too
    with db.transaction(sessions) as session:
        # New case keys are announced as soon as they may be (``export_replies`` queues them
        # too); a rotation the server has not confirmed yet travels even with nothing to send.
        queue_case_keys(session, keyring, now=config.clock())
        if not sendable(session) and announced_epoch(session).confirmed_at is not None:
            return result
        out = io.BytesIO()
        result.sent = export_replies(session, keyring, out, now=config.clock())
    answer = _post(http, keyring, "replies", out.getvalue())
    try:
        result.server_said = [str(line) for line in answer.json().get("applied", [])]
    except ValueError:
        result.server_said = []
    return result


def sync_directory(
    data_dir: Path, keyring: OfficeKeyring, config: InboxConfig, url: str, socks: str | None
) -> SyncResult:
    engine = db.make_engine(config.database_path)
    try:
        with client(url, socks) as http:
            return sync(http, db.session_factory(engine), keyring, config)
    finally:
        engine.dispose()
