"""Every message of the inbox is translated into Catalan and Spanish."""

from pathlib import Path

import pytest
from babel.messages.pofile import read_po

TRANSLATIONS = Path(__file__).parents[2] / "whistle" / "inbox" / "translations"


def ids(catalog) -> set:
    return {m.id for m in catalog if m.id}


@pytest.mark.parametrize("lang", ["ca", "es"])
def test_catalogue_complete(lang) -> None:
    with (TRANSLATIONS / "messages.pot").open("rb") as f:
        template = read_po(f)
    with (TRANSLATIONS / lang / "LC_MESSAGES" / "messages.po").open("rb") as f:
        catalog = read_po(f)
    assert ids(template) <= ids(catalog)
    untranslated = [
        m.id
        for m in catalog
        if m.id and (not m.string or (isinstance(m.string, tuple) and not all(m.string)))
    ]
    assert untranslated == []
    assert not [m.id for m in catalog if m.fuzzy and m.id]
