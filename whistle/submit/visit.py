"""A check-in that lasts one visit with JavaScript off, without the code in a cookie or URL.

After a check-in the conversation page carries, in hidden form fields only, a
*visit token*: ``m`` (docs/protocol.md §3, the value every key of the code comes
from, never the code itself) with an expiry and this browser's session id,
sealed under the rotating session key (``seal_token``, purpose "visit"). Posting
it back — to answer, or to download a file the office sent — stands for the code
until it expires (30 minutes) or the session ends. The server keeps nothing: no
row, no cache, no cookie holding ``m`` or the case (docs/threat-model.md, §3.2
and §3.4; docs/decisions.md, 2026-12-05).
"""

import hmac
import time

from whistle.crypto import CryptoError, open_token, seal_token

PURPOSE = "visit"
#: Long enough to read the replies and write an answer; short enough that a page
#: left open (or a browser's copy of it) soon stands for nothing.
VISIT_SECONDS = 1800
_MASTER_HEX = 64


def seal_visit(master: bytes, sid: str, key: bytes, now: float | None = None) -> str:
    """The token for the conversation page of the check-in that derived ``master``."""
    if len(master) != 32:
        raise ValueError("m is 32 bytes")
    expires = int(time.time() if now is None else now) + VISIT_SECONDS
    return seal_token(key, f"{expires}:{sid}:{master.hex()}".encode("ascii"), PURPOSE)


def open_visit(token: str, sid: str, keys: list[bytes], now: float | None = None) -> bytes | None:
    """``m`` from a visit token of this session that has not expired, else None."""
    if not token or not sid:
        return None
    try:
        expires, bound_to, master = open_token(keys, token, PURPOSE).decode("ascii").split(":")
    except (CryptoError, UnicodeDecodeError, ValueError):
        return None
    if not expires.isdigit() or int(expires) < (time.time() if now is None else now):
        return None
    if not hmac.compare_digest(bound_to, sid) or len(master) != _MASTER_HEX:
        return None
    try:
        return bytes.fromhex(master)
    except ValueError:
        return None
