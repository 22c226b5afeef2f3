"""Making file-system changes survive a power cut; shared by the server and the inbox."""

import os
from pathlib import Path


def sync_directory(directory: Path) -> None:
    """Flush a directory's entries (a rename or removal in it) to disk."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
