"""What the office publishes off the server (docs/deployment.md §8): the office fingerprint
and the SHA-256 of the one script the submission pages load.

The page script pins the two halves of libsodium.js it loads (the WebAssembly binary, the
plain-JS fallback) by their SHA-384 (js/build.mjs), so its own hash covers every script and
binary a page runs; the two others are listed too, for whoever compares what the onion serves
file by file. Hashes are computed from the files, never taken from the manifest, and a page
script that does not pin the files beside it is refused: what is printed is what is served.
"""

import base64
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from whistle.errors import WhistleError
from whistle.submit.app import BUILD_DIR

#: Roles of the build's files, the page script first (the one value to publish).
ROLES = ("page", "wasm", "fallback")


class BuildMissingError(WhistleError):
    """No browser build here, or one whose files do not match each other."""


@dataclass(frozen=True)
class ServedFile:
    role: str
    name: str
    sha256: str


def served_files(directory: Path = BUILD_DIR) -> list[ServedFile]:
    """The build's files with their SHA-256, the page script first."""
    try:
        manifest = json.loads((directory / "manifest.json").read_text(encoding="utf-8"))
        data = {role: (directory / manifest[role]["file"]).read_bytes() for role in ROLES}
        names = {role: str(manifest[role]["file"]) for role in ROLES}
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise BuildMissingError(
            f"no complete browser build in {directory} (make build): {exc}"
        ) from exc
    for role in ("wasm", "fallback"):
        sri = "sha384-" + base64.b64encode(hashlib.sha384(data[role]).digest()).decode("ascii")
        if sri.encode("ascii") not in data["page"]:
            raise BuildMissingError(
                f"the page script does not pin the {names[role]} beside it: rebuild (make build)"
            )
    return [ServedFile(role, names[role], hashlib.sha256(data[role]).hexdigest()) for role in ROLES]


def published_lines(office_fingerprint: str, directory: Path = BUILD_DIR) -> list[str]:
    """The lines to copy onto the office's clearnet page."""
    files = served_files(directory)
    page = files[0]
    return [
        f"Office fingerprint: {office_fingerprint}",
        f"Page script: {page.name}",
        f"Page script SHA-256: {page.sha256}",
        "(it pins, by hash, the two files it may load beside it:)",
        *(f"  {f.sha256}  {f.name}" for f in files[1:]),
    ]
