"""Hypothesis fuzzing (seeded, bounded) of the endpoints tests/submit/test_fuzz.py leaves out:
the reply-file form, the per-desk report form's odd paths, the language switch, and the
courier's three endpoints (challenge, outbox, replies bundle importer). Zero 500s, zero
unhandled exceptions. The site's forms are posted as a browser does, after loading the page
(a session and its CSRF token), so the token check is passed and the body reaches the view;
nothing is stored without a receipt. (Storing under hostile input: tests/submit/test_fuzz.py.)
"""

import base64
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.submit.conftest import CODE, CSRF, counts, make_office, multipart
from whistle.submit import create_app, load_config
from whistle.submit.courier import create_courier_app
from whistle.submit.datadir import init_data_directory

EXAMPLES = 120


@pytest.fixture(scope="module")
def apps(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Flask, Flask]]:
    directory: Path = tmp_path_factory.mktemp("fuzz-gaps") / "data"
    office = make_office()
    init_data_directory(directory, office.card, fingerprint=office.fingerprint)
    config = directory / "config.toml"
    config.write_text(
        config.read_text().replace("courier_enabled = false", "courier_enabled = true")
    )
    site = create_app(load_config(directory))
    courier = create_courier_app(load_config(directory))
    yield site, courier
    site.extensions["whistle_submit"].engine.dispose()
    courier.extensions["whistle_courier"].dispose()


FIELD = st.sampled_from(["csrf_token", "code", "file", "message", "files", "q_subject", "x"])


@settings(max_examples=EXAMPLES, deadline=None)
@given(
    url=st.one_of(
        st.just("/check-in/file"),
        st.just("/report/antifrau"),
        st.text(min_size=1, max_size=40).map(lambda s: "/report/" + s.replace("/", "")),
        st.text(max_size=20).map(lambda s: "/language/" + s.replace("/", "")),
    ),
    method=st.sampled_from(["GET", "POST"]),
    parts=st.lists(
        st.tuples(FIELD, st.one_of(st.none(), st.text(max_size=20)), st.binary(max_size=200)),
        max_size=6,
    ),
    urlencoded=st.booleans(),
)
def test_site_forms(apps, url, method, parts, urlencoded) -> None:  # type: ignore[no-untyped-def]
    site, _ = apps
    client = site.test_client()
    page = client.get("/check-in" if url == "/check-in/file" else url)
    token = CSRF.search(page.text)
    if token:  # the page's own token goes first: the view, not the CSRF check, decides
        parts = [("csrf_token", None, token.group(1).encode()), *parts]
    before = counts(site)
    if urlencoded:
        data = {name: value.decode("latin-1") for name, _, value in reversed(parts)}
        response = client.open(url, method=method, data=data)
    else:
        body, content_type = multipart(parts)
        response = client.open(url, method=method, data=body, content_type=content_type)
    assert response.status_code < 500, (url, response.status_code)
    if not CODE.search(response.text):
        assert counts(site) == before  # no receipt: nothing kept


HEADER = st.one_of(
    st.none(),
    st.binary(max_size=80).map(lambda b: base64.b64encode(b).decode()),
    st.text(alphabet="0123456789abcdef", min_size=64, max_size=64),
    st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=80),
)


@settings(max_examples=EXAMPLES, deadline=None)
@given(
    action=st.sampled_from(["challenge", "outbox", "replies", "nothing"]),
    method=st.sampled_from(["GET", "POST", "PUT"]),
    challenge=HEADER,
    proof=HEADER,
    body=st.one_of(st.binary(max_size=2048), st.just(b"WHISTLE-BUNDLE\0" + bytes(200))),
)
def test_courier_endpoints(apps, action, method, challenge, proof, body) -> None:  # type: ignore[no-untyped-def]
    _, courier = apps
    headers = {}
    if challenge is not None:
        headers["X-Whistle-Challenge"] = challenge
    if proof is not None:
        headers["X-Whistle-Proof"] = proof
    response = courier.test_client().open(
        f"/courier/{action}", method=method, data=body, headers=headers
    )
    assert response.status_code < 500, (action, response.status_code, response.data[:200])
    if action != "challenge" and method == "POST":
        assert response.status_code in (400, 403, 404, 413), response.status_code
