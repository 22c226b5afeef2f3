"""Names officers read instead of keys and codes: desks by their name in the officer's
language, languages by their own name (as the language menu shows them)."""

from sqlalchemy.orm import Session

from whistle.inbox import epochs
from whistle.inbox.errors import InboxError
from whistle.localnames import LocalNames

LANGUAGE_NAMES = {"ca": "Català", "es": "Español", "en": "English"}


class DeskNames(dict[str, str]):
    """Desk id → name. A desk it does not know (one removed since, or any desk before the
    keys moved to epochs) is named by its id, so pages can always write ``names[id]``."""

    def __missing__(self, desk_id: str) -> str:
        return desk_id


def desk_names(session: Session, names: LocalNames | None = None, language: str = "") -> DeskNames:
    """The current card's desks by name: ``names.toml``'s in ``language``, else the name on
    the card (the card is read once per call, not per desk)."""
    try:
        card = epochs.current_card(session)
    except InboxError:
        return DeskNames()
    local = names or LocalNames()
    return DeskNames({d.id: local.desk_name(d.id, language, d.name) for d in card.desks})


def language_name(code: str | None) -> str:
    return LANGUAGE_NAMES.get(code or "", code or "")
