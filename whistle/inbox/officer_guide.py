"""The officer guide inside the inbox, offline, in the officer's language.

The guides are Markdown files beside this module (``guide/officer-guide.LANG.md``; the
English one is ``docs/officer-guide.md``, linked in). They are rendered here with
markdown-it-py, CommonMark plus tables, with raw HTML turned off: whatever a guide holds
becomes text or the few elements Markdown makes, never markup of its own. Link targets are
checked by markdown-it's own validator (no ``javascript:``, ``vbscript:``, ``file:``, ``data:``
except images).

Every heading gets an id the interface links to (``url_for("help.index", _anchor=...)``):
a heading ending in ``{#some-id}`` takes that id, any other its text as a slug. Translated
guides end their headings with the English slug, so one link works in every language.
"""

import functools
import itertools
import re
from dataclasses import dataclass
from pathlib import Path

from markdown_it import MarkdownIt

GUIDES = Path(__file__).parent / "guide"
LANGUAGES = ("ca", "es", "en")
FALLBACK = "en"
_EXPLICIT_ID = re.compile(r"\s*\{#([a-z0-9-]+)\}\s*$")


@dataclass(frozen=True)
class Guide:
    #: Safe HTML (raw HTML off in the source, every text escaped by the renderer).
    html: str
    #: The language the guide is written in (the fallback when the officer's has none).
    language: str
    #: (id, title) of each section (second-level heading), for the table of contents.
    sections: tuple[tuple[str, str], ...]


def slug(text: str) -> str:
    """``Officers joining and leaving`` → ``officers-joining-and-leaving``."""
    return re.sub(r"[^a-z0-9]+", "-", text.casefold()).strip("-")


def render(text: str, language: str) -> Guide:
    md = MarkdownIt("commonmark", {"html": False}).enable("table")
    tokens = md.parse(text)
    sections: list[tuple[str, str]] = []
    for opening, inline in itertools.pairwise(tokens):
        if opening.type != "heading_open" or inline.type != "inline":
            continue
        title = inline.content
        explicit = _EXPLICIT_ID.search(title)
        if explicit is not None:
            title = title[: explicit.start()]
            last = (inline.children or [])[-1:]
            for child in last:
                child.content = _EXPLICIT_ID.sub("", child.content)
        anchor = explicit[1] if explicit is not None else slug(title)
        opening.attrSet("id", anchor)
        if opening.tag == "h2":
            sections.append((anchor, title))
    html = md.renderer.render(tokens, md.options, {})
    return Guide(html, language, tuple(sections))


@functools.cache
def guide(language: str) -> Guide:
    """The guide in ``language``, or in English when it has not been translated yet."""
    chosen = language if language in LANGUAGES else FALLBACK
    path = GUIDES / f"officer-guide.{chosen}.md"
    if not path.is_file():
        chosen, path = FALLBACK, GUIDES / f"officer-guide.{FALLBACK}.md"
    return render(path.read_text(encoding="utf-8"), chosen)
