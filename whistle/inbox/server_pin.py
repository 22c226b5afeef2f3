"""Replacing the pinned server card: a server key rotation, or a new server after a seizure.

A first pin needs no sign-in (``office_setup.pin_server``). Replacing a pin changes whom
the inbox believes bundles come from, so it takes a signed-in manager and leaves an audit
entry naming both fingerprints (docs/deployment.md, "Rotating the server signing key" and
"After a suspected seizure of the server").

A card for the same install (a key rotation) keeps the bundle numbering. A card for
another install (a server rebuilt from nothing) starts its outbox numbering again at 1,
so the outbox bundles applied so far are set aside under the old install's name
(``outbox@<first 8 of its install id>``) instead of refusing every new bundle as old.
"""

from sqlalchemy import update
from sqlalchemy.orm import Session

from whistle.crypto import ServerCard
from whistle.inbox.audit import record_event
from whistle.inbox.config import InboxConfig
from whistle.inbox.errors import ServerCardError
from whistle.inbox.models import BundleLog
from whistle.inbox.office_setup import load_office, read_server_card
from whistle.inbox.officers import require_manager

OUTBOX = "outbox"


def replace_server_pin(
    session: Session, config: InboxConfig, data: bytes, *, by_officer_id: int
) -> tuple[ServerCard, bool]:
    """Pin ``data`` in place of the pinned server card; returns the card and whether it is
    another install."""
    require_manager(session, by_officer_id)
    card = read_server_card(data)
    office = load_office(session)
    if office.server_card is None or office.server_fingerprint is None:
        raise ServerCardError(
            "No server is pinned yet: pin it with `whistle inbox trust-server` (no --replace)."
        )
    if office.server_fingerprint == card.fingerprint:
        raise ServerCardError("This server card is the one pinned already: nothing to replace.")
    old = read_server_card(office.server_card)
    other_install = old.install_id != card.install_id
    if other_install:
        session.execute(
            update(BundleLog)
            .where(BundleLog.direction == OUTBOX)
            .values(direction=f"{OUTBOX}@{old.install_id[:8]}")
        )
    now = config.clock()
    office.server_card = data
    office.server_fingerprint = card.fingerprint
    office.server_pinned_at = now.replace(tzinfo=None)
    record_event(
        session,
        now,
        "server-pin-replaced",
        officer_id=by_officer_id,
        detail=f"{old.fingerprint} -> {card.fingerprint}"
        + (f" (another install: {card.install_id})" if other_install else " (same install)"),
    )
    return card, other_install
