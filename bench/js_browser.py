"""The browser crypto (page script and libsodium.js) in Chromium: throughput, derivation.

Serves the built bundle (make build) from 127.0.0.1 on a page with the CSP the
submission pages use, drives Debian's Chromium with Playwright, and runs the
same measurement as bench/js_crypto.mjs inside the page.

    .venv/bin/python bench/js_browser.py --mib 20
    .venv/bin/python bench/js_browser.py --mib 20 --firefox   # Firefox ESR, Safer prefs

Modes: Chromium with WebAssembly allowed (CSP 'wasm-unsafe-eval'); WebAssembly
blocked by a CSP without it (libsodium's JS fallback, JIT on); Chromium
--jitless (no JIT, no WebAssembly, as Tor Browser Safer). Prints JSON lines.
"""

import argparse
import json
import os
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parents[1]
BUILD = ROOT / "whistle" / "submit" / "static" / "build"
CHROMIUM = "/usr/lib/chromium/chromium"
CSP_WASM = "default-src 'none'; script-src 'self' 'wasm-unsafe-eval'; connect-src 'self'"
CSP_NO_WASM = "default-src 'none'; script-src 'self'; connect-src 'self'"

MEASURE = """async (mib) => {
  const t0 = performance.now();
  const api = await WhistleCrypto.load();
  const loadMs = performance.now() - t0;
  const salt = new Uint8Array(32).fill(17);
  const derive = [];
  for (let i = 0; i < 7; i++) {
    const code = api.generateCode();
    const s = performance.now();
    api.deriveSourceKeys(code, salt);
    derive.push(performance.now() - s);
  }
  const size = mib * 1024 * 1024;
  const content = new Uint8Array(size);
  for (let o = 0; o < size; o += 65536) crypto.getRandomValues(content.subarray(o, o + 65536));
  const keys = api.deriveSourceKeys(api.generateCode(), salt);
  const desk = new Uint8Array(32).fill(34);
  let s = performance.now();
  const blob = await api.writeSubmission({deskKey: desk, custodianKey: desk,
    replyPublicKey: keys.replyPublicKey, sourceSigningKey: keys.signingPublicKey,
    caseId: new Uint8Array(16),
    form: {language: 'en', desk: 'bench', fields: []}, identification: [],
    files: [new File([content], 'evidence.bin')]});
  const writeS = (performance.now() - s) / 1000;
  s = performance.now();
  await api.openSubmissionAsSource(blob, keys.replySecretKey, new Uint8Array(16));
  const openS = (performance.now() - s) / 1000;
  const sorted = derive.slice(1).sort((a, b) => a - b);
  return {mode: api.mode, load_and_self_test_ms: Math.round(loadMs),
    derive_first_ms: +derive[0].toFixed(1), derive_median_ms: +sorted[3].toFixed(1),
    input_mib: mib, write_mb_per_s: +(size / 1e6 / writeS).toFixed(2),
    open_mb_per_s: +(size / 1e6 / openS).toFixed(2)};
}"""


def serve(csp: str) -> ThreadingHTTPServer:
    manifest = json.loads((BUILD / "manifest.json").read_text(encoding="utf-8"))
    script = manifest["page"]
    # The page script and the two halves of libsodium.js it loads beside it (js/build.mjs).
    files = {
        f"/{manifest[role]['file']}": (BUILD / manifest[role]["file"]).read_bytes()
        for role in ("page", "wasm", "fallback")
    }
    page = (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>bench</title>'
        f'<script src="/{script["file"]}" integrity="{script["sri"]}"></script>'
        f"</head><body><main>bench</main></body></html>"
    ).encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = files.get(self.path, page)
            kind = {".js": "text/javascript", ".wasm": "application/wasm"}.get(
                Path(self.path).suffix, "text/html"
            )
            self.send_response(200)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Security-Policy", csp)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def run(name: str, csp: str, args: list[str], mib: int) -> dict:
    server = serve(csp)
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(
                executable_path=CHROMIUM,
                headless=True,
                args=["--no-sandbox", "--disable-background-networking", *args],
            )
            page = browser.new_page()
            page.set_default_timeout(900_000)
            page.goto(f"http://127.0.0.1:{server.server_address[1]}/")
            result = page.evaluate(MEASURE, mib)
            version = browser.version
            browser.close()
    finally:
        server.shutdown()
    return {"browser": f"chromium {version}", "case": name, **result, "load": os.getloadavg()}


def run_firefox(mib: int) -> dict:
    """Firefox ESR with Safer's prefs, driven by bench/js_firefox.mjs (puppeteer-core, BiDi)."""
    server = serve(CSP_WASM)
    try:
        output = subprocess.run(
            [
                "node",
                str(ROOT / "bench" / "js_firefox.mjs"),
                f"http://127.0.0.1:{server.server_address[1]}/",
                str(mib),
            ],
            input=MEASURE,
            capture_output=True,
            text=True,
            check=True,
            cwd=ROOT,
        ).stdout
    finally:
        server.shutdown()
    return {"case": "Firefox ESR Safer prefs", **json.loads(output), "load": os.getloadavg()}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mib", type=int, default=20)
    parser.add_argument("--jitless-mib", type=int, default=None)
    parser.add_argument("--firefox", action="store_true", help="Firefox ESR (Safer) only")
    options = parser.parse_args()
    if options.firefox:
        print(json.dumps(run_firefox(options.mib)), flush=True)
        return
    cases = [
        ("wasm allowed", CSP_WASM, [], options.mib),
        ("wasm blocked by CSP", CSP_NO_WASM, [], options.mib),
        ("--jitless", CSP_WASM, ["--js-flags=--jitless"], options.jitless_mib or options.mib),
    ]
    for name, csp, args, mib in cases:
        print(json.dumps(run(name, csp, args, mib)), flush=True)


if __name__ == "__main__":
    main()
