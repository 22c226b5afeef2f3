"""Attachment previews that never let the browser render the original file.

- images: re-encoded to a fresh PNG by Pillow in a child process
  (``preview_worker``) under memory, CPU-time and wall-clock limits;
- PDFs: rasterised page by page by poppler's ``pdftoppm`` (which runs no
  JavaScript) in a child process under the same limits, its output then
  re-encoded like any image;
- UTF-8 text (including HTML and SVG sources): shown as escaped text;
- anything else: download only.

Limits are applied with util-linux ``prlimit`` rather than ``preexec_fn``,
which is unsafe in a threaded server. The untrusted bytes travel over pipes,
so no plaintext copy is written to disk. Metadata stripping (mat2) needs a
file: it gets one in ``config.scratch_dir`` (tmpfs, memory) and removes it.
"""

import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from whistle.inbox.config import InboxConfig
from whistle.inbox.errors import PreviewError

MAX_TEXT_BYTES = 1024 * 1024
MAX_PDF_PAGES = 10
PREVIEW_SIDE = 1600
IMAGE_MAGIC = (
    b"\x89PNG\r\n\x1a\n",
    b"\xff\xd8\xff",
    b"GIF87a",
    b"GIF89a",
    b"II*\x00",
    b"MM\x00*",
)


@dataclass(frozen=True)
class Kind:
    name: str  # "image", "pdf", "text", "none"
    reason: str = ""


def classify(content: bytes) -> Kind:
    """What preview a file gets, decided by its bytes, never by its name."""
    if not content:
        return Kind("none", "The file is empty.")
    if content.startswith(IMAGE_MAGIC) or (content[:4] == b"RIFF" and content[8:12] == b"WEBP"):
        return Kind("image")
    if _is_bmp(content):
        return Kind("image")
    if content[:1024].lstrip(b"\x00\t\n\r ").startswith(b"%PDF-"):
        return Kind("pdf")
    if b"\x00" not in content[:MAX_TEXT_BYTES]:
        try:
            content[:MAX_TEXT_BYTES].decode("utf-8")
            return Kind("text")
        except UnicodeDecodeError as exc:
            # A multi-byte character cut at the limit is still text.
            if len(content) > MAX_TEXT_BYTES and exc.start >= MAX_TEXT_BYTES - 4:
                return Kind("text")
    return Kind("none", "This kind of file has no safe preview: download it instead.")


def _is_bmp(content: bytes) -> bool:
    """ "BM" and the file's own length: plain text that starts with "BM" stays text."""
    return (
        len(content) >= 26
        and content[:2] == b"BM"
        and int.from_bytes(content[2:6], "little") == len(content)
    )


def text_preview(content: bytes) -> tuple[str, bool]:
    """The text (to be escaped by the template) and whether it was cut."""
    cut = len(content) > MAX_TEXT_BYTES
    return content[:MAX_TEXT_BYTES].decode("utf-8", errors="replace"), cut


def _limited(config: InboxConfig, argv: list[str]) -> list[str]:
    return [
        "prlimit",
        f"--as={config.preview_memory_bytes}",
        f"--cpu={config.preview_timeout_seconds}",
        "--core=0",
        "--fsize=0",
        "--",
        *argv,
    ]


def _run(config: InboxConfig, argv: list[str], data: bytes, what: str) -> bytes:
    try:
        result = subprocess.run(
            _limited(config, argv),
            input=data,
            capture_output=True,
            timeout=config.preview_timeout_seconds,
            check=False,
            env={"PATH": "/usr/bin:/bin", "LC_ALL": "C.UTF-8"},
        )
    except subprocess.TimeoutExpired as exc:
        raise PreviewError(f"The {what} took too long: download it instead.") from exc
    except OSError as exc:
        raise PreviewError(f"The {what} tool is not installed.") from exc
    if result.returncode != 0:
        detail = result.stderr.decode("utf-8", "replace").strip().splitlines()
        reason = detail[-1][:200] if detail else f"exit status {result.returncode}"
        raise PreviewError(f"No preview: {reason}.")
    return result.stdout


def image_preview(config: InboxConfig, content: bytes, max_side: int = PREVIEW_SIDE) -> bytes:
    """A fresh PNG of the image's first frame, or ``PreviewError``."""
    argv = [sys.executable, "-I", "-m", "whistle.inbox.preview_worker", str(max_side)]
    return _run(config, argv, content, "image preview")


def pdf_page_count(config: InboxConfig, content: bytes) -> int:
    info = _run(config, ["pdfinfo", "-"], content, "PDF reader").decode("utf-8", "replace")
    for line in info.splitlines():
        if line.startswith("Pages:"):
            try:
                return max(0, int(line.split(":", 1)[1].strip()))
            except ValueError:
                break
    raise PreviewError("No preview: the PDF's pages cannot be counted.")


def pdf_page_preview(config: InboxConfig, content: bytes, page: int) -> bytes:
    """Page ``page`` (1-based) rasterised by poppler, then re-encoded as a clean PNG."""
    if not 1 <= page <= MAX_PDF_PAGES:
        raise PreviewError(f"Only the first {MAX_PDF_PAGES} pages have a preview.")
    argv = [
        "pdftoppm",
        "-png",
        "-f",
        str(page),
        "-l",
        str(page),
        "-singlefile",
        "-scale-to",
        str(PREVIEW_SIDE),
        "-",
    ]
    raster = _run(config, argv, content, "PDF preview")
    if not raster:
        raise PreviewError("No preview: the page is empty.")
    return image_preview(config, raster)


def strip_metadata(config: InboxConfig, name: str, content: bytes) -> bytes:
    """The file with its metadata removed by mat2, or ``PreviewError`` if mat2 cannot."""
    suffix = Path(name).suffix.lower()
    if not suffix[1:].isalnum() or len(suffix) > 10:
        suffix = ""
    workdir = Path(tempfile.mkdtemp(prefix="whistle-mat2-", dir=config.scratch_dir))
    try:
        target = workdir / f"attachment{suffix}"
        target.write_bytes(content)
        target.chmod(0o600)
        try:
            result = subprocess.run(
                [
                    "prlimit",
                    f"--as={config.preview_memory_bytes * 2}",
                    f"--cpu={config.preview_timeout_seconds}",
                    "--core=0",
                    "--",
                    "mat2",
                    "--inplace",
                    str(target),
                ],
                capture_output=True,
                timeout=config.preview_timeout_seconds * 2,
                check=False,
                env={"PATH": "/usr/bin:/bin", "LC_ALL": "C.UTF-8", "HOME": str(workdir)},
            )
        except subprocess.TimeoutExpired as exc:
            raise PreviewError("Removing the metadata took too long.") from exc
        except OSError as exc:
            raise PreviewError("mat2 is not installed.") from exc
        if result.returncode != 0:
            raise PreviewError("mat2 cannot remove metadata from this kind of file.")
        return target.read_bytes()
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
