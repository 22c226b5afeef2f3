"""The office's and the desks' names in each language the pages speak.

The office card carries one name for the office and one per desk, in whatever language the
office chose when it made the card (signed, so it cannot change per page). A Catalan page
should not say "Send to: Anti-fraud office", so both apps read optional per-language names
from their configuration (docs/deployment.md, docs/inbox.md) and fall back to the card's.
"""

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from whistle.errors import WhistleError

#: The languages both apps speak (their catalogues): a name for another one is a typo.
LANGUAGES = ("ca", "es", "en")
MAX_NAME_CHARS = 200


class NamesError(WhistleError, ValueError):
    """A table of names that is not {language: name}, or a name that is empty or too long."""


@dataclass(frozen=True)
class LocalNames:
    """Per-language names: ``office[language]`` and ``desks[desk id][language]``."""

    office: Mapping[str, str] = field(default_factory=dict)
    desks: Mapping[str, Mapping[str, str]] = field(default_factory=dict)

    def office_name(self, language: str, default: str) -> str:
        return self.office.get(language, default)

    def desk_name(self, desk_id: str, language: str, default: str) -> str:
        return self.desks.get(desk_id, {}).get(language, default)


def _by_language(table: Any, where: str) -> dict[str, str]:
    if not isinstance(table, dict):
        raise NamesError(f"{where} must be a table of language = name")
    names = {}
    for language, name in table.items():
        if language not in LANGUAGES:
            raise NamesError(f"{where}.{language}: the languages are {', '.join(LANGUAGES)}")
        if not isinstance(name, str) or not 0 < len(name.strip()) <= MAX_NAME_CHARS:
            raise NamesError(
                f"{where}.{language} must be a name of 1 to {MAX_NAME_CHARS} characters"
            )
        names[language] = name.strip()
    return names


def parse_names(office: Any, desks: Any) -> LocalNames:
    """``office_names`` ({language: name}) and ``desk_names`` ({desk id: {language: name}})
    as read from TOML, either missing; ``NamesError`` names the first wrong entry."""
    office_names = _by_language(office, "office_names") if office is not None else {}
    if desks is None:
        return LocalNames(office_names, {})
    if not isinstance(desks, dict):
        raise NamesError("desk_names must hold one table per desk id")
    desk_names = {
        str(desk_id): _by_language(table, f"desk_names.{desk_id}")
        for desk_id, table in desks.items()
    }
    return LocalNames(office_names, desk_names)
