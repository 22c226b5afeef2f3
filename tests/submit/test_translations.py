"""Every text is translated into Catalan and Spanish, with the same placeholders."""

import re
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

import whistle.submit

ROOT = Path(whistle.submit.__file__).parent / "translations"
PLACEHOLDER = re.compile(r"%\(\w+\)[sd]")


@pytest.mark.parametrize("lang", ["ca", "es"])
def test_catalogue_is_complete(lang: str) -> None:
    template = {m.id for m in read_po((ROOT / "messages.pot").open("rb")) if m.id}
    with (ROOT / lang / "LC_MESSAGES" / "messages.po").open("rb") as handle:
        catalogue = read_po(handle)
    translated = {m.id: m.string for m in catalogue if m.id}
    assert set(translated) == template
    for msgid, text in translated.items():
        assert text, f"{lang}: {msgid!r} is not translated"
        assert sorted(PLACEHOLDER.findall(msgid)) == sorted(PLACEHOLDER.findall(text)), msgid
        assert "fuzzy" not in (catalogue[msgid].flags if catalogue[msgid] else set())


def test_every_template_text_is_in_the_template_catalogue() -> None:
    package = Path(whistle.submit.__file__).parent
    texts = set()
    for path in (package / "templates").glob("*.html"):
        texts |= set(re.findall(r'_\("((?:[^"\\]|\\.)*)"', path.read_text()))
    template = {m.id for m in read_po((ROOT / "messages.pot").open("rb")) if m.id}
    assert texts <= template, sorted(texts - template)
