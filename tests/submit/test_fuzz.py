"""Hostile bodies and headers: always a page with a 4xx status, never a 500, nothing stored."""

from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.submit.conftest import BOUNDARY, counts, make_office, multipart
from whistle.submit import create_app, load_config
from whistle.submit.datadir import init_data_directory

SETTINGS = settings(max_examples=150, deadline=None)


@pytest.fixture(scope="module")
def fuzz_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flask]:
    directory: Path = tmp_path_factory.mktemp("fuzz") / "data"
    office = make_office()
    init_data_directory(directory, office.card, fingerprint=office.fingerprint)
    app = create_app(load_config(directory))
    yield app
    app.extensions["whistle_submit"].engine.dispose()


PART = st.tuples(
    st.sampled_from(["csrf_token", "q_subject", "q_description", "files", "accept", "code", "x"]),
    st.one_of(st.none(), st.text(max_size=30)),
    st.binary(max_size=300),
)


@SETTINGS
@given(
    url=st.sampled_from(["/report", "/follow-up", "/check-in", "/receipt"]),
    parts=st.lists(PART, max_size=6),
    cut=st.integers(min_value=0, max_value=2000),
    mangle=st.booleans(),
)
def test_hostile_multipart_bodies(fuzz_app: Flask, url, parts, cut, mangle) -> None:  # type: ignore[no-untyped-def]
    app = fuzz_app
    client = app.test_client()
    try:
        body, content_type = multipart(parts)
    except UnicodeEncodeError:
        return
    if mangle:
        body = body[:cut]
    response = client.post(url, data=body, content_type=content_type)
    assert response.status_code < 500
    assert response.status_code in (200, 400, 413, 422, 503) or url == "/receipt"
    assert b"<h1>" in response.data
    assert counts(app)[0] == 0


@SETTINGS
@given(
    url=st.sampled_from(["/report", "/follow-up", "/check-in", "/receipt", "/", "/language/ca"]),
    method=st.sampled_from(["GET", "POST"]),
    content_type=st.one_of(
        st.text(max_size=80),
        st.sampled_from(
            [
                "multipart/form-data",
                f"multipart/form-data; boundary={BOUNDARY}",
                "multipart/form-data; boundary=",
                "application/x-www-form-urlencoded",
                "application/x-www-form-urlencoded; charset=latin1",
            ]
        ),
    ),
    body=st.binary(max_size=500),
    cookie=st.text(max_size=100),
    query=st.text(max_size=50),
)
def test_hostile_headers_and_bodies(
    fuzz_app: Flask, url, method, content_type, body, cookie, query
) -> None:  # type: ignore[no-untyped-def]
    app = fuzz_app
    client = app.test_client()
    headers = {"Content-Type": content_type}
    if cookie.isprintable() and cookie.isascii() and ";" not in cookie:
        headers["Cookie"] = f"whistle={cookie}"
    try:
        response = client.open(
            url, method=method, data=body, headers=headers, query_string={"next": query}
        )
    except (UnicodeEncodeError, ValueError):
        return  # the test client itself cannot send it
    assert response.status_code < 500
    assert counts(app)[0] == 0
