"""File sizes look alike with JavaScript off (web.human_size) and on (js/sizes.js, checked by
tests/js/sizes.test.mjs): both follow tests/vectors/sizes.json."""

import json
from pathlib import Path

import pytest

from whistle.submit.web import human_size

VECTORS = json.loads((Path(__file__).parents[1] / "vectors" / "sizes.json").read_text("utf-8"))


@pytest.mark.parametrize("vector", VECTORS["sizes"], ids=lambda v: str(v["size"]))
def test_human_size_follows_the_vectors_the_page_script_follows(vector: dict[str, object]) -> None:
    assert human_size(int(str(vector["size"]))) == vector["shown"]
