# Flask-Babel 4 ships no type information and no stub package exists: these are the names
# Whistle uses, with the types of its documentation (mypy reads this through `mypy_path`).
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

from babel.core import Locale
from flask import Flask

class Babel:
    def __init__(
        self,
        app: Flask | None = None,
        date_formats: dict[str, str] | None = None,
        configure_jinja: bool = True,
        *,
        locale_selector: Callable[[], str | None] | None = None,
        timezone_selector: Callable[[], str | None] | None = None,
        **kwargs: Any,
    ) -> None: ...

def gettext(string: str, **variables: Any) -> str: ...
def ngettext(singular: str, plural: str, num: int, **variables: Any) -> str: ...
def get_locale() -> Locale | None: ...
def refresh() -> None: ...
def force_locale(locale: str) -> AbstractContextManager[None]: ...
