"""Removable media mounted now (USB sticks, external disks), offered on the Backup page.

Desktops mount them under ``/media/USER/LABEL`` (Debian, udisks2) or ``/run/media/USER/LABEL``
(Fedora and others): this reads ``/proc/mounts`` and keeps what is mounted there. Nothing
else is offered, and the officer can still type any directory.
"""

import re
from dataclasses import dataclass
from pathlib import Path

MOUNTS = Path("/proc/mounts")
MEDIA_ROOTS = ("/media/", "/run/media/")
_ESCAPE = re.compile(r"\\([0-7]{3})")


@dataclass(frozen=True)
class Medium:
    path: str
    #: What the officer recognises: the volume's label (the mount point's last part).
    label: str
    writable: bool


def _unescape(field: str) -> str:
    """/proc/mounts writes space, tab, newline and backslash as octal (``\\040``)."""
    return _ESCAPE.sub(lambda m: chr(int(m[1], 8)), field)


def parse_mounts(text: str) -> list[Medium]:
    """The removable media in a ``/proc/mounts`` text, sorted by label."""
    found: dict[str, Medium] = {}
    for line in text.splitlines():
        fields = line.split()
        if len(fields) < 4:
            continue
        path = _unescape(fields[1])
        if not path.startswith(MEDIA_ROOTS) or path.rstrip("/") in ("/media", "/run/media"):
            continue
        options = fields[3].split(",")
        found[path] = Medium(path, Path(path).name, "ro" not in options)
    return sorted(found.values(), key=lambda m: (m.label.casefold(), m.path))


def mounted_media(mounts: Path = MOUNTS) -> list[Medium]:
    """What is mounted now; nothing when ``mounts`` cannot be read (not Linux, say)."""
    try:
        return parse_mounts(mounts.read_text(encoding="utf-8", errors="replace"))
    except OSError:
        return []
