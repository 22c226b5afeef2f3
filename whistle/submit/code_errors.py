"""What to tell a source whose code was refused, pointing at the character when the check can.

Positions count the code's characters without spaces and dashes; people see the
code in groups of four, so the page names a group and a place in it, and marks
the character in what they typed (which stays in the field: nothing is retyped).
"""

from dataclasses import dataclass

from flask_babel import gettext as _

from whistle.crypto import CodeChecksumError, CodeError, CodeFormatError
from whistle.crypto.codes import group

#: Characters a code error page shows of what was typed (a code is 22; more is not one).
SHOWN_CHARS = 22


@dataclass(frozen=True)
class CodeProblem:
    message: str
    #: What was typed, grouped by four, split around the marked characters (empty: none).
    before: str = ""
    marked: str = ""
    after: str = ""


def _where(position: int) -> dict[str, str]:
    # Text placeholders: the page script fills the same strings with its own numbers.
    return {"group": str(position // 4 + 1), "place": str(position % 4 + 1)}


def texts_for_script() -> dict[str, str]:
    """The same messages with ``{g}`` and ``{p}`` for the group and place, for js/page.js."""
    at = {"group": "{g}", "place": "{p}"}
    return {
        "code-wrong": _message(CodeChecksumError(), "wrong", at),
        "code-swapped-at": _message(CodeChecksumError(), "swapped", at),
        "code-swapped": _message(CodeChecksumError(), "swapped", None),
        "code-mistyped": _message(CodeChecksumError(), None, None),
        "code-outside": _message(CodeFormatError(), None, at),
        "code-format": _message(CodeFormatError(), None, None),
    }


def _message_for(error: CodeError) -> str:
    where = None if error.position is None else _where(error.position)
    return _message(error, error.kind, where)


def _message(error: CodeError, kind: str | None, where: dict[str, str] | None) -> str:
    if isinstance(error, CodeChecksumError):
        if kind == "wrong" and where is not None:
            return _(
                "That code was mistyped: character %(place)s of group %(group)s is wrong. "
                "Check it against what you wrote down.",
                **where,
            )
        if kind == "swapped" and where is not None:
            return _(
                "That code was mistyped: character %(place)s of group %(group)s and the one "
                "after it seem to be swapped. Check them against what you wrote down.",
                **where,
            )
        if kind == "swapped":
            return _(
                "That code was mistyped: two neighbouring characters seem to be swapped. "
                "Check it against what you wrote down."
            )
        return _(
            "That code was mistyped: one of its characters is wrong, or two are swapped. "
            "Check it against what you wrote down."
        )
    if where is not None:
        return _(
            "That is not a code: character %(place)s of group %(group)s is not one of the "
            "letters and digits a code is made of.",
            **where,
        )
    return _(
        "That is not a code: a code has 22 letters and digits, shown in groups of four "
        "(21 for codes given before December 2026)."
    )


def describe(error: CodeError, typed: str) -> CodeProblem:
    """The message for ``error`` and, when it names a character, ``typed`` with it marked."""
    message = _message_for(error)
    if error.position is None:
        return CodeProblem(message)
    compact = "".join(c for c in typed if c not in " -\t\r\n\u00a0").upper()[:SHOWN_CHARS]
    width = 2 if error.kind == "swapped" else 1
    start, end = error.position, error.position + width
    if end > len(compact):
        return CodeProblem(message)
    shown = group(compact)
    # Map positions in the compact text to the grouped one (a space every four).
    at = start + start // 4
    to = (end - 1) + (end - 1) // 4 + 1
    return CodeProblem(message, shown[:at], shown[at:to], shown[to:])
