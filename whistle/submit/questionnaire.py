"""The report form's questions, read from a TOML data file with labels per language; also the
categories a source may choose from (optional; the same keys as the inbox's *Office* page)."""

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from whistle.submit.config import LANGUAGES, ConfigError

DEFAULT_FILE = Path(__file__).with_name("questionnaire.toml")
_KEY = re.compile(r"[a-z][a-z0-9_]{0,31}")
RESERVED = {"csrf_token", "accept", "files", "receipt"}
#: The inbox's category keys (whistle/inbox/settings.py): a source's choice is filed under it.
_CATEGORY_KEY = re.compile(r"[a-z0-9][a-z0-9-]{0,31}")


@dataclass(frozen=True)
class Question:
    key: str
    kind: str  # "line" (one line) or "text" (several)
    required: bool
    max_chars: int
    label: dict[str, str]
    help: dict[str, str]
    autocomplete: str = "off"

    @property
    def field_name(self) -> str:
        return f"q_{self.key}"


@dataclass(frozen=True)
class Category:
    key: str
    label: dict[str, str]


@dataclass(frozen=True)
class Questionnaire:
    questions: tuple[Question, ...]
    identification: tuple[Question, ...]
    categories: tuple[Category, ...] = ()

    def category(self, key: str) -> Category | None:
        return next((c for c in self.categories if c.key == key), None)


def _texts(entry: dict[str, Any], name: str, required: bool) -> dict[str, str]:
    value = entry.get(name, {})
    if not isinstance(value, dict) or (required and set(value) != set(LANGUAGES)):
        raise ConfigError(f"questionnaire: {name} needs a text for each of {LANGUAGES}")
    if not all(isinstance(v, str) and v.strip() for v in value.values()):
        raise ConfigError(f"questionnaire: every {name} is non-empty text")
    return value


def _question(entry: Any, identification: bool) -> Question:
    if not isinstance(entry, dict):
        raise ConfigError("questionnaire: each question is a table")
    key = entry.get("key")
    if not isinstance(key, str) or not _KEY.fullmatch(key) or key in RESERVED:
        raise ConfigError(f"questionnaire: bad key {key!r}")
    kind = "line" if identification else entry.get("kind")
    if kind not in ("line", "text"):
        raise ConfigError(f"questionnaire: {key}: kind is line or text")
    max_chars = entry.get("max_chars")
    if not isinstance(max_chars, int) or not 1 <= max_chars <= 20000:
        raise ConfigError(f"questionnaire: {key}: max_chars is 1 to 20000")
    required = entry.get("required", False)
    if not isinstance(required, bool) or (identification and required):
        raise ConfigError(f"questionnaire: {key}: required is true or false (identification: no)")
    return Question(
        key=key,
        kind=kind,
        required=required,
        max_chars=max_chars,
        label=_texts(entry, "label", True),
        help=_texts(entry, "help", False) if "help" in entry else {},
        autocomplete=str(entry.get("autocomplete", "off")),
    )


def load_questionnaire(path: Path = DEFAULT_FILE) -> Questionnaire:
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read the questionnaire {path}: {exc}") from exc
    if raw.get("version") != 1:
        raise ConfigError("questionnaire: version must be 1")
    questions = tuple(_question(e, False) for e in raw.get("questions", []))
    identification = tuple(_question(e, True) for e in raw.get("identification", []))
    keys = [q.key for q in questions + identification]
    if len(set(keys)) != len(keys) or not questions:
        raise ConfigError("questionnaire: keys must be unique and there must be questions")
    # The identification block has a fixed size: its fields must always fit.
    if sum(q.max_chars * 4 + len(q.key) + 200 for q in identification) > 3800:
        raise ConfigError("questionnaire: identification fields are too long to fit their block")
    categories = tuple(_category(e) for e in raw.get("categories", []))
    if len({c.key for c in categories}) != len(categories):
        raise ConfigError("questionnaire: category keys must be unique")
    return Questionnaire(questions, identification, categories)


def _category(entry: Any) -> Category:
    if not isinstance(entry, dict):
        raise ConfigError("questionnaire: each category is a table")
    key = entry.get("key")
    if not isinstance(key, str) or not _CATEGORY_KEY.fullmatch(key):
        raise ConfigError(f"questionnaire: bad category key {key!r} (lower-case, digits, dashes)")
    return Category(key, _texts(entry, "label", True))
