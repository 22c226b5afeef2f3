"""Multipart boundaries: RFC 2046 says at most 70 characters, but real clients (Werkzeug's own
test client, about one time in a hundred) send a few more; the site accepts them, bounded."""

import io

import pytest
from werkzeug.test import encode_multipart

from tests.submit.conftest import CODE, csrf_from, report_fields
from whistle.submit.upload import MalformedUploadError, multipart_boundary


def test_a_boundary_longer_than_70_characters_is_accepted(client) -> None:  # type: ignore[no-untyped-def]
    boundary = "---------------WerkzeugFormPart_1764265000.123456" + "7" * 25
    assert len(boundary) > 70
    page = client.get("/report")
    fields = report_fields(csrf_from(page.text), files=[(b"evidence", "a.txt")])
    files = fields.pop("files")
    values = {**fields, "files": [(io.BytesIO(b"evidence"), "a.txt") for _ in files]}
    _, body = encode_multipart(values, boundary=boundary)  # type: ignore[arg-type]
    response = client.post(
        "/report", data=body, content_type=f"multipart/form-data; boundary={boundary}"
    )
    assert response.status_code == 200, response.text
    assert CODE.search(response.text)


def test_boundaries_stay_bounded() -> None:
    assert multipart_boundary("multipart/form-data; boundary=" + "a" * 200) == b"a" * 200
    with pytest.raises(MalformedUploadError):
        multipart_boundary("multipart/form-data; boundary=" + "a" * 201)
    with pytest.raises(MalformedUploadError):
        multipart_boundary('multipart/form-data; boundary="a<b"')
