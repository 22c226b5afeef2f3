"""Re-encode one untrusted image, in a child process under resource limits.

    python -m whistle.inbox.preview_worker MAX_SIDE < image > png

Reads the image from stdin, refuses formats outside a short list, dimensions
past the limits and decompression bombs, and writes a fresh PNG (first frame,
pixels only: no metadata, no colour profile, no text chunks) to stdout. Exit
status 2 with a one-line reason on stderr when it refuses.
"""

import io
import sys
import warnings

from PIL import Image, UnidentifiedImageError

from whistle.errors import WhistleError

FORMATS = ("PNG", "JPEG", "GIF", "WEBP", "BMP", "TIFF", "PPM")
MAX_PIXELS = 40_000_000
MAX_SIDE = 20_000


class RefusedError(WhistleError):
    """A reason of ours, safe to show as it is."""


def reencode(data: bytes, max_side: int) -> bytes:
    if not data:
        raise RefusedError("empty: the file is empty")
    Image.MAX_IMAGE_PIXELS = MAX_PIXELS
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        image = Image.open(io.BytesIO(data), formats=FORMATS)
        width, height = image.size
        if width < 1 or height < 1 or width > MAX_SIDE or height > MAX_SIDE:
            raise RefusedError(
                f"pixels: the image is {width}×{height} pixels: too large to preview"
            )
        if width * height > MAX_PIXELS:
            raise RefusedError(
                f"pixels: the image is {width}×{height} pixels: too large to preview"
            )
        image.seek(0)
        if image.format == "JPEG":
            image.draft("RGB", (max_side, max_side))
        image.load()
        mode = (
            "RGBA" if image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info else "RGB"
        )
        converted = image.convert(mode)
        converted.thumbnail((max_side, max_side))
        clean = Image.frombytes(mode, converted.size, converted.tobytes())
    out = io.BytesIO()
    clean.save(out, format="PNG", optimize=False)
    return out.getvalue()


def main() -> int:
    max_side = int(sys.argv[1]) if len(sys.argv) > 1 else 1600
    data = sys.stdin.buffer.read()
    try:
        png = reencode(data, max_side)
    except RefusedError as exc:
        return _refuse(str(exc))
    except UnidentifiedImageError:
        # Pillow's message names the in-memory buffer (a Python repr): never shown.
        return _refuse("format: the file is not an image this preview can read")
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        return _refuse("pixels: the image has too many pixels to preview")
    except (OSError, ValueError, SyntaxError):  # Pillow's own messages are not shown
        return _refuse("damaged: the image is damaged or cut short")
    sys.stdout.buffer.write(png)
    return 0


def _refuse(reason: str) -> int:
    """``reason`` is "code: English text"; the inbox's pages translate the code."""
    sys.stderr.write(f"{reason}\n")
    return 2


if __name__ == "__main__":
    sys.exit(main())
