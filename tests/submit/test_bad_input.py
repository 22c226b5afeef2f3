"""Every bad input of the report form: a clear page, never a 500, nothing half-written."""

import dataclasses
from collections.abc import Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.submit.conftest import browser_report, counts, csrf_from, multipart
from whistle.submit import create_app
from whistle.submit.config import Limits, SubmitConfig


def _app_with(config: SubmitConfig, **limits: int) -> Flask:
    return create_app(dataclasses.replace(config, limits=Limits(**limits)))


@pytest.fixture
def small_app(config: SubmitConfig) -> Iterator[Flask]:
    application = _app_with(
        config, max_upload_bytes=10_000, max_files=2, discard_cap_bytes=3_000_000
    )
    yield application
    application.extensions["whistle_submit"].engine.dispose()


def _csrf(client: FlaskClient, url: str = "/report") -> str:
    return csrf_from(client.get(url).text)


def _post(client: FlaskClient, body: bytes, content_type: str, url: str = "/report"):  # type: ignore[no-untyped-def]
    return client.post(url, data=body, content_type=content_type)


def test_browser_order_files_before_identification_is_accepted(
    app: Flask, client: FlaskClient
) -> None:
    body, content_type = browser_report(
        _csrf(client), files=[("a.txt", b"x" * 70_000)], identification={"phone": "600000000"}
    )
    response = _post(client, body, content_type)
    assert response.status_code == 200
    assert 'id="code"' in response.text
    assert counts(app)[0] == 1
    assert counts(app)[2] == 1


def test_body_larger_than_the_limit_is_drained_and_the_limit_said(small_app: Flask) -> None:
    client = small_app.test_client()
    body, content_type = browser_report(_csrf(client), files=[("big.bin", b"x" * 2_000_000)])
    response = _post(client, body, content_type)
    assert response.status_code == 413
    assert "at most 2 files" in response.text.replace("\n", " ") or "2" in response.text
    assert "10 KB" in response.text
    assert counts(small_app) == (0, 0, 0)


def test_files_over_the_limit_while_streaming(small_app: Flask) -> None:
    client = small_app.test_client()
    # Small enough to pass the Content-Length check, too large once counted as files.
    body, content_type = browser_report(_csrf(client), files=[("big.bin", b"x" * 20_000)])
    response = _post(client, body, content_type)
    assert response.status_code == 413
    assert counts(small_app) == (0, 0, 0)


def test_too_many_files(small_app: Flask) -> None:
    client = small_app.test_client()
    files = [(f"f{i}.txt", b"x") for i in range(3)]
    body, content_type = browser_report(_csrf(client), files=files)
    response = _post(client, body, content_type)
    assert response.status_code == 413
    assert counts(small_app) == (0, 0, 0)


def test_empty_required_fields_keep_answers_and_name_errors(
    app: Flask, client: FlaskClient
) -> None:
    body, content_type = browser_report(
        _csrf(client),
        subject="",
        description="Something happened",
        files=[("doc.pdf", b"pdf")],
        identification={"name": "Joan"},
        accept=False,
    )
    response = _post(client, body, content_type)
    assert response.status_code == 422
    page = response.text
    assert 'role="alert"' in page
    assert 'href="#q_subject"' in page
    assert 'href="#accept"' in page
    assert "Something happened</textarea>" in page
    assert 'value="Joan"' in page
    assert 'aria-invalid="true"' in page
    assert 'class="note" role="status"' in page  # files must be chosen again
    assert counts(app) == (0, 0, 0)


def test_overlong_answer_within_bounds_is_a_named_error(app: Flask, client: FlaskClient) -> None:
    body, content_type = browser_report(_csrf(client), subject="s" * 201)
    response = _post(client, body, content_type)
    assert response.status_code == 422
    assert 'href="#q_subject"' in response.text
    assert counts(app) == (0, 0, 0)


@pytest.mark.parametrize(
    ("parts", "why"),
    [
        ([("q_subject", None, b"\xff\xfe bad utf-8")], "not UTF-8"),
        ([("q_subject", None, b"nul \x00 inside")], "control character"),
        ([("q_description", None, b"x" * 200_000)], "overlong field"),
        ([("q_subject", None, b"a"), ("q_subject", None, b"b")], "repeated field"),
        ([("files", "n\x01ame.txt", b"x")], "control character in a file name"),
        ([("files", "", b"content without a name")], "file content without a name"),
    ],
)
def test_malformed_fields_are_a_clear_400(
    app: Flask, client: FlaskClient, parts: list[tuple[str, str | None, bytes]], why: str
) -> None:
    csrf = _csrf(client)
    body, content_type = multipart([("csrf_token", None, csrf.encode()), *parts])
    response = _post(client, body, content_type)
    assert response.status_code == 400, why
    assert "<h1>" in response.text
    assert counts(app) == (0, 0, 0)


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b"garbage", "multipart/form-data; boundary=abc"),
        (
            b'--abc\r\nContent-Disposition: form-data; name="x"\r\n\r\nunterminated',
            "multipart/form-data; boundary=abc",
        ),
        (
            b"--abc\r\nNo-Disposition: yes\r\n\r\nx\r\n--abc--\r\n",
            "multipart/form-data; boundary=abc",
        ),
        (
            b'--abc\r\nContent-Disposition: form-data; name="\xff\xfe"\r\n\r\nx\r\n--abc--\r\n',
            "multipart/form-data; boundary=abc",
        ),
        (b"q_subject=x", "application/x-www-form-urlencoded"),
        (b"x", "multipart/form-data"),
        (b"x", "multipart/form-data; boundary=" + "b" * 80),
        (b"\x00\x01\x02", "application/octet-stream"),
    ],
)
def test_malformed_bodies_and_headers_are_a_clear_400(
    app: Flask, client: FlaskClient, body: bytes, content_type: str
) -> None:
    response = _post(client, body, content_type)
    assert response.status_code == 400
    assert counts(app) == (0, 0, 0)


def test_binary_header_line_is_a_clear_400(app: Flask, client: FlaskClient) -> None:
    body = (
        b'--abc\r\nContent-Disposition: form-data; name="q"\r\n'
        b"X-Bin: \xff\xfe\r\n\r\nx\r\n--abc--\r\n"
    )
    response = _post(client, body, "multipart/form-data; boundary=abc")
    assert response.status_code == 400


def test_unknown_desk_is_404(client: FlaskClient) -> None:
    assert client.get("/report/nobody").status_code == 404
    assert client.post("/report/nobody", data=b"", content_type="text/plain").status_code == 404


def test_quota_reached_gives_temporarily_full_and_keeps_nothing(config: SubmitConfig) -> None:
    full = _app_with(config, storage_quota_bytes=0)
    client = full.test_client()
    assert client.get("/report").status_code == 503
    body, content_type = browser_report(_csrf(client, "/check-in"))
    response = _post(client, body, content_type)
    assert response.status_code == 503
    assert "full" in response.text.lower() or "ple" in response.text
    assert counts(full) == (0, 0, 0)
    full.extensions["whistle_submit"].engine.dispose()


def test_quota_reached_after_earlier_reports_shows_full_on_the_form(config: SubmitConfig) -> None:
    application = _app_with(config, storage_quota_bytes=20_000)
    client = application.test_client()
    body, content_type = browser_report(_csrf(client))
    assert _post(client, body, content_type).status_code == 200
    stored = counts(application)
    assert client.get("/report").status_code == 503
    body, content_type = browser_report(_csrf(client, "/check-in"))
    assert _post(client, body, content_type).status_code == 503
    assert counts(application) == stored
    application.extensions["whistle_submit"].engine.dispose()


def test_missing_or_wrong_csrf_keeps_the_answers(app: Flask, client: FlaskClient) -> None:
    client.get("/report")
    body, content_type = browser_report("not-a-token", subject="Keep me")
    response = _post(client, body, content_type)
    assert response.status_code == 400
    assert 'value="Keep me"' in response.text
    assert counts(app) == (0, 0, 0)


def test_expired_cookie_on_the_report_keeps_the_answers(app: Flask) -> None:
    old = app.test_client()
    csrf = _csrf(old)
    fresh = app.test_client()  # a browser whose session cookie is gone
    body, content_type = browser_report(csrf, subject="Still here")
    response = fresh.post("/report", data=body, content_type=content_type)
    assert response.status_code == 400
    assert 'value="Still here"' in response.text
    assert counts(app) == (0, 0, 0)


def test_multipart_to_a_route_without_uploads_is_refused_not_spooled(client: FlaskClient) -> None:
    csrf = _csrf(client, "/check-in")
    body, content_type = multipart(
        [("csrf_token", None, csrf.encode()), ("files", "x.txt", b"y" * 600_000)]
    )
    response = client.post("/check-in", data=body, content_type=content_type)
    assert response.status_code in (400, 413)


def test_oversized_small_form_is_413(client: FlaskClient) -> None:
    response = client.post(
        "/check-in",
        data=b"code=" + b"A" * 100_000,
        content_type="application/x-www-form-urlencoded",
    )
    assert response.status_code == 413


def test_receipt_confirmation(app: Flask, client: FlaskClient) -> None:
    body, content_type = browser_report(_csrf(client))
    receipt = _post(client, body, content_type).text
    import re

    token = re.search(r'name="receipt" value="([^"]+)"', receipt)
    code = re.search(r'id="code">([^<]+)<', receipt)
    assert token
    assert code
    again = client.post("/receipt", data={"receipt": token.group(1)})
    assert again.status_code == 422
    assert code.group(1) in again.text
    done = client.post("/receipt", data={"receipt": token.group(1), "written": "yes"})
    assert done.status_code == 200
    assert code.group(1) not in done.text
    tampered = client.post("/receipt", data={"receipt": token.group(1)[:-2] + "AA"})
    assert tampered.status_code == 400


def test_the_receipt_token_expires(
    app: Flask, client: FlaskClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    import re
    import time

    body, content_type = browser_report(_csrf(client))
    receipt = _post(client, body, content_type).text
    token = re.search(r'name="receipt" value="([^"]+)"', receipt)
    assert token
    later = time.time() + 2 * 3600
    monkeypatch.setattr("whistle.submit.views.plain.time.time", lambda: later)
    response = client.post("/receipt", data={"receipt": token.group(1)})
    assert response.status_code == 400
    assert 'id="code"' not in response.text


def test_a_client_that_disconnects_mid_upload(app: Flask, client: FlaskClient) -> None:
    import io

    body, content_type = browser_report(_csrf(client), files=[("a.bin", b"a" * 300_000)])
    response = client.post(
        "/report",
        input_stream=io.BytesIO(body[:150_000]),
        content_length=len(body),
        content_type=content_type,
    )
    assert response.status_code == 400
    assert counts(app) == (0, 0, 0)
