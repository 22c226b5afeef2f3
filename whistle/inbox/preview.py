"""Attachment previews that never let the browser render the original file.

- images: re-encoded to a fresh PNG by Pillow in a child process
  (``preview_worker``) under memory, CPU-time and wall-clock limits;
- PDFs: rasterised page by page by poppler's ``pdftoppm`` (which runs no
  JavaScript) in a child process under the same limits, its output then
  re-encoded like any image;
- UTF-8 text (including HTML and SVG sources): shown as escaped text;
- anything else: download only.

Every helper (the image worker, poppler, mat2) runs the same way (``_run``):
util-linux ``prlimit`` for address space, CPU time, file size and core dumps
(rather than ``preexec_fn``, unsafe in a threaded server); ``setpriv
--pdeathsig`` so it dies with the inbox; its own process group, killed whole
at the wall-clock limit; ``TMPDIR`` and ``HOME`` pointing into a private
directory (mode 0700) under ``config.scratch_dir`` (``/dev/shm``: memory, not
disk) that is removed afterwards, and swept of what an inbox killed mid-run
left there; output read up to a cap. The untrusted bytes travel over pipes.
Only mat2 needs a file: it gets one in that private directory, after a check
that an archive (ZIP, tar, and archives inside them) does not unpack to more
than ``MAX_UNPACKED_BYTES``. Results, refusals included, are cached for the
unlocked session (``PreviewCache``), and an attachment that costs more than a
time budget gets no further previews, so a small hostile file cannot cost
minutes of CPU on every view.
"""

import io
import os
import shutil
import signal
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
import zipfile
from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TypeVar, cast

from whistle.inbox.config import InboxConfig
from whistle.inbox.errors import PreviewError

MAX_TEXT_BYTES = 1024 * 1024
MAX_PDF_PAGES = 10
PREVIEW_SIDE = 1600
#: The largest file a helper is given (the views keep larger ones download-only).
MAX_INPUT_BYTES = 64 * 1024 * 1024
#: What a helper may print: a PNG of at most PREVIEW_SIDE² pixels is far smaller.
MAX_OUTPUT_BYTES = 64 * 1024 * 1024
MAX_MESSAGE_BYTES = 4096
#: All the files mat2 may unpack from one attachment (archives inside archives included).
MAX_UNPACKED_BYTES = 128 * 1024 * 1024
MAX_ARCHIVE_MEMBERS = 10_000
MAX_ARCHIVE_DEPTH = 3
SCRATCH_PREFIX = "whistle-preview-"
MAT2 = ("mat2", "--inplace")
#: Exit status of our own worker when it refuses a file, with a sentence of ours on stderr.
REFUSED = 2
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
    reason: str = ""  # why there is none: "empty" or "no-preview" (pages translate it)


def classify(content: bytes) -> Kind:
    """What preview a file gets, decided by its bytes, never by its name."""
    if not content:
        return Kind("none", "empty")
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
    return Kind("none", "no-preview")


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


Made = TypeVar("Made", bytes, int)


class PreviewCache:
    """Previews made (PNG bytes, page counts) and refused (the reason), for one unlocked session.

    Bounded in bytes, oldest dropped first; it goes when the session does (lock, idle lock,
    sign-out). Each attachment also has a time budget: once its previews have cost
    ``budget_seconds`` of wall-clock time, or one ran into the time limit, the rest are refused
    without running anything.
    """

    def __init__(self, max_bytes: int = 64 * 1024 * 1024) -> None:
        self._max_bytes = max_bytes
        self._entries: OrderedDict[tuple[str, ...], bytes | int | PreviewError] = OrderedDict()
        self._bytes = 0
        self._spent: dict[tuple[str, ...], float] = {}
        self._lock = threading.Lock()

    def get_or_make(
        self,
        attachment: tuple[str, ...],
        what: str,
        budget_seconds: float,
        make: Callable[[], Made],
    ) -> Made:
        """The cached result for ``attachment``'s ``what``, or ``make()``'s, remembered."""
        key = (*attachment, what)
        with self._lock:
            found = self._entries.get(key)
            if found is not None:
                self._entries.move_to_end(key)
            elif self._spent.get(attachment, 0.0) >= budget_seconds:
                found = TOO_HEAVY
        if isinstance(found, PreviewError):
            raise PreviewError(str(found), why=found.why)
        if found is not None:
            return cast(Made, found)  # stored under this key by the same ``make``
        started = time.monotonic()
        try:
            value: Made | PreviewError = make()
        except PreviewTimeoutError as exc:
            self._charge(attachment, key, float("inf"), exc)
            raise
        except PreviewError as exc:
            value = exc
        self._charge(attachment, key, time.monotonic() - started, value)
        if isinstance(value, PreviewError):
            raise PreviewError(str(value), why=value.why)
        return value

    def _charge(
        self,
        attachment: tuple[str, ...],
        key: tuple[str, ...],
        seconds: float,
        value: bytes | int | PreviewError,
    ) -> None:
        with self._lock:
            self._spent[attachment] = self._spent.get(attachment, 0.0) + seconds
            if _size(value) > self._max_bytes:
                return
            if key in self._entries:
                self._bytes -= _size(self._entries.pop(key))
            self._entries[key] = value
            self._bytes += _size(value)
            while self._bytes > self._max_bytes:
                _, dropped = self._entries.popitem(last=False)
                self._bytes -= _size(dropped)


def _size(value: object) -> int:
    return len(value) if isinstance(value, bytes | str) else 8


class PreviewTimeoutError(PreviewError):
    """A helper ran into a time limit (wall clock or CPU time), or its pipes outlived it."""


#: How a helper ends when it runs into ``prlimit --cpu`` (SIGXCPU at the soft limit, SIGKILL at
#: the hard one), as ``Popen.returncode``; we kill only at the wall-clock limit or an overflow.
CPU_LIMIT_SIGNALS = (-signal.SIGXCPU, -signal.SIGKILL)

TOO_HEAVY = PreviewError(
    "This file takes too long to preview: download it instead.", why="too-heavy"
)


@contextmanager
def private_scratch(config: InboxConfig) -> Iterator[Path]:
    """A new directory (mode 0700) under ``config.scratch_dir``, removed afterwards."""
    sweep_scratch(config)
    path = Path(tempfile.mkdtemp(prefix=f"{SCRATCH_PREFIX}{os.getpid()}-", dir=config.scratch_dir))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def sweep_scratch(config: InboxConfig) -> None:
    """Remove private directories whose inbox process is gone (killed mid-preview)."""
    try:
        entries = list(config.scratch_dir.glob(SCRATCH_PREFIX + "*"))
    except OSError:
        return
    for entry in entries:
        pid = entry.name[len(SCRATCH_PREFIX) :].split("-", 1)[0]
        try:
            if not pid.isdigit() or entry.stat().st_uid != os.getuid() or _alive(int(pid)):
                continue
        except OSError:
            continue
        shutil.rmtree(entry, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _limited(
    config: InboxConfig, argv: list[str] | tuple[str, ...], *, memory: int, fsize: int
) -> list[str]:
    return [
        "setpriv",
        "--pdeathsig",
        "KILL",
        "--",
        "prlimit",
        f"--as={memory}",
        f"--cpu={config.preview_timeout_seconds}",
        "--core=0",
        f"--fsize={fsize}",
        "--",
        *argv,
    ]


def _kill_group(process: subprocess.Popen[bytes]) -> None:
    with suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)


def _run(
    config: InboxConfig,
    argv: list[str] | tuple[str, ...],
    data: bytes,
    what: str,
    *,
    scratch: Path,
    memory: int | None = None,
    fsize: int = 0,
    own_reasons: bool = False,
) -> bytes:
    """Run one helper as the module doc says; its stdout, or ``PreviewError``.

    Only our own worker's refusals (``own_reasons``) are shown as they are: other tools'
    messages can quote the file or the inside of the process (a Python repr).
    """
    if len(data) > MAX_INPUT_BYTES:
        raise PreviewError(
            f"The file is too large for the {what}: download it instead.", why="too-large"
        )
    env = {
        "PATH": "/usr/bin:/bin",
        "LC_ALL": "C.UTF-8",
        "TMPDIR": str(scratch),
        "HOME": str(scratch),
    }
    try:
        process = subprocess.Popen(
            _limited(config, argv, memory=memory or config.preview_memory_bytes, fsize=fsize),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            cwd=scratch,
            env=env,
            start_new_session=True,
        )
    except OSError as exc:
        raise PreviewError(f"The {what} tool is not installed.", why="not-installed") from exc
    out, err = bytearray(), bytearray()
    overflow = threading.Event()
    pumps = [
        threading.Thread(target=_feed, args=(process.stdin, data), daemon=True),
        threading.Thread(
            target=_drain, args=(process, process.stdout, out, MAX_OUTPUT_BYTES, overflow)
        ),
        threading.Thread(
            target=_drain, args=(process, process.stderr, err, MAX_MESSAGE_BYTES, None)
        ),
    ]
    for pump in pumps:
        pump.start()
    try:
        process.wait(timeout=config.preview_timeout_seconds)
        timed_out = False
    except subprocess.TimeoutExpired:
        timed_out = True
    finally:
        _kill_group(process)  # its children too, whether it finished or not
        process.wait()
        for pump in pumps[1:]:
            pump.join(timeout=config.preview_timeout_seconds)
    if any(pump.is_alive() for pump in pumps[1:]):
        # Something outside the group (a helper's own new session) still holds the pipe: it has
        # cost a time limit as surely as a helper that ran into one.
        raise PreviewTimeoutError(
            f"The {what} did not finish: download the file instead.", why="unfinished"
        )
    too_long = PreviewTimeoutError(
        f"The {what} took too long: download the file instead.", why="timeout"
    )
    if timed_out:
        raise too_long
    if overflow.is_set():
        raise PreviewError(
            f"The {what} produced too much output: download the file instead.", why="output"
        )
    if process.returncode in CPU_LIMIT_SIGNALS:
        # The kernel's CPU-time limit fired before our wall-clock one: the same time limit.
        raise too_long
    if process.returncode == REFUSED and own_reasons:
        # The worker writes "code: reason" (preview_worker._refuse); pages show the code's text.
        lines = err.decode("utf-8", "replace").strip().splitlines()
        why, _, reason = lines[-1].partition(": ") if lines else ("refused", "", "refused")
        raise PreviewError(f"No preview: {reason[:200]}.", why=f"worker-{why[:20]}")
    if process.returncode != 0:
        raise PreviewError(f"No preview: the {what} cannot read this file.", why="unreadable")
    return bytes(out)


def _feed(stdin: IO[bytes] | None, data: bytes) -> None:
    if stdin is None:
        return
    try:
        stdin.write(data)
    except OSError:
        pass  # the helper stopped reading: its exit status says why
    finally:
        with suppress(OSError):
            stdin.close()


def _drain(
    process: subprocess.Popen[bytes],
    stream: IO[bytes] | None,
    into: bytearray,
    cap: int,
    overflow: threading.Event | None,
) -> None:
    if stream is None:
        return
    with stream:
        while piece := stream.read(64 * 1024):
            if len(into) + len(piece) > cap:
                if overflow is not None:
                    overflow.set()
                    _kill_group(process)
                continue  # keep reading to the end, so the helper never blocks on a full pipe
            into += piece


def image_preview(config: InboxConfig, content: bytes, max_side: int = PREVIEW_SIDE) -> bytes:
    """A fresh PNG of the image's first frame, or ``PreviewError``."""
    argv = [sys.executable, "-I", "-m", "whistle.inbox.preview_worker", str(max_side)]
    with private_scratch(config) as scratch:
        return _run(config, argv, content, "image preview", scratch=scratch, own_reasons=True)


def pdf_page_count(config: InboxConfig, content: bytes) -> int:
    with private_scratch(config) as scratch:
        raw = _run(config, ["pdfinfo", "-"], content, "PDF reader", scratch=scratch)
    for line in raw.decode("utf-8", "replace").splitlines():
        if line.startswith("Pages:"):
            try:
                return max(0, int(line.split(":", 1)[1].strip()))
            except ValueError:
                break
    raise PreviewError("No preview: the PDF's pages cannot be counted.", why="pdf-pages")


def pdf_page_preview(config: InboxConfig, content: bytes, page: int) -> bytes:
    """Page ``page`` (1-based) rasterised by poppler, then re-encoded as a clean PNG."""
    if not 1 <= page <= MAX_PDF_PAGES:
        raise PreviewError(
            f"Only the first {MAX_PDF_PAGES} pages have a preview.", why="first-pages"
        )
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
    with private_scratch(config) as scratch:
        raster = _run(config, argv, content, "PDF preview", scratch=scratch)
    if not raster:
        raise PreviewError("No preview: the page is empty.", why="empty-page")
    return image_preview(config, raster)


def strip_metadata(config: InboxConfig, name: str, content: bytes) -> bytes:
    """The file with its metadata removed by mat2, or ``PreviewError`` if mat2 cannot.

    mat2 unpacks archives (and archives inside them) to clean each member: what it would
    unpack is checked first (``check_unpacked_size``), and no file it writes can be larger
    than ``MAX_UNPACKED_BYTES``.
    """
    suffix = Path(name).suffix.lower()
    if not suffix[1:].isalnum() or len(suffix) > 10:
        suffix = ""
    if len(content) > MAX_INPUT_BYTES:
        raise PreviewError(
            "The file is too large to clean here: download the original.", why="clean-too-large"
        )
    check_unpacked_size(content)
    with private_scratch(config) as scratch:
        target = scratch / f"attachment{suffix}"
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as out:
            out.write(content)
        _run(
            config,
            (*MAT2, str(target)),
            b"",
            "metadata removal",
            scratch=scratch,
            memory=config.preview_memory_bytes * 2,
            fsize=MAX_UNPACKED_BYTES,
        )
        return target.read_bytes()


def check_unpacked_size(content: bytes) -> None:
    """``PreviewError`` if the archives in ``content`` unpack to too much, too many or too deep.

    The sizes are the archives' own (a ZIP member's declared size is also where Python's
    reader, which mat2 uses, stops); a nested archive is read into memory only after its
    declared size fitted the budget.
    """
    total = _unpacked(content, 0, 0)
    if total > MAX_UNPACKED_BYTES:
        raise PreviewError(_TOO_BIG, why="unpacked")


_TOO_BIG = (
    f"The file unpacks to more than {MAX_UNPACKED_BYTES // 2**20} MiB: "
    "it cannot be cleaned here, download the original."
)


def _unpacked(content: bytes, depth: int, so_far: int) -> int:
    members = _members(content)
    if members is None:
        return so_far
    if depth >= MAX_ARCHIVE_DEPTH:
        raise PreviewError(
            "The file holds archives nested too deep to be cleaned here.", why="nested"
        )
    if len(members) > MAX_ARCHIVE_MEMBERS:
        raise PreviewError(
            "The archive holds too many files to be cleaned here.", why="too-many-files"
        )
    for size, read in members:
        so_far += size
        if so_far > MAX_UNPACKED_BYTES:
            raise PreviewError(_TOO_BIG, why="unpacked")
        head = read(8)
        if head.startswith(b"PK\x03\x04") or _is_tar_header(read(512)):
            so_far = _unpacked(read(size), depth + 1, so_far)
    return so_far


def _is_tar_header(block: bytes) -> bool:
    return len(block) == 512 and block[257:262] == b"ustar"


Reader = Callable[[int], bytes]


def _members(content: bytes) -> list[tuple[int, Reader]] | None:
    """(declared size, read first n bytes) of each member, or ``None`` if not an archive."""
    if content.startswith(b"PK\x03\x04"):
        try:
            archive = zipfile.ZipFile(io.BytesIO(content))
            entries = [i for i in archive.infolist() if not i.is_dir()]
        except (zipfile.BadZipFile, OSError, ValueError) as exc:
            raise PreviewError(
                "The archive is damaged: it cannot be cleaned here.", why="damaged-archive"
            ) from exc
        return [(i.file_size, _zip_reader(archive, i)) for i in entries]
    if _is_tar_header(content[:512]):
        try:
            with tarfile.open(fileobj=io.BytesIO(content), mode="r:") as tar:
                members = [m for m in tar.getmembers() if m.isfile()]
        except (tarfile.TarError, OSError, ValueError) as exc:
            raise PreviewError(
                "The archive is damaged: it cannot be cleaned here.", why="damaged-archive"
            ) from exc
        return [(m.size, _tar_reader(content, m)) for m in members]
    return None


def _zip_reader(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> Reader:
    def read(n: int) -> bytes:
        try:
            with archive.open(info) as member:
                return member.read(n)
        except (zipfile.BadZipFile, OSError, ValueError, NotImplementedError) as exc:
            raise PreviewError(
                "The archive is damaged: it cannot be cleaned here.", why="damaged-archive"
            ) from exc

    return read


def _tar_reader(content: bytes, info: tarfile.TarInfo) -> Reader:
    def read(n: int) -> bytes:
        return content[info.offset_data : info.offset_data + min(n, info.size)]

    return read
