"""One file-name rule for the plain route, the browser and the inbox (attack review finding 7)."""

import json
from pathlib import Path

import pytest

from whistle.filenames import MAX_FILE_NAME_CHARS, MAX_FILES, archive_name, clean_file_name

VECTORS = json.loads((Path(__file__).parent / "vectors" / "filenames.json").read_text("utf-8"))
BIDI_AND_CONTROLS = {chr(c) for c in range(0x20)} | {"\x7f", "\u202e", "\u2066", "\u200f"}


@pytest.mark.parametrize("vector", VECTORS["valid"], ids=lambda v: repr(v["raw"][:30]))
def test_vector(vector: dict[str, str]) -> None:
    clean = clean_file_name(vector["raw"])
    assert clean == vector["clean"]
    assert clean
    assert clean.strip(".")
    assert "/" not in clean
    assert "\\" not in clean
    assert not BIDI_AND_CONTROLS & set(clean)
    assert len(clean) <= MAX_FILE_NAME_CHARS
    assert clean_file_name(clean) == clean  # the inbox cleans again: nothing changes


def test_vectors_carry_the_limits_the_browser_uses() -> None:
    assert VECTORS["max_file_name_chars"] == MAX_FILE_NAME_CHARS
    assert VECTORS["max_files"] == MAX_FILES


@pytest.mark.parametrize("raw", ['a<b>c:d"e|f?g*h.txt', "trailing dot.", "CON "])
def test_archive_names_unpack_on_windows(raw: str) -> None:
    name = archive_name(raw)
    assert not set('<>:"|?*') & set(name)
    assert not name.endswith((".", " "))


def test_a_site_cannot_allow_more_files_than_the_inbox_accepts() -> None:
    from whistle.submit.config import ConfigError, Limits

    Limits(max_files=MAX_FILES).check()
    with pytest.raises(ConfigError, match=f"max_files must be at most {MAX_FILES}"):
        Limits(max_files=MAX_FILES + 1).check()
