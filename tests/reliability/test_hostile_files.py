"""Nasty files through the whole path: uploaded to the submission site, carried by a bundle,
previewed and downloaded in the inbox.

tests/inbox/test_attachments.py covers previews of nasty files made directly in the inbox;
tests/submit/test_fuzz.py fuzzes the forms. What this adds: the files the issue names
(decompression bombs, a billion-laughs SVG, a PDF/HTML polyglot, 0 bytes) arriving *through
upload*, and a sparse file one byte over the upload limit.
"""

import gzip
import io
import re
import zipfile
from pathlib import Path

import pytest
from sqlalchemy import select

from tests.bundles.conftest import World
from tests.inbox.conftest import PASSWORD
from tests.inbox.test_attachments import png_bomb, tiff_bomb
from tests.reliability.conftest import record
from tests.submit.conftest import CODE, browser_report, csrf_from
from whistle.crypto import derive_source_keys, login_lookup
from whistle.inbox import create_app as create_inbox
from whistle.inbox.models import Record
from whistle.submit import store


def _laughs() -> bytes:
    """The billion laughs: nine levels of ten entity references each, as an SVG."""
    entities = ['<!ENTITY lol0 "lol">']
    for level in range(1, 10):
        entities.append(f'<!ENTITY lol{level} "{f"&lol{level - 1};" * 10}">')
    return (
        '<?xml version="1.0"?>\n<!DOCTYPE svg [\n'
        + "\n".join(entities)
        + ']>\n<svg xmlns="http://www.w3.org/2000/svg"><text>&lol9;</text></svg>\n'
    ).encode()


POLYGLOT = (
    b"%PDF-1.4\n%<html><body><script>alert('polyglot')</script></body></html>\n"
    b"1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n"
    b"2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n"
    b"3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 200 100]>>endobj\n"
    b"trailer<</Root 1 0 R>>\n%%EOF\n<script>alert('tail')</script>\n"
)


def _gzip_bomb() -> bytes:
    out = io.BytesIO()
    with gzip.GzipFile(fileobj=out, mode="wb", compresslevel=9) as z:
        block = b"\0" * (1 << 20)
        for _ in range(256):  # 256 MiB of zeros in about 250 KB
            z.write(block)
    return out.getvalue()


def _zip_bomb() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for i in range(4):
            z.writestr(f"layer{i}.bin", b"\0" * (64 << 20))
    return out.getvalue()


def _nested_zip_bomb() -> bytes:
    """Three ZIPs inside a ZIP, each holding 64 MiB of zeros: 192 MiB for mat2 to unpack."""
    inner = io.BytesIO()
    with zipfile.ZipFile(inner, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("zeros.bin", b"\0" * (64 << 20))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for i in range(3):
            z.writestr(f"inner{i}.zip", inner.getvalue())
    return out.getvalue()


def corpus() -> list[tuple[str, bytes]]:
    return [
        ("bomb.gz", _gzip_bomb()),
        ("bomb.zip", _zip_bomb()),
        ("nested.zip", _nested_zip_bomb()),
        ("bomb.png", png_bomb(100_000, 100_000)),
        ("bomb.tiff", tiff_bomb(100_000, 100_000)),
        ("laughs.svg", _laughs()),
        ("polyglot.pdf", POLYGLOT),
        ("polyglot.html", POLYGLOT),
        ("empty.txt", b""),
        ("../../etc/passwd", b"root:x:0:0"),
        ("name\u202etxt.exe", b"MZ right-to-left override"),
    ]


def _upload(world: World, name: str, content: bytes) -> str:
    client = world.client
    csrf = csrf_from(client.get("/report").text)
    body, content_type = browser_report(csrf, files=[(name, content)])
    response = client.post("/report", data=body, content_type=content_type)
    assert response.status_code == 200, (name, response.status_code)
    match = CODE.search(response.text)
    assert match
    return match.group(1)


def _case_of(world: World, code: str) -> str:
    config = world.server_config
    lookup = login_lookup(derive_source_keys(code, config.install_salt).login_token, config.pepper)
    with world.server_state().sessions() as session:
        case_id = store.find_case(session, lookup)
    assert case_id is not None, code
    return case_id.hex()


def test_corpus_through_upload_bundle_and_preview(world: World) -> None:
    files = corpus()
    # Which case holds which file, from each upload's code: two files of the corpus have the
    # same bytes, so each download is compared with its own file, not with the set.
    expected = {_case_of(world, _upload(world, name, content)): content for name, content in files}
    assert len(expected) == len(files)
    summary = world.inbox_import(world.server_export())
    assert summary.counts["records imported"] == len(files)

    app = create_inbox(world.inbox_config)
    web = app.test_client()
    web.set_cookie("whistle_lang", "en")
    web.post("/login", data={"name": "admin", "password": PASSWORD})
    with world.inbox_session() as session:
        records = [(r.case_id, r.id) for r in session.scalars(select(Record))]
    assert len(records) == len(files)
    seen = set()
    for case_id, record_id in records:
        base = f"/cases/{case_id}/records/{record_id}/files/0"
        page = web.get(base)
        assert page.status_code == 200, base
        html = page.get_data(as_text=True)
        assert "<script>" not in html
        assert "&lol9;" not in html or "&amp;lol9;" in html  # shown as text, never expanded
        assert "lollollollollollollollollollol" not in html
        download = web.get(f"{base}/download")
        assert download.status_code == 200
        assert download.headers["Content-Type"] == "application/octet-stream"
        assert download.headers["Content-Disposition"].startswith("attachment")
        assert download.data == expected[case_id], (base, download.data[:40])
        seen.add(case_id)
        for image in re.findall(r'<img src="([^"]+)"', html):
            raster = web.get(image)
            assert raster.status_code in (200, 400), image
            assert raster.headers["Content-Type"] in ("image/png", "text/html; charset=utf-8")
    assert seen == set(expected)
    record("hostile-files", {"files": len(files), "previews_ok": len(records)})


def test_bombs_through_upload_preview_and_cleaning(world: World) -> None:
    """Decompression bombs uploaded through the site (attack review, "not tried"): the image
    bombs get no preview and the archive bombs are not cleaned (mat2), each with a clear
    message, and nothing is left in the inbox's scratch directory."""
    named = dict(corpus())
    images = {named["bomb.png"]: "bomb.png", named["bomb.tiff"]: "bomb.tiff"}
    archives = {named["bomb.zip"]: "bomb.zip", named["nested.zip"]: "nested.zip"}
    for content, name in {**images, **archives}.items():
        _upload(world, name, content)
    world.inbox_import(world.server_export())
    web = create_inbox(world.inbox_config).test_client()
    web.set_cookie("whistle_lang", "en")
    web.post("/login", data={"name": "admin", "password": PASSWORD})
    with world.inbox_session() as session:
        records = [(r.case_id, r.id) for r in session.scalars(select(Record))]
    answered = set()
    for case_id, record_id in records:
        base = f"/cases/{case_id}/records/{record_id}/files/0"
        content = web.get(f"{base}/download").data
        html = web.get(base).get_data(as_text=True)
        token = re.search(r'name="csrf" value="([^"]+)"', html)
        assert token
        cleaned = web.post(f"{base}/clean", data={"csrf": token.group(1)})
        if content in images:
            assert "too many pixels" in html or "too large to preview" in html, html[-600:]
            assert "<img" not in html.split('id="preview"')[1]
        else:
            assert cleaned.status_code == 422
            assert "cannot be cleaned here" in cleaned.get_data(as_text=True)
        answered.add(content)
    assert answered == set(images) | set(archives)
    assert list(world.inbox_config.scratch_dir.iterdir()) == []


@pytest.mark.slow
def test_sparse_file_one_byte_over_the_limit(world: World, tmp_path: Path) -> None:
    """100 MiB + 1 byte (a sparse file: no disk used) is read, dropped, and answered with a
    page naming the limit; nothing is stored."""
    limit = world.server_config.limits.max_upload_bytes
    sparse = tmp_path / "sparse.bin"
    with sparse.open("wb") as handle:
        handle.truncate(limit + 1)
    assert sparse.stat().st_blocks == 0
    client = world.client
    csrf = csrf_from(client.get("/report").text)
    before = world.snapshot()["server"]
    with sparse.open("rb") as handle:
        response = client.post(
            "/report",
            data={
                "csrf_token": csrf,
                "q_subject": "s",
                "q_description": "d",
                "accept": "yes",
                "files": [(handle, "sparse.bin")],
            },
            content_type="multipart/form-data",
        )
    assert response.status_code == 413
    assert "100 MB" in response.text or "100 MiB" in response.text, response.text[-800:]
    assert world.snapshot()["server"] == before
