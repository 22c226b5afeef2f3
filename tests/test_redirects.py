"""The one safe-redirect rule both apps use (whistle/redirects.py)."""

from urllib.parse import unquote

import pytest

from whistle.redirects import safe_target

from .redirect_cases import HOSTILE_TARGETS, LOCAL_TARGETS, browser_host

BASE = "http://127.0.0.1:8470/login"


@pytest.mark.parametrize("target", HOSTILE_TARGETS)
def test_hostile_target_gets_the_default(target: str) -> None:
    assert safe_target(target, "/home") == "/home"
    # The value the browser (or Werkzeug, which decodes the query) sees goes nowhere else either.
    assert safe_target(unquote(target), "/home") == "/home"


@pytest.mark.parametrize("target", LOCAL_TARGETS)
def test_local_path_kept(target: str) -> None:
    assert safe_target(target, "/home") == target
    assert browser_host(target, BASE) == "127.0.0.1:8470"


def test_empty_and_overlong_get_the_default() -> None:
    assert safe_target(None, "/home") == "/home"
    assert safe_target("", "/home") == "/home"
    assert safe_target("/" + "a" * 5000, "/home") == "/home"
