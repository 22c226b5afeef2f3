"""Attachment names and counts: one rule for every route a file can arrive by.

A name comes from a source's browser (plain route), from inside a sealed
envelope the server cannot read (JavaScript route: any client can put anything
there), or from the inbox's store (records imported before this rule). Each
place applies the same ``clean_file_name``: the last path component only (``/``
and ``\\`` are both separators), NFC, no control, bidirectional or line and
paragraph separator characters (U+202E turns ``exe.pdf`` around on screen),
at most ``MAX_FILE_NAME_CHARS`` with the extension kept, never empty and never
``.`` or ``..``. ``js/filenames.js`` is the browser's copy of this rule, checked
against the same vectors (``tests/vectors/filenames.json``).
"""

import re
import unicodedata

MAX_FILE_NAME_CHARS = 200
#: Files in one submission or follow-up: the sites' limit can be lower, never higher.
MAX_FILES = 20
FALLBACK = "file"

# C0, DEL, C1; bidirectional marks, embeddings, overrides and isolates; line and paragraph
# separators; the byte-order mark.
_UNWANTED = re.compile(
    "[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\u2028\u2029\ufeff]"
)
# Characters Windows refuses in a file name: the referral export's ZIP is unpacked there too.
_NOT_ON_WINDOWS = re.compile(r'[<>:"|?*]')


def clean_file_name(raw: str) -> str:
    """The name a file is stored and shown under (see the module doc)."""
    name = re.split(r"[\\/]", raw)[-1]
    name = _UNWANTED.sub("", unicodedata.normalize("NFC", name)).strip()
    if len(name) > MAX_FILE_NAME_CHARS:
        _, dot, suffix = name.rpartition(".")
        keep = "." + suffix if dot and len(suffix) <= 16 else ""
        name = name[: MAX_FILE_NAME_CHARS - len(keep)].rstrip() + keep
    if not name.strip("."):
        return FALLBACK
    return name


def archive_name(raw: str) -> str:
    """``clean_file_name``, also safe to unpack on Windows (no ``<>:"|?*``, no trailing dot)."""
    name = _NOT_ON_WINDOWS.sub("_", clean_file_name(raw)).rstrip(". ")
    return name or FALLBACK
