"""Finding English on a page that should be in Catalan or Spanish (docs/decisions.md,
"English leaks: how the pages are checked").

Every visible text of a page (text nodes, plus the attributes people or screen readers get:
``title``, ``aria-label``, ``alt``, ``placeholder``, ``value`` and the ``data-*`` texts the page
script shows) is checked two ways:

- it is an English message of the app's catalogue (placeholders filled with anything) whose
  translation in that language is different: an untranslated or hard-coded catalogue text;
- it holds two or more English function words that Catalan and Spanish never use ("the",
  "your", "was", …): an English sentence from anywhere (an exception, a script, a template).

Proper names and single technical words (Tor Browser, mat2, KiB) pass; so does the English title
of a section of the English-only officer guide, quoted inside a translated sentence.
"""

import re
from html.parser import HTMLParser
from pathlib import Path

from babel.messages.pofile import read_po

#: English words that are not Catalan or Spanish words (so "no", "on", "a", "has", "me" are
#: left out). Two distinct ones in one text make it English.
_ENGLISH_WORDS = """the and your you this that these those with was were is are of to from have will
cannot not be it its for in been there which what when who than their they them our we would
could should please into only yet here after before again"""
ENGLISH_WORDS = frozenset(_ENGLISH_WORDS.split())
TEXT_ATTRIBUTES = ("title", "aria-label", "alt", "placeholder", "value")
_SPACE = re.compile(r"\s+")
_WORD = re.compile(r"[A-Za-z]+")
_PLACEHOLDER = re.compile(r"%\(\w+\)[sd]")


class _Texts(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.texts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style"):
            self._skip += 1
        for name, value in attrs:
            hidden = tag == "input" and ("type", "hidden") in attrs
            if value and not hidden and (name in TEXT_ATTRIBUTES or name.startswith("data-")):
                self.texts.append(value)

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style") and self._skip:
            self._skip -= 1

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.texts.append(data)


def visible_texts(html: str) -> list[str]:
    parser = _Texts()
    parser.feed(html)
    texts = (_SPACE.sub(" ", text).strip() for text in parser.texts)
    return [text for text in texts if any(c.isalpha() for c in text)]


class Catalogue:
    """An app's English messages that its ``language`` catalogue translates differently."""

    def __init__(self, translations: Path, language: str) -> None:
        with (translations / language / "LC_MESSAGES" / "messages.po").open("rb") as handle:
            catalogue = read_po(handle)
        self.patterns: list[re.Pattern[str]] = []
        self.translations: set[str] = set()  # Catalan "Any" (year) is not English "Any"
        for message in catalogue:
            if not message.id:
                continue
            ids = message.id if isinstance(message.id, tuple) else (message.id,)
            strings = message.string if isinstance(message.string, tuple) else (message.string,)
            self.translations.update(_SPACE.sub(" ", text).strip() for text in strings)
            for english in ids:
                # Same in both languages ("Error", "PDF"), or no words of its own ("%(name)s").
                if english in strings or len(_WORD.findall(_PLACEHOLDER.sub("", english))) == 0:
                    continue
                parts = _PLACEHOLDER.split(_SPACE.sub(" ", english).strip())
                self.patterns.append(re.compile(".+?".join(re.escape(p) for p in parts)))

    def english_message(self, text: str) -> bool:
        if text in self.translations:
            return False
        return any(pattern.fullmatch(text) for pattern in self.patterns)


def english_in(html: str, catalogue: Catalogue) -> list[str]:
    """The texts of ``html`` that are English (empty when the page is fully translated)."""
    found = []
    for text in visible_texts(html):
        words = {word.lower() for word in _WORD.findall(text)}
        if catalogue.english_message(text) or len(words & ENGLISH_WORDS) >= 2:
            found.append(text)
    return found
