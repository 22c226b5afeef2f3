"""Reading ``torrc.example`` and moving it into a test directory.

The tests never keep a second copy of the onion-service lines: they read the operator's file and
rewrite only what must change on a test machine (directories and loopback target ports).
"""

import re
from collections.abc import Mapping
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
TORRC_EXAMPLE = REPO / "whistle" / "deploy" / "torrc.example"

#: Where torrc.example keeps the onion services' directories on a real server.
SERVER_TOR_DIR = "/var/lib/tor/"

#: The two onion services torrc.example declares, by directory name.
SOURCE_SERVICE = "whistle-source"
COURIER_SERVICE = "whistle-courier"

_TARGET = re.compile(r"^(HiddenServicePort\s+\d+\s+)127\.0\.0\.1:(\d+)\s*$")


def directives(text: str) -> list[str]:
    """The non-comment, non-blank lines of a torrc, stripped."""
    lines = (line.strip() for line in text.splitlines())
    return [line for line in lines if line and not line.startswith("#")]


def rewrite(text: str, tor_dir: Path, ports: Mapping[int, int] | None = None) -> str:
    """``text`` with the onion directories moved under ``tor_dir`` and loopback targets remapped.

    ``ports`` maps a loopback port named in torrc.example (8080, 8081) to the port a test
    server really listens on; a target port not in the map is left as it is.
    """
    ports = ports or {}
    out = []
    for line in text.splitlines():
        line = line.replace(SERVER_TOR_DIR, f"{tor_dir}/")
        match = _TARGET.match(line.strip())
        if match:
            old = int(match.group(2))
            line = f"{match.group(1)}127.0.0.1:{ports.get(old, old)}"
        out.append(line)
    return "\n".join(out) + "\n"


def onion_service_lines(text: str, tor_dir: Path, ports: Mapping[int, int]) -> list[str]:
    """Only the ``HiddenService*`` directives of ``text``, rewritten for a test directory."""
    return [
        line
        for line in directives(rewrite(text, tor_dir, ports))
        if line.startswith("HiddenService")
    ]
