"""Names officers read instead of keys and codes: desks by their name in the officer's
language, languages by their own name (as the language menu shows them)."""

from collections.abc import Mapping

from sqlalchemy import select
from sqlalchemy.orm import Session

from whistle.inbox import epochs
from whistle.inbox.errors import InboxError
from whistle.inbox.models import RemovedDesk
from whistle.localnames import LocalNames

LANGUAGE_NAMES = {"ca": "Català", "es": "Español", "en": "English"}


class DeskNames(dict[str, str]):
    """Desk id → name of the current card's desks (what iterating gives). A desk the office
    removed is still named (``removed``: records may still wait for it); one it does not know
    at all (any desk before the keys moved to epochs) by its id, so pages can always write
    ``names[id]``."""

    def __init__(
        self, current: Mapping[str, str] | None = None, removed: Mapping[str, str] | None = None
    ) -> None:
        super().__init__(current or {})
        self.removed = dict(removed or {})

    def __missing__(self, desk_id: str) -> str:
        return self.removed.get(desk_id, desk_id)


def _removed_desks(session: Session) -> dict[str, str]:
    """Each removed desk's name on the last card that listed it."""
    found = {}
    for removed in session.scalars(select(RemovedDesk)):
        card = epochs.card_before(session, removed.epoch)
        for desk in card.desks if card is not None else ():
            if desk.id == removed.desk_id:
                found[desk.id] = desk.name
    return found


def desk_names(session: Session, names: LocalNames | None = None, language: str = "") -> DeskNames:
    """The desks by name: ``names.toml``'s in ``language``, else the name on the card (the
    current card's, or for a removed desk the last card that listed it; each card is read
    once per call, not per desk)."""
    try:
        card = epochs.current_card(session)
    except InboxError:
        return DeskNames()
    local = names or LocalNames()
    return DeskNames(
        {d.id: local.desk_name(d.id, language, d.name) for d in card.desks},
        {
            desk_id: local.desk_name(desk_id, language, name)
            for desk_id, name in _removed_desks(session).items()
        },
    )


def language_name(code: str | None) -> str:
    return LANGUAGE_NAMES.get(code or "", code or "")
