"""The pages test_page_weight.py does not reach, JavaScript off: the follow-up receipt, an
unknown code, too large, temporarily full. Same budget: at most 20 KB (HTML + CSS,
uncompressed) and at most 3 requests (the page, the stylesheet, the favicon)."""

import dataclasses

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.submit.conftest import (
    Office,
    browser_report,
    check_in,
    csrf_from,
    insert_reply,
    multipart,
    submit_report,
)
from tests.submit.test_page_weight import LIMIT, _weigh
from whistle.crypto.codes import generate_code
from whistle.submit import create_app
from whistle.submit.config import Limits, SubmitConfig


def _assert_light(client: FlaskClient, name: str, html: str) -> None:
    size, requests = _weigh(client, html)
    assert size <= LIMIT, f"{name}: {size} bytes"
    assert requests <= 3, f"{name}: {requests} requests"


@pytest.mark.parametrize("lang", ["ca", "es", "en"])
def test_follow_up_and_unknown_code_pages_are_light(
    app: Flask, client: FlaskClient, office: Office, lang: str
) -> None:
    client.get(f"/language/{lang}")
    code = submit_report(client)
    insert_reply(app, code, office, "Rebut.")
    status, unknown = check_in(client, generate_code())
    assert status == 422
    _assert_light(client, "unknown code", unknown)
    _, conversation = check_in(client, code)
    fields = [("csrf_token", None, csrf_from(conversation).encode())]
    fields += [("code", None, code.encode()), ("message", None, "Una cosa més.".encode())]
    body, content_type = multipart(fields)
    sent = client.post("/follow-up", data=body, content_type=content_type)
    assert sent.status_code == 200
    _assert_light(client, "follow-up sent", sent.text)


def test_too_large_and_full_pages_are_light(config: SubmitConfig) -> None:
    small = create_app(
        dataclasses.replace(
            config, limits=Limits(max_upload_bytes=10_000, discard_cap_bytes=3_000_000)
        )
    )
    client = small.test_client()
    csrf = csrf_from(client.get("/report").text)
    body, content_type = browser_report(csrf, files=[("big.bin", b"x" * 200_000)])
    refused = client.post("/report", data=body, content_type=content_type)
    assert refused.status_code == 413
    _assert_light(client, "too large", refused.text)
    small.extensions["whistle_submit"].engine.dispose()

    full = create_app(dataclasses.replace(config, limits=Limits(storage_quota_bytes=0)))
    client = full.test_client()
    page = client.get("/report")
    assert page.status_code == 503
    _assert_light(client, "temporarily full", page.text)
    full.extensions["whistle_submit"].engine.dispose()
