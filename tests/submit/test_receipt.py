"""The receipt page cannot lose the code: no link leaves it, and the language switch posts the
sealed receipt back so the same code comes again in the other language."""

import re

from flask import Flask
from flask.testing import FlaskClient

from tests.submit.conftest import browser_report, counts, csrf_from, multipart

TOKEN = re.compile(r'name="receipt" value="([^"]+)"')
CODE = re.compile(r'id="code">([^<]+)<')


def _receipt(client: FlaskClient) -> tuple[str, str, str]:
    client.get("/language/en")
    body, content_type = browser_report(csrf_from(client.get("/report").text))
    page = client.post("/report", data=body, content_type=content_type).text
    token, code = TOKEN.search(page), CODE.search(page)
    assert token
    assert code
    return page, token.group(1), code.group(1)


def _header(page: str) -> str:
    return page[page.index("<header>") : page.index("</header>")]


def test_no_link_leaves_the_receipt_page(client: FlaskClient) -> None:
    page, _token, _code = _receipt(client)
    main = page[page.index("<main") : page.index("</main>")]
    assert "<a " not in _header(page)
    assert "<a " not in main
    assert "/language/" not in page


def test_the_language_switch_shows_the_same_code_in_the_other_language(
    app: Flask, client: FlaskClient
) -> None:
    _page, token, code = _receipt(client)
    before = counts(app)
    for lang in ("ca", "es"):
        response = client.post("/receipt", data={"receipt": token, "lang": lang})
        assert response.status_code == 200
        assert f'<html lang="{lang}">' in response.text
        assert "write down your code" not in response.text  # translated
        assert code in response.text
        assert "There is a problem" not in response.text
        assert f'aria-current="true" lang="{lang}"' in response.text
    assert counts(app) == before
    # The choice stays for the next pages.
    assert '<html lang="es">' in client.get("/check-in").text


def test_a_language_switch_without_a_live_receipt_shows_no_code(client: FlaskClient) -> None:
    _page, token, code = _receipt(client)
    stranger = client.application.test_client()
    response = stranger.post("/receipt", data={"receipt": token, "lang": "ca"})
    assert response.status_code == 400
    assert code not in response.text
    unknown = client.post("/receipt", data={"receipt": token, "lang": "xx"})
    assert unknown.status_code == 422  # the page again, asking for the box; the code kept
    assert code in unknown.text


def test_the_report_form_switches_language_with_what_was_typed(
    app: Flask, client: FlaskClient
) -> None:
    client.get("/language/en")
    page = client.get("/report").text
    assert 'name="switch_language" value="es"' in page  # a button of the form, not a link
    parts = [
        ("csrf_token", None, csrf_from(page).encode()),
        ("switch_language", None, b"es"),
        ("q_subject", None, b"Typed subject"),
        ("q_description", None, b"Typed words"),
        ("files", "a.txt", b"x"),
    ]
    body, content_type = multipart(parts)
    before = counts(app)
    response = client.post("/report", data=body, content_type=content_type)
    assert response.status_code == 200
    assert '<html lang="es">' in response.text
    assert 'value="Typed subject"' in response.text
    assert "Typed words</textarea>" in response.text
    assert 'aria-labelledby="error-title"' not in response.text  # no error summary
    assert counts(app) == before
