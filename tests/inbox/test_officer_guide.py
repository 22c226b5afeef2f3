"""The officer guide's table of legal clocks says what the code does."""

import re
from datetime import date
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

from whistle.inbox import deadlines as d
from whistle.inbox.steps import NOTIFY_WORKING_DAYS

GUIDE = Path(__file__).parents[2] / "docs" / "officer-guide.md"


def _rows() -> dict[str, list[str]]:
    text = GUIDE.read_text(encoding="utf-8")
    table = text[text.index("## Deadlines and duties") : text.index("## Every decision")]
    rows = {}
    for line in table.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 5 and cells[0] not in ("duty", "---"):
            rows[cells[0]] = cells
    return rows


def test_the_guides_clocks_are_the_codes() -> None:
    rows = _rows()
    assert rows["acknowledge receipt"][1:3] == ["9.2.c", f"{d.ACKNOWLEDGE_DAYS} days"]
    assert rows["give feedback"][1:3] == ["9.2.d", f"{d.FEEDBACK_MONTHS} months"]
    assert rows["delete when no investigation"][1:3] == ["32.4", f"{d.DELETION_MONTHS} months"]
    assert rows["retention cap"][2] == f"{d.RETENTION_YEARS} years"
    assert rows["offer a meeting the reporter asked for"][2].startswith(f"{d.MEETING_DAYS} days")
    assert rows["notify the Responsable's appointment or removal"][2] == (
        f"{NOTIFY_WORKING_DAYS} working days"
    )
    assert (
        f"warned {d.DELETION_WARNING_DAYS} days before" in rows["delete when no investigation"][4]
    )
    # The extension's example is what feedback_due computes.
    example = re.search(r"30 Nov → 28 Feb → 28 May", rows["extend the feedback deadline"][4])
    assert example
    assert d.feedback_due(date(2024, 11, 30), False) == date(2025, 2, 28)
    assert d.feedback_due(date(2024, 11, 30), True) == date(2025, 5, 28)


def _italics(path: Path) -> list[str]:
    text = re.sub(r"\s*\n\s*", " ", path.read_text(encoding="utf-8"))
    return re.findall(r"(?<![*\w])\*([^*]+?)\*(?!\*)", text)


def _as_quoted(text: str) -> str:
    """A catalogue text as the guide quotes it: "…" for a placeholder, a note in brackets left
    out ("Download without metadata (mat2)" is quoted *Download without metadata*)."""
    return re.sub(r"%\(\w+\)[sd]", "…", text)


def _quoted_names(language: str) -> dict[str, set[str]]:
    """The interface names the English guide quotes in italics, with what the ``language``
    catalogue calls them, quoted the same way (a heading and its button may share a name)."""
    path = Path(__file__).parents[2] / "whistle" / "inbox" / "translations" / language
    with (path / "LC_MESSAGES" / "messages.po").open("rb") as handle:
        catalogue = [(m.id, m.string) for m in read_po(handle) if isinstance(m.id, str) and m.id]
    names: dict[str, set[str]] = {}
    for quoted in set(_italics(GUIDE)):
        for msgid, translation in catalogue:  # a heading and its pgettext("button", …) twin
            if _as_quoted(msgid) == quoted:
                names.setdefault(quoted, set()).add(_as_quoted(translation))
            elif msgid.startswith(quoted + " ("):
                names.setdefault(quoted, set()).add(_as_quoted(translation).split(" (")[0])
    return names


@pytest.mark.parametrize("language", ["ca", "es"])
def test_the_translated_guides_name_buttons_and_pages_as_the_interface_does(
    language: str,
) -> None:
    names = _quoted_names(language)
    assert len(names) > 50  # the English guide's quoted names were found in the catalogue
    guide = GUIDE.parent.parent / "whistle" / "inbox" / "guide" / f"officer-guide.{language}.md"
    quoted = set(_italics(guide))
    assert {english: name for english, name in names.items() if not name & quoted} == {}
