"""Names officers read instead of keys and codes: desks by the name on the office card,
languages by their own name (as the language menu shows them)."""

from sqlalchemy.orm import Session

from whistle.inbox import epochs
from whistle.inbox.errors import InboxError

LANGUAGE_NAMES = {"ca": "Català", "es": "Español", "en": "English"}


def desk_names(session: Session) -> dict[str, str]:
    """Desk id → the name the office gave it (current key epoch's card); empty before the
    keys moved to epochs, and the pages then show the ids."""
    try:
        card = epochs.current_card(session)
    except InboxError:
        return {}
    return {desk.id: desk.name for desk in card.desks}


def language_name(code: str | None) -> str:
    return LANGUAGE_NAMES.get(code or "", code or "")
