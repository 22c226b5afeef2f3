"""Sessions in a short-lived encrypted cookie; the server keeps no session rows.

The cookie is ``seal_token(session key, JSON, "session")``: a random session id,
the language, Flask-WTF's CSRF secret and, after a check-in, the case id —
never the code. The JSON carries its own expiry (hours, not days), renewed on
each response; an expired or unreadable cookie starts a new session (keeping
only the language of an expired one) and says so (``session.expired``).
"""

import json
import secrets
import time
from typing import Any

from flask import Flask, Request, Response
from flask.sessions import SessionInterface, SessionMixin
from werkzeug.datastructures import CallbackDict

from whistle.crypto import CryptoError, open_token, seal_token

COOKIE_NAME = "whistle"
PURPOSE = "session"
MAX_COOKIE_CHARS = 4000


class SealedSession(CallbackDict[str, Any], SessionMixin):
    def __init__(self, initial: dict[str, Any] | None = None, *, expired: bool = False) -> None:
        def on_update(_: Any) -> None:
            self.modified = True

        super().__init__(initial or {}, on_update)
        self.modified = False
        self.expired = expired


class SealedSessionInterface(SessionInterface):
    def __init__(self, keys: tuple[bytes, ...], lifetime_seconds: int, secure: bool) -> None:
        self._keys = list(keys)
        self._lifetime = lifetime_seconds
        self._secure = secure

    def open_session(self, app: Flask, request: Request) -> SealedSession:
        cookie = request.cookies.get(COOKIE_NAME)
        if not cookie:
            return SealedSession()
        try:
            if len(cookie) > MAX_COOKIE_CHARS:
                raise ValueError
            document = json.loads(open_token(self._keys, cookie, PURPOSE))
            if not isinstance(document, dict) or not isinstance(document.get("data"), dict):
                raise ValueError
            expires = document.get("expires")
            if not isinstance(expires, int) or expires < int(time.time()):
                # Keep only the language: the page that says so is then still readable.
                lang = document["data"].get("lang")
                kept = {"lang": lang} if isinstance(lang, str) and len(lang) < 8 else {}
                return SealedSession(kept, expired=True)
        except (CryptoError, ValueError):
            return SealedSession(expired=True)
        return SealedSession(document["data"])

    def save_session(self, app: Flask, session: SessionMixin, response: Response) -> None:
        if not session:
            if session.modified or getattr(session, "expired", False):
                response.delete_cookie(COOKIE_NAME, path="/", samesite="Strict", httponly=True)
            return
        if "sid" not in session:
            session["sid"] = secrets.token_hex(16)
        document = {"expires": int(time.time()) + self._lifetime, "data": dict(session)}
        value = seal_token(self._keys[0], json.dumps(document).encode("utf-8"), PURPOSE)
        response.set_cookie(
            COOKIE_NAME,
            value,
            path="/",
            httponly=True,
            secure=self._secure,
            samesite="Strict",
        )
        response.vary.add("Cookie")
