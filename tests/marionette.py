"""Firefox ESR driven over Marionette, its own remote protocol (length-prefixed JSON on a
loopback port), for what Playwright cannot do with Debian's Firefox and puppeteer's WebDriver
BiDi lacks: the WebDriver classic *Virtual Authenticators* commands of the WebAuthn spec
("WebAuthn:AddVirtualAuthenticator"). No geckodriver and no download: Firefox is started with
``--marionette`` and a fresh profile (docs/decisions.md, "Security keys in Firefox ESR")."""

import json
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

FIREFOX = "/usr/bin/firefox-esr"
ELEMENT = "element-6066-11e4-a52e-4f735466cecf"
#: Firefox answers WebAuthn from its test token (where the virtual authenticators live) only
#: with these; by default it asks USB devices and the system, and the ceremony waits forever.
PREFS = {
    "security.webauth.webauthn_enable_softtoken": True,
    "security.webauth.webauthn_enable_usbtoken": False,
    "browser.shell.checkDefaultBrowser": False,
}


class MarionetteError(Exception):
    pass


class Firefox:
    """One Marionette session: ``send`` a command, or use the few helpers below."""

    def __init__(self, port: int) -> None:
        deadline = time.monotonic() + 60
        while True:  # Firefox listens once it has started (2-5 s here)
            try:
                self._socket = socket.create_connection(("127.0.0.1", port), timeout=60)
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        self._buffer = b""
        self._id = 0
        self._read()  # the greeting: {"applicationType": "gecko", "marionetteProtocol": 3}

    def _read(self) -> Any:
        while b":" not in self._buffer:
            self._buffer += self._recv()
        size, _, rest = self._buffer.partition(b":")
        while len(rest) < int(size):
            rest += self._recv()
        self._buffer = rest[int(size) :]
        return json.loads(rest[: int(size)])

    def _recv(self) -> bytes:
        chunk = self._socket.recv(65536)
        if not chunk:
            raise MarionetteError("Firefox closed the connection")
        return chunk

    def send(self, command: str, params: dict[str, Any] | None = None) -> Any:
        self._id += 1
        data = json.dumps([0, self._id, command, params or {}]).encode()
        self._socket.sendall(str(len(data)).encode() + b":" + data)
        while True:
            kind, message_id, error, result = self._read()
            if kind == 1 and message_id == self._id:
                if error:
                    raise MarionetteError(error)
                return result

    def value(self, command: str, params: dict[str, Any] | None = None) -> Any:
        return self.send(command, params).get("value")

    def go(self, url: str) -> None:
        self.send("WebDriver:Navigate", {"url": url})

    def element(self, css: str) -> str:
        """The element ``css`` finds, waiting for it as long as the implicit timeout."""
        found = self.value("WebDriver:FindElement", {"using": "css selector", "value": css})
        return str(found[ELEMENT])

    def fill(self, css: str, text: str) -> None:
        self.send("WebDriver:ElementSendKeys", {"id": self.element(css), "text": text})

    def click(self, css: str) -> None:
        self.send("WebDriver:ElementClick", {"id": self.element(css)})

    def text(self, css: str) -> str:
        return str(self.value("WebDriver:GetElementText", {"id": self.element(css)}))

    def url(self) -> str:
        return str(self.value("WebDriver:GetCurrentURL"))

    def wait(self, condition: Callable[[], bool], what: str, seconds: float = 60) -> None:
        """Poll ``condition`` (a page that submits itself after a ceremony) until it holds."""
        deadline = time.monotonic() + seconds
        while not condition():
            if time.monotonic() > deadline:
                raise MarionetteError(f"timed out waiting for {what} (at {self.url()})")
            time.sleep(0.1)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def firefox(prefs: dict[str, Any] | None = None) -> Iterator[Firefox]:
    """A headless Firefox ESR with a fresh profile and one Marionette session."""
    port = _free_port()
    with tempfile.TemporaryDirectory() as profile:
        lines = [f'user_pref("marionette.port", {port});']
        lines += [
            f"user_pref({json.dumps(k)}, {json.dumps(v)});" for k, v in (prefs or PREFS).items()
        ]
        Path(profile, "user.js").write_text("\n".join(lines) + "\n", encoding="utf-8")
        process = subprocess.Popen(
            [FIREFOX, "--headless", "--marionette", "--no-remote", "--profile", profile],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            browser = Firefox(port)
            browser.send("WebDriver:NewSession", {"capabilities": {}})
            browser.send("WebDriver:SetTimeouts", {"implicit": 30_000, "script": 60_000})
            yield browser
        finally:
            process.terminate()
            process.wait(timeout=30)
