"""Page weight and request count of every source page, JavaScript off and on, in a real browser.

    .venv/bin/python bench/page_weight.py                 # ca, es, en; prints tables
    .venv/bin/python bench/page_weight.py --langs en --json out.json

Sets up a data directory with ``whistle server init`` and a fresh office card, serves it with
gunicorn and whistle/deploy/gunicorn.conf.py on 127.0.0.1 (as in production, behind tor), and
walks the source's whole flow in Debian's Chromium (Playwright) with JavaScript off and on: landing,
channels, about, report form, receipt, receipt done, check-in form, a bad code, the case page
with a reply and the follow-up form, the follow-up receipt, 404, an upload over the limit, and
the "temporarily full" page (a second data directory whose storage quota is 0).

Each step is measured from the browser's side with the Chrome DevTools Protocol (Network
domain): every request that reaches the network (redirects included, memory-cache hits not), its
decoded body, and the bytes on the wire (headers + body, loadingFinished.encodedDataLength).
Two cache modes: ``cold`` clears the browser cache before each step (a first visit of that
page), ``flow`` keeps it (a source clicking through the site in one session).

The app compresses only static files (whistle/submit/static_files.py); pages and JSON go
uncompressed. The gzip columns are what the wire would carry if every text response were
gzipped at level 6 (what a compressing reverse proxy would do), or only the static files (the
BREACH-safe choice, docs/benchmarks.md "Compression (gzip) and BREACH").

``--ready`` measures something else: the time from navigation start until the report page is
ready to encrypt (``html[data-encryption=page]``: scripts downloaded, libsodium up, self-test
passed), cold cache, the network throttled with CDP ``Network.emulateNetworkConditions`` to
``--kbps`` KB/s (default 500, a slow Tor circuit) both ways, with WebAssembly (Chromium as it
is) and without (``--js-flags=--jitless``, like Tor Browser *Safer*); the median of ``--runs``
page loads, and the bytes on the wire of each load:

    .venv/bin/python bench/page_weight.py --ready [--kbps 500] [--runs 5]
"""

import argparse
import base64
import contextlib
import dataclasses
import gzip
import json
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from playwright.sync_api import Page, sync_playwright  # noqa: E402

from tests.deploy.gunicorn_server import gunicorn  # noqa: E402
from tests.submit.conftest import Office, insert_reply, make_office  # noqa: E402
from whistle.crypto.codes import format_code, generate_code  # noqa: E402
from whistle.submit import create_app, load_config  # noqa: E402

CHROMIUM = "/usr/lib/chromium/chromium"
FLAGS = [
    "--no-sandbox",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
LIMIT_BYTES = 1_000_000  # max_upload_bytes for the run, so the too-large step stays small
WAIT_MS = 120_000
GZIP_LEVEL = 6
QUIET = 0.5  # seconds without a new request that end a step
COMPRESSIBLE = ("text/", "application/javascript", "application/json", "image/svg")
BUDGET_BYTES = 20 * 1024
BUDGET_REQUESTS = 3


@dataclasses.dataclass
class Hit:
    """One request that reached the network."""

    url: str
    method: str
    status: int = 0
    mime: str = ""
    decoded: int = 0  # body bytes after any decoding
    wire: int = 0  # bytes received for this response: headers + (encoded) body
    encoding: str = ""  # Content-Encoding the server sent
    gzip_body: int | None = None  # the body at gzip level 6, when compressible
    static: bool = False
    cached: bool = False  # answered from the browser's cache: no network
    done: bool = False

    @property
    def kind(self) -> str:
        if "html" in self.mime:
            return "html"
        if "css" in self.mime:
            return "css"
        if "javascript" in self.mime:
            return "js"
        return "other"

    @property
    def headers(self) -> int:
        return max(self.wire - self.decoded, 0) if not self.encoding else 0

    def wire_gzip(self, only_static: bool) -> int:
        if self.encoding or self.gzip_body is None or (only_static and not self.static):
            return self.wire  # already compressed by the server, or not compressible
        # the gzipped body, plus "Content-Encoding: gzip\r\n" (24 bytes) in the headers
        return self.headers + 24 + self.gzip_body


@dataclasses.dataclass
class Step:
    page: str
    lang: str
    javascript: bool
    cache: str
    collected: dataclasses.InitVar[tuple[list[Hit], int]]
    hits: list[Hit] = dataclasses.field(init=False)
    from_cache: int = dataclasses.field(init=False)

    def __post_init__(self, collected: tuple[list[Hit], int]) -> None:
        self.hits, self.from_cache = collected

    def total(self, what: str) -> int:
        return sum(getattr(h, what) for h in self.hits)

    def by_kind(self, kind: str) -> int:
        return sum(h.decoded for h in self.hits if h.kind == kind)

    def row(self) -> dict[str, Any]:
        return {
            "page": self.page,
            "lang": self.lang,
            "js": "on" if self.javascript else "off",
            "cache": self.cache,
            "requests": len(self.hits),
            "from_cache": self.from_cache,
            "html": self.by_kind("html"),
            "css": self.by_kind("css"),
            "js_bytes": self.by_kind("js"),
            "other": self.by_kind("other"),
            "decoded": self.total("decoded"),
            "wire": self.total("wire"),
            "wire_gzip_all": sum(h.wire_gzip(False) for h in self.hits),
            "wire_gzip_static": sum(h.wire_gzip(True) for h in self.hits),
            "content_encoding": sorted({h.encoding for h in self.hits if h.encoding}),
            "hits": [f"{h.method} {h.url.split('/', 3)[-1] or '/'} {h.status}" for h in self.hits],
        }


class Recorder:
    """The Network domain of one page, through a CDP session."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.cdp = page.context.new_cdp_session(page)
        self.hits: dict[str, Hit] = {}
        self.order: list[Hit] = []
        self.cdp.on("Network.requestWillBeSent", self._sent)
        self.cdp.on("Network.responseReceived", self._response)
        self.cdp.on("Network.dataReceived", self._data)
        self.cdp.on("Network.loadingFinished", self._finished)
        self.cdp.on("Network.loadingFailed", self._failed)
        self.cdp.on("Network.requestServedFromCache", self._from_cache)
        self.cdp.send("Network.enable", {"maxTotalBufferSize": 64 * 2**20})

    def _sent(self, event: dict[str, Any]) -> None:
        rid = event["requestId"]
        redirect = event.get("redirectResponse")
        if redirect and rid in self.hits:
            previous = self.hits[rid]
            previous.status = redirect["status"]
            previous.mime = redirect.get("mimeType", "")
            previous.wire = int(redirect.get("encodedDataLength", 0))
            previous.done = True
        request = event["request"]
        hit = Hit(url=request["url"], method=request["method"])
        hit.static = "/static/" in hit.url
        self.hits[rid] = hit
        self.order.append(hit)

    def _response(self, event: dict[str, Any]) -> None:
        hit = self.hits.get(event["requestId"])
        if hit is None:
            return
        response = event["response"]
        hit.status = response["status"]
        hit.mime = response.get("mimeType", "")
        headers = {k.lower(): v for k, v in response.get("headers", {}).items()}
        hit.encoding = headers.get("content-encoding", "")
        if response.get("fromDiskCache") or response.get("fromPrefetchCache"):
            hit.cached = True

    def _data(self, event: dict[str, Any]) -> None:
        hit = self.hits.get(event["requestId"])
        if hit is not None:
            hit.decoded += int(event["dataLength"])

    def _finished(self, event: dict[str, Any]) -> None:
        hit = self.hits.get(event["requestId"])
        if hit is not None:
            hit.wire = int(event["encodedDataLength"])
            hit.done = True
            if hit.decoded and hit.mime.startswith(COMPRESSIBLE):
                hit.gzip_body = -1  # fetched in collect(), outside the event handler

    def _from_cache(self, event: dict[str, Any]) -> None:
        hit = self.hits.get(event["requestId"])
        if hit is not None:
            hit.cached = True

    def _failed(self, event: dict[str, Any]) -> None:
        hit = self.hits.get(event["requestId"])
        if hit is not None:
            hit.done = True
            hit.status = -1

    def start(self, clear_cache: bool) -> None:
        self.settle()  # what the previous action started (a late favicon) is not this step's
        if clear_cache:
            self.cdp.send("Network.clearBrowserCache")
        self.hits.clear()
        self.order = []

    def settle(self) -> None:
        """Wait until every request so far has finished and none started for QUIET seconds."""
        deadline = time.monotonic() + 30
        quiet_since, seen = time.monotonic(), -1
        # Late requests (the favicon after the load event) count: wait for 0.5 s of quiet.
        while not (all(h.done for h in self.order) and time.monotonic() - quiet_since > QUIET):
            if len(self.order) != seen:
                quiet_since, seen = time.monotonic(), len(self.order)
            if time.monotonic() > deadline:
                raise RuntimeError(f"unfinished: {[h.url for h in self.order if not h.done]}")
            self.page.wait_for_timeout(20)

    def collect(self) -> tuple[list[Hit], int]:
        """The step's requests that reached the network, with gzipped sizes of their bodies,
        and how many more the browser answered from its cache."""
        self.settle()
        for rid, hit in list(self.hits.items()):
            if hit.cached:
                continue
            if hit.gzip_body == -1:
                try:
                    answer = self.cdp.send("Network.getResponseBody", {"requestId": rid})
                except Exception:  # the body was evicted: no estimate for it
                    hit.gzip_body = None
                    continue
                body = answer["body"]
                raw = base64.b64decode(body) if answer["base64Encoded"] else body.encode()
                hit.gzip_body = len(gzip.compress(raw, GZIP_LEVEL, mtime=0))
        return [h for h in self.order if not h.cached], sum(h.cached for h in self.order)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclasses.dataclass
class Server:
    base: str
    directory: Path
    office: Office


@contextlib.contextmanager
def serve(scratch: Path, name: str, quota: int | None = None) -> Iterator[Server]:
    """``whistle server init`` with a fresh office card, then gunicorn with the deploy config."""
    office = make_office()
    card = scratch / f"{name}-office-card"
    card.write_bytes(office.card)
    directory = scratch / name
    whistle = Path(sys.executable).parent / "whistle"
    subprocess.run(
        [
            *(str(whistle), "server", "init", str(directory)),
            *("--office-card", str(card), "--fingerprint", office.fingerprint),
            *("--language", "ca"),
        ],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    config = directory / "config.toml"
    text = config.read_text().replace(
        "max_upload_bytes = 104857600", f"max_upload_bytes = {LIMIT_BYTES}"
    )
    if quota is not None:
        text = text.replace("storage_quota_bytes = 21474836480", f"storage_quota_bytes = {quota}")
    config.write_text(text)
    port = free_port()
    spec = f'whistle.submit:app_from_directory("{directory}")'
    with gunicorn(spec, port, scratch / f"{name}-gunicorn.log"):
        yield Server(f"http://127.0.0.1:{port}", directory, office)


def fill_report(page: Page, files: list[str] | None = None) -> None:
    for field in page.locator("#report-form [required]:not([type=checkbox])").all():
        field.fill("Tres contractes menors, la mateixa empresa, el mateix mes.")
    if files:
        page.locator("#files").set_input_files(files)
    page.locator("#accept").check()


def flow(
    page: Page,
    recorder: Recorder,
    server: Server,
    lang: str,
    javascript: bool,
    cache: str,
    scratch: Path,
) -> list[Step]:
    steps: list[Step] = []
    base = server.base

    def measure(name: str, action: Callable[[], None]) -> None:
        recorder.start(clear_cache=cache == "cold")
        action()
        steps.append(Step(name, lang, javascript, cache, recorder.collect()))

    def ready() -> None:
        if javascript:
            page.wait_for_selector("html[data-encryption=page]", timeout=WAIT_MS)

    page.goto(f"{base}/language/{lang}?next=/")
    measure("language switch (303 + landing)", lambda: page.goto(f"{base}/language/{lang}?next=/"))
    measure("landing", lambda: page.goto(f"{base}/"))
    measure("external channels", lambda: page.goto(f"{base}/channels"))
    measure("about and privacy", lambda: page.goto(f"{base}/about"))
    measure("report form", lambda: (page.goto(f"{base}/report"), ready()))
    fill_report(page, [str(scratch / "minutes.txt")])

    def send() -> None:
        page.locator("#report-form button[type=submit]").click()
        page.wait_for_function(
            "() => { const c = document.getElementById('code');"
            " return c && c.textContent.trim(); }",
            timeout=WAIT_MS,
        )

    measure("receipt (code shown)", send)
    code = page.locator("#code").inner_text().strip()
    page.locator("#written").check()
    measure(
        "receipt done",
        lambda: page.locator("form:has(#written) button[type=submit]").click(),
    )
    page.wait_for_load_state()
    app = create_app(load_config(server.directory))
    insert_reply(app, code, server.office, "Rebut: ho estem mirant.")
    app.extensions["whistle_submit"].engine.dispose()
    measure("check-in form", lambda: (page.goto(f"{base}/check-in"), ready()))

    def check_in(text: str, expect: str) -> Callable[[], None]:
        def action() -> None:
            page.locator("#checkin-form #code").fill(text)
            page.locator("#checkin-form button[type=submit]").click()
            if javascript:
                page.wait_for_selector(expect, timeout=WAIT_MS)
            else:
                page.wait_for_load_state()

        return action

    measure(
        "check-in, unknown code",
        check_in(format_code(generate_code()), "#sealed-error:not([hidden])"),
    )
    if javascript:
        page.locator("#sealed-error").evaluate("e => e.hidden = true")
    measure(
        "case page (reply, follow-up form)",
        check_in(code, "#sealed-conversation:not([hidden])"),
    )

    def follow_up() -> None:
        if javascript:
            page.locator("#sealed-message").fill("Una cosa més.")
            page.locator("#sealed-followup button[type=submit]").click()
            page.wait_for_selector("#sealed-sent:not([hidden])", timeout=WAIT_MS)
        else:
            form = page.locator("form:has(#message)")
            form.locator("#code").fill(code)
            form.locator("#message").fill("Una cosa més.")
            form.locator("button[type=submit]").click()
            page.wait_for_load_state()

    measure("follow-up sent", follow_up)
    measure("404", lambda: page.goto(f"{base}/nowhere"))
    page.goto(f"{base}/report")
    ready()
    fill_report(page, [str(scratch / "big.bin")])

    def too_large() -> None:
        page.locator("#report-form button[type=submit]").click()
        if javascript:
            page.wait_for_selector("#sealed-error:not([hidden])", timeout=WAIT_MS)
        else:
            page.wait_for_load_state()

    measure("upload over the limit" + (" (refused in the page)" if javascript else ""), too_large)
    return steps


def full_page(page: Page, recorder: Recorder, full: Server, lang: str, js: bool) -> Step:
    page.goto(f"{full.base}/language/{lang}?next=/")
    recorder.start(clear_cache=True)
    page.goto(f"{full.base}/report")
    return Step("temporarily full (503)", lang, js, "cold", recorder.collect())


def compression_offered(base: str) -> str:
    request = urllib.request.Request(  # noqa: S310 - http://127.0.0.1 only
        f"{base}/", headers={"Accept-Encoding": "gzip, deflate, br"}
    )
    with urllib.request.urlopen(request) as response:  # noqa: S310 - http://127.0.0.1 only
        return response.headers.get("Content-Encoding") or "none"


def kb(n: int) -> str:
    return f"{n / 1000:.1f}"


def print_table(steps: list[Step]) -> None:
    print(
        "| page | lang | JS | cache | requests (+ from cache) | HTML | CSS | JS | other "
        "| decoded KB | wire KB | wire KB, gzip all | wire KB, gzip static |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for s in steps:
        r = s.row()
        cached = f" (+{r['from_cache']})" if r["from_cache"] else ""
        print(
            f"| {r['page']} | {r['lang']} | {r['js']} | {r['cache']} | {r['requests']}{cached} "
            f"| {kb(r['html'])} | {kb(r['css'])} | {kb(r['js_bytes'])} | {kb(r['other'])} "
            f"| {kb(r['decoded'])} | {kb(r['wire'])} | {kb(r['wire_gzip_all'])} "
            f"| {kb(r['wire_gzip_static'])} |"
        )


def print_summary(steps: list[Step]) -> None:
    """One line per page and mode; each cell gives the languages in the order run."""
    langs = "/".join(dict.fromkeys(s.lang for s in steps))
    print(
        f"\nPer page, KB = 1,000 bytes, figures for {langs}; cold = empty cache, "
        "flow = clicking through in one session"
    )
    print(
        "| page | JS | requests, cold | decoded KB, cold | wire KB, cold | wire KB, gzip all "
        "| wire KB, gzip static | requests, flow (+ from cache) | wire KB, flow | JS-off budget |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    groups: dict[tuple[str, bool], dict[str, list[Step]]] = {}
    for s in steps:
        groups.setdefault((s.page, s.javascript), {}).setdefault(s.cache, []).append(s)

    def cells(group: list[Step], value: Callable[[Step], str]) -> str:
        values = [value(s) for s in group]
        return values[0] if len(set(values)) == 1 else "/".join(values)

    for (name, js), modes in groups.items():
        cold, flow_ = modes.get("cold", []), modes.get("flow", [])
        verdict = ""
        if not js:
            ok = all(
                s.total("decoded") <= BUDGET_BYTES and len(s.hits) <= BUDGET_REQUESTS
                for s in cold + flow_
            )
            verdict = "met" if ok else "**not met**"
        print(
            f"| {name} | {'on' if js else 'off'} "
            f"| {cells(cold, lambda s: str(len(s.hits)))} "
            f"| {cells(cold, lambda s: kb(s.total('decoded')))} "
            f"| {cells(cold, lambda s: kb(s.total('wire')))} "
            f"| {cells(cold, lambda s: kb(sum(h.wire_gzip(False) for h in s.hits)))} "
            f"| {cells(cold, lambda s: kb(sum(h.wire_gzip(True) for h in s.hits)))} "
            f"| {cells(flow_, lambda s: f'{len(s.hits)} (+{s.from_cache})')} "
            f"| {cells(flow_, lambda s: kb(s.total('wire')))} | {verdict} |"
        )


def time_to_ready(browser: Any, base: str, kbps: int, runs: int) -> list[dict[str, float]]:
    """Cold loads of the report page, throttled: ms to ready and KB on the wire, per run."""
    results = []
    for _ in range(runs):
        context = browser.new_context()
        page = context.new_page()
        page.goto(f"{base}/language/en?next=/about")
        recorder = Recorder(page)
        recorder.cdp.send(
            "Network.emulateNetworkConditions",
            {
                "offline": False,
                "latency": 0,
                "downloadThroughput": kbps * 1000,
                "uploadThroughput": kbps * 1000,
            },
        )
        recorder.start(clear_cache=True)
        page.goto(f"{base}/report")
        page.wait_for_selector("html[data-encryption=page]", timeout=WAIT_MS)
        ready_ms = float(page.evaluate("performance.now()"))
        hits, _cached = recorder.collect()
        results.append({"ms": ready_ms, "kb": sum(h.wire for h in hits) / 1000})
        context.close()
    return results


def ready_main(kbps: int, runs: int) -> None:
    import statistics

    with tempfile.TemporaryDirectory() as name, sync_playwright() as p:
        scratch = Path(name)
        manifest = json.loads(
            (ROOT / "whistle/submit/static/build/manifest.json").read_text(encoding="utf-8")
        )
        # The manifest before and after issue 22 (one bundle, or a page script and its halves).
        named = manifest["page"]["file"] if "page" in manifest else manifest["file"]
        print(f"build: {named}; load average at start: {load_average()}")
        with serve(scratch, "site") as server:
            for label, extra in (("WebAssembly", []), ("no WebAssembly (jitless)", JITLESS)):
                browser = p.chromium.launch(
                    executable_path=CHROMIUM, headless=True, args=[*FLAGS, *extra]
                )
                runs_done = time_to_ready(browser, server.base, kbps, runs)
                browser.close()
                ms = statistics.median(r["ms"] for r in runs_done)
                kb = statistics.median(r["kb"] for r in runs_done)
                every = ", ".join(f"{r['ms']:.0f}" for r in runs_done)
                print(
                    f"{label}: ready after {ms:,.0f} ms (median of {runs}: {every}), "
                    f"{kb:,.1f} KB on the wire, at {kbps} KB/s"
                )
        print(f"load average at end: {load_average()}")


JITLESS = ["--js-flags=--jitless"]


def load_average() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--langs", default="ca,es,en")
    parser.add_argument("--json", type=Path, help="write every request of every step here")
    parser.add_argument(
        "--ready", action="store_true", help="time-to-ready of the report page, throttled"
    )
    parser.add_argument("--kbps", type=int, default=500, help="throttle for --ready, KB/s")
    parser.add_argument("--runs", type=int, default=5, help="page loads per mode for --ready")
    args = parser.parse_args()
    if args.ready:
        ready_main(args.kbps, args.runs)
        return
    langs = args.langs.split(",")
    print(f"load average at start: {load_average()}", flush=True)
    steps: list[Step] = []
    with tempfile.TemporaryDirectory() as name, sync_playwright() as p:
        scratch = Path(name)
        (scratch / "minutes.txt").write_text("Acta de la reunió.\n")
        with (scratch / "big.bin").open("wb") as handle:
            handle.truncate(LIMIT_BYTES + 1)
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
        with serve(scratch, "site") as server, serve(scratch, "full", quota=0) as full:
            encoding = compression_offered(server.base)
            print(f"Content-Encoding of the landing page for Accept-Encoding gzip: {encoding}")
            print(
                f"Chromium {browser.version}; gunicorn with whistle/deploy/gunicorn.conf.py",
                flush=True,
            )
            for javascript in (False, True):
                for lang in langs:
                    for cache in ("cold", "flow"):
                        context = browser.new_context(java_script_enabled=javascript)
                        page = context.new_page()
                        recorder = Recorder(page)
                        steps += flow(page, recorder, server, lang, javascript, cache, scratch)
                        if cache == "cold":
                            steps.append(full_page(page, recorder, full, lang, javascript))
                        context.close()
                    print(f"done: JS {'on' if javascript else 'off'} {lang}", flush=True)
        browser.close()
    print(f"load average at end: {load_average()}\n")
    print_table(steps)
    print_summary(steps)
    if args.json:
        args.json.write_text(json.dumps([s.row() for s in steps], indent=1) + "\n")


if __name__ == "__main__":
    main()
