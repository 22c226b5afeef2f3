"""Redirect targets taken from a request: a path on this site, or the caller's default.

Both apps send people back to a ``next=`` page after choosing a language or
signing in. A browser does not read a ``Location`` the way a naive check does:
it drops tabs and line breaks anywhere in it, treats ``\\`` like ``/``, and
reads ``//host`` (or ``/\\t/host``) as another site. So the check is on what a
browser would make of the value, and the rule is narrow: printable ASCII, no
backslash, one leading ``/`` followed by something that is not ``/``, and no
scheme or host once parsed. Anything else gets the default, never an error page.
"""

from urllib.parse import unquote, urlsplit

MAX_TARGET_CHARS = 2048


def safe_target(target: str | None, default: str) -> str:
    """``target`` if it is a path on this site (see the module doc), else ``default``."""
    if not target or len(target) > MAX_TARGET_CHARS:
        return default
    if not all(" " < c < "\x7f" for c in target) or "\\" in target:
        return default
    if not target.startswith("/") or target.startswith("//"):
        return default
    # A percent-encoded slash, backslash or control character in the first segment reads as a
    # path here, but a later decode could make it a host: nothing legitimate needs one there.
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return default
    first = unquote(parts.path.split("/", 2)[1])
    if not all(" " < c < "\x7f" for c in first) or "/" in first or "\\" in first:
        return default
    return target
