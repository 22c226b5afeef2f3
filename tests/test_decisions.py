"""docs/decisions.md: every entry dated, with a status, and readable without anything outside
the repository (the design brief, issues and reviews are not in it)."""

import re
from pathlib import Path

DECISIONS = Path(__file__).resolve().parent.parent / "docs" / "decisions.md"
ENTRY = re.compile(
    r"\*\*(?P<title>.+?)\*\*\s+\((?P<day>\d{4}-\d{2}-\d{2}),\s+(?P<status>[a-z]+)", re.S
)
STATUSES = {"adopted", "superseded", "open"}
OUTSIDE = re.compile(r"DESIGN\.md|\bissues? \d+|\breview\b|\.\./shared|the brief\b", re.I)


def _entries() -> list[str]:
    return [p for p in DECISIONS.read_text(encoding="utf-8").split("\n\n") if p.startswith("**")]


def test_every_entry_has_a_day_and_a_status() -> None:
    entries = _entries()
    assert len(entries) > 40  # the rule looks at the entries, not at nothing
    undated = [entry.split("\n")[0] for entry in entries if not ENTRY.match(entry)]
    assert undated == []
    statuses = {match["status"] for entry in entries if (match := ENTRY.match(entry))}
    assert statuses <= STATUSES


def test_nothing_points_outside_the_repository() -> None:
    text = DECISIONS.read_text(encoding="utf-8")
    assert OUTSIDE.findall(text) == []
