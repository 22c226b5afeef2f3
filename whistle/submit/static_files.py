"""The static files (stylesheet, browser crypto bundle) sent gzip-compressed when the browser
accepts it, and the content-hashed bundle cached for good.

Only these files are ever compressed. BREACH-style attacks read secrets out of the length of
compressed responses that carry a secret and reflect something the attacker chose; the static
files are the same bytes for every visitor and reflect nothing. Pages and JSON answers carry
secrets (CSRF tokens, the source's code on the receipt, decrypted text, login tokens) and are
never compressed (docs/benchmarks.md, "Compression (gzip) and BREACH"). Over Tor this saves
most of the JavaScript-on weight: the page script and libsodium's WebAssembly go from 405 KB
to 139 KB.
"""

import gzip
import threading
from pathlib import Path

from flask import Flask, Response, current_app, request

EXTENSION = "whistle_submit_static_gzip"
#: Suffixes of static files worth compressing (text, and libsodium's WebAssembly: 222 KB to
#: 100 KB); images and fonts are not.
COMPRESSED_SUFFIXES = (".css", ".js", ".wasm")
#: The bundle files carry a hash of their content in their name: never revalidated.
IMMUTABLE = "public, max-age=31536000, immutable"
IMMUTABLE_PREFIX = "build/"
GZIP_LEVEL = 9


class StaticGzip:
    """gzip-compressed copies of static files, made on first use and kept in memory."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.copies: dict[str, bytes] = {}
        self.lock = threading.Lock()

    def compressed(self, filename: str) -> bytes:
        """``filename`` as the static route just served it (so it exists inside the folder)."""
        with self.lock:
            copy = self.copies.get(filename)
            if copy is None:
                data = (self.folder / filename).read_bytes()
                copy = gzip.compress(data, GZIP_LEVEL, mtime=0)
                self.copies[filename] = copy
            return copy


def install(app: Flask) -> None:
    if app.static_folder is None:
        return
    app.extensions[EXTENSION] = StaticGzip(Path(app.static_folder))
    app.after_request(_compress_static)


def _compress_static(response: Response) -> Response:
    if request.endpoint != "static" or request.view_args is None:
        return response
    filename = str(request.view_args.get("filename", ""))
    if response.status_code in (200, 304) and filename.startswith(IMMUTABLE_PREFIX):
        response.headers["Cache-Control"] = IMMUTABLE
    if not filename.endswith(COMPRESSED_SUFFIXES) or response.status_code not in (200, 304):
        return response
    response.vary.add("Accept-Encoding")
    if response.status_code != 200 or request.accept_encodings["gzip"] <= 0:
        return response
    copies: StaticGzip = current_app.extensions[EXTENSION]
    response.close()  # the file send_file opened; the compressed copy is sent instead
    response.direct_passthrough = False
    response.set_data(copies.compressed(filename))
    response.headers["Content-Encoding"] = "gzip"
    response.headers.pop("Accept-Ranges", None)
    etag, weak = response.get_etag()
    if etag:
        # Another representation, another tag; a revalidation of the gzip copy then gets 304.
        response.set_etag(f"{etag}-gzip", bool(weak))
    response.make_conditional(request.environ)  # changes the response in place
    return response
