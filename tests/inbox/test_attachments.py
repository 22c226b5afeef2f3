"""Attachments: downloads never render, previews never hand the browser the original."""

import io
import re
import struct
import zlib

import pytest
from PIL import Image

from whistle.inbox import create_app, preview
from whistle.inbox.errors import PreviewError

from .conftest import PASSWORD, do_import, incoming, make_submission

HTML = (
    b"<html><body><script>alert(document.cookie)</script><img src=x onerror=alert(1)></body></html>"
)
SVG = (
    b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)">'
    b"<script>alert(2)</script><image href='http://evil.example/x.png'/></svg>"
)
PDF_JS = b"""%PDF-1.4
1 0 obj<</Type/Catalog/Pages 2 0 R/OpenAction<</S/JavaScript/JS(app.alert('pwned'))>>>>endobj
2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj
3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 300 200]
/AA<</O<</S/JavaScript/JS(app.alert(2))>>>>>>endobj
trailer<</Root 1 0 R>>
%%EOF"""


def png_bomb(width: int, height: int) -> bytes:
    """A valid PNG header claiming huge dimensions, with a tiny zlib stream of zeros."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data))
            + kind
            + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
        )

    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    # Compress a few MB of zero rows: tiny on disk, enormous when decoded.
    raw = zlib.compress(b"\x00" * (1 + width // 8) * min(height, 2000), 9)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", raw) + chunk(b"IEND", b"")


def tiff_bomb(width: int, height: int) -> bytes:
    """A little-endian TIFF claiming ``width``×``height`` 8-bit grey pixels in one small strip."""
    entries = [
        (256, 4, 1, width),
        (257, 4, 1, height),
        (258, 3, 1, 8),
        (259, 3, 1, 1),
        (262, 3, 1, 1),
        (273, 4, 1, 8 + 2 + 12 * 10 + 4),
        (277, 3, 1, 1),
        (278, 4, 1, height),
        (279, 4, 1, 16),
        (284, 3, 1, 1),
    ]
    ifd = struct.pack("<H", len(entries))
    for tag, kind, count, value in entries:
        packed = struct.pack("<HH", value, 0) if kind == 3 else struct.pack("<I", value)
        ifd += struct.pack("<HHI", tag, kind, count) + packed
    return b"II*\x00" + struct.pack("<I", 8) + ifd + struct.pack("<I", 0) + b"\0" * 16


def jpeg_with_exif() -> bytes:
    image = Image.new("RGB", (64, 48), (200, 30, 30))
    exif = Image.Exif()
    exif[0x010F] = "SecretCameraMaker"  # Make
    exif[0x0131] = "GPS-and-author-leak"  # Software
    out = io.BytesIO()
    image.save(out, "JPEG", exif=exif.tobytes())
    return out.getvalue()


def test_classify_by_content_not_name() -> None:
    assert preview.classify(b"").name == "none"
    assert preview.classify(HTML).name == "text"
    assert preview.classify(SVG).name == "text"
    assert preview.classify(PDF_JS).name == "pdf"
    assert preview.classify(jpeg_with_exif()).name == "image"
    assert preview.classify(b"\x00\x01\x02\xff" * 10).name == "none"
    assert preview.classify(b"BMW invoices for 2026, see the attached list").name == "text"
    bmp = io.BytesIO()
    Image.new("RGB", (4, 4)).save(bmp, "BMP")
    assert preview.classify(bmp.getvalue()).name == "image"


def test_image_reencoded_without_metadata(config) -> None:
    original = jpeg_with_exif()
    assert b"SecretCameraMaker" in original
    png = preview.image_preview(config, original)
    assert png.startswith(b"\x89PNG")
    assert b"SecretCameraMaker" not in png
    image = Image.open(io.BytesIO(png))
    assert image.size == (64, 48)
    assert not image.info.get("exif")


@pytest.mark.parametrize(
    "data",
    [
        png_bomb(100_000, 100_000),
        png_bomb(30_000, 10),
        png_bomb(15_000, 15_000),
        b"\x89PNG\r\n\x1a\n",
    ],
    ids=["bomb", "too-wide", "too-many-pixels", "truncated"],
)
def test_bad_images_refused(config, data) -> None:
    with pytest.raises(PreviewError):
        preview.image_preview(config, data)


def test_pdf_with_javascript_is_only_rasterised(config) -> None:
    assert preview.pdf_page_count(config, PDF_JS) == 1
    png = preview.pdf_page_preview(config, PDF_JS, 1)
    assert png.startswith(b"\x89PNG")
    assert b"JavaScript" not in png
    with pytest.raises(PreviewError):
        preview.pdf_page_preview(config, PDF_JS, 99)


def test_garbage_pdf_refused(config) -> None:
    with pytest.raises(PreviewError):
        preview.pdf_page_count(config, b"%PDF-1.4\n garbage garbage")


def test_mat2_strips_metadata(config) -> None:
    original = jpeg_with_exif()
    cleaned = preview.strip_metadata(config, "photo.jpg", original)
    assert b"SecretCameraMaker" not in cleaned
    assert Image.open(io.BytesIO(cleaned)).size == (64, 48)
    assert list(config.scratch_dir.iterdir()) == []


def test_mat2_refuses_unknown_formats(config) -> None:
    with pytest.raises(PreviewError):
        preview.strip_metadata(config, "blob.bin", b"\x00\x01 not a known format")
    assert list(config.scratch_dir.iterdir()) == []


NASTY = [
    ("page.html", HTML),
    ("image.svg", SVG),
    ("doc.pdf", PDF_JS),
    ("bomb.png", png_bomb(100_000, 100_000)),
    ("empty.txt", b""),
    ("huge.png", png_bomb(30_000, 10)),
    ("photo.jpg", jpeg_with_exif()),
]


@pytest.fixture
def nasty_case(office):
    source, envelope = make_submission(office, files=NASTY)
    report = do_import(office, [incoming("submission", source.case_id, envelope, "rec")])
    assert report.imported == ["rec"]
    app = create_app(office.config)
    client = app.test_client()
    client.post("/login", data={"name": "admin", "password": PASSWORD})
    return client, f"/cases/{source.case_id}/records/rec/files"


def test_downloads_are_attachments_never_rendered(nasty_case) -> None:
    client, base = nasty_case
    for index, (name, content) in enumerate(NASTY):
        response = client.get(f"{base}/{index}/download")
        assert response.status_code == 200
        assert response.data == content
        assert response.headers["Content-Type"] == "application/octet-stream"
        assert response.headers["Content-Disposition"].startswith("attachment")
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert "sandbox" in response.headers["Content-Security-Policy"]
        assert name.split(".")[0] in response.headers["Content-Disposition"]


def test_preview_pages_escape_or_refuse(nasty_case) -> None:
    client, base = nasty_case
    pages = {name: client.get(f"{base}/{i}") for i, (name, _) in enumerate(NASTY)}
    for response in pages.values():
        assert response.status_code == 200
        body = response.get_data(as_text=True)
        assert "<script>" not in body
        assert "onerror=alert" not in body.replace("onerror=alert(1)&gt;", "")
    assert "&lt;script&gt;alert(document.cookie)&lt;/script&gt;" in pages["page.html"].get_data(
        as_text=True
    )
    assert "&lt;svg" in pages["image.svg"].get_data(as_text=True)
    assert "<img" not in pages["bomb.png"].get_data(as_text=True).split('id="preview"')[1]
    assert "No preview" in pages["bomb.png"].get_data(as_text=True)
    assert "No preview" in pages["huge.png"].get_data(as_text=True)
    assert "No preview" in pages["empty.txt"].get_data(as_text=True)
    pdf_page = pages["doc.pdf"].get_data(as_text=True)
    images = re.findall(r'<img src="([^"]+)"', pdf_page)
    assert len(images) == 1
    raster = client.get(images[0])
    assert raster.headers["Content-Type"] == "image/png"
    assert raster.data.startswith(b"\x89PNG")
    photo = re.findall(r'<img src="([^"]+)"', pages["photo.jpg"].get_data(as_text=True))
    clean = client.get(photo[0])
    assert b"SecretCameraMaker" not in clean.data


def test_preview_of_refused_image_is_an_error_page_not_the_original(nasty_case) -> None:
    client, base = nasty_case
    response = client.get(f"{base}/3/preview/0.png")
    assert response.status_code == 400
    assert not response.data.startswith(b"\x89PNG")


def post_clean(client, attachment: str):  # type: ignore[no-untyped-def]
    """The attachment page's "Download without metadata" form, submitted."""
    page = client.get(attachment).get_data(as_text=True)
    token = re.search(r'name="csrf" value="([^"]+)"', page)
    assert token
    return client.post(f"{attachment}/clean", data={"csrf": token.group(1)})


def test_metadata_free_download(nasty_case) -> None:
    client, base = nasty_case
    response = post_clean(client, f"{base}/6")
    assert response.status_code == 200
    assert b"SecretCameraMaker" not in response.data
    assert response.headers["Content-Disposition"].startswith("attachment")


def test_missing_attachment_is_404(nasty_case) -> None:
    client, base = nasty_case
    assert client.get(f"{base}/99/download").status_code == 404
    assert client.get(base.replace("/rec/", "/other/") + "/0/download").status_code == 404


def test_large_file_streams_and_is_download_only_past_the_cap(office, monkeypatch) -> None:
    big = bytes(range(256)) * (3 * 4096 + 7)  # ≈ 3 MiB: many envelope chunks
    source, envelope = make_submission(office, files=[("big.bin", big), ("notes.txt", b"x" * 5000)])
    do_import(office, [incoming("submission", source.case_id, envelope, "rec")])
    monkeypatch.setattr("whistle.inbox.views.files.MAX_IN_MEMORY", 4096)
    client = create_app(office.config).test_client()
    client.post("/login", data={"name": "admin", "password": PASSWORD})
    base = f"/cases/{source.case_id}/records/rec/files"
    response = client.get(f"{base}/0/download")
    assert response.is_streamed
    assert response.headers["Content-Length"] == str(len(big))
    assert response.data == big
    page = client.get(f"{base}/1")
    assert page.status_code == 200
    assert "too large to preview" in page.get_data(as_text=True)
    assert post_clean(client, f"{base}/1").status_code == 422
