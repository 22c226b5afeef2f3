"""Every page of the source site, in Catalan and Spanish, shows no English (tests/english.py):
the pages a source reaches by links, the receipt, the conversation with a reply, the pages
after sending a message, the refusals and the error pages — and a planted English text is
found, so the check cannot pass by seeing nothing."""

import re
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

import whistle.submit
from tests.english import Catalogue, english_in
from whistle.submit.code_errors import texts_for_script

from .conftest import CODE, Office, check_in, csrf_from, insert_reply, make_office, report_fields

TRANSLATIONS = Path(whistle.submit.__file__).parent / "translations"

#: GET pages that are not HTML (or only redirect), so have no text to check.
#: Not pages: files, and the language switch (a redirect). The logo is an image (404 without one).
NOT_PAGES = {"static", "submit.favicon", "submit.language", "submit.office_logo"}


@pytest.fixture
def office() -> Office:
    return make_office(("antifrau", "urbanisme"))  # desk choice, "To:" line


def hidden(html: str) -> dict[str, str]:
    return dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', html))


def _pages(app: Flask, client: FlaskClient, office: Office) -> dict[str, str]:
    """Every page a source can meet, by name."""
    pages: dict[str, str] = {}
    for rule in app.url_map.iter_rules():
        if "GET" in rule.methods and rule.endpoint not in NOT_PAGES:  # type: ignore[operator]
            url = rule.rule.replace("<desk_id>", "urbanisme")
            response = client.get(url)
            if url == "/report":  # two desks: the source chooses one first
                assert response.status_code == 404
            else:
                assert response.status_code == 200, url
            pages[url] = response.text
    pages["not found"] = client.get("/nowhere").text
    form = client.get("/report/antifrau").text
    refused = client.post(
        "/report/antifrau",
        data=report_fields(csrf_from(form), subject="", description="", accept=False),  # type: ignore[arg-type]
        content_type="multipart/form-data",
    )
    pages["report refused"] = refused.text
    receipt = client.post(
        "/report/antifrau",
        data=report_fields(csrf_from(form)),  # type: ignore[arg-type]
        content_type="multipart/form-data",
    )
    pages["receipt"] = receipt.text
    match = CODE.search(receipt.text)
    assert match
    code = match.group(1)
    pages["receipt done"] = client.post(
        "/receipt", data=hidden(receipt.text) | {"written": "yes"}
    ).text
    pages["check-in, bad code"] = check_in(client, "not a code")[1]
    pages["check-in, unknown code"] = check_in(client, "0" * 20 + "0")[1]
    pages["conversation, no reply"] = check_in(client, code)[1]
    insert_reply(app, code, office, "Hem rebut la vostra comunicació.")
    conversation = check_in(client, code)[1]
    pages["conversation"] = conversation
    pages["follow-up sent"] = client.post(
        "/follow-up",
        data=hidden(conversation) | {"code": code, "message": "Més dades."},
        content_type="multipart/form-data",
    ).text
    pages["sealed refusal"] = client.post(
        "/check-in/sealed",
        data=b"",
        headers={"X-CSRFToken": csrf_from(conversation)},
    ).text
    pages["cross-site refusal"] = client.post("/check-in", data={"code": code}).text
    return pages


@pytest.mark.parametrize("lang", ["ca", "es"])
def test_no_page_shows_english(app: Flask, client: FlaskClient, office: Office, lang: str) -> None:
    catalogue = Catalogue(TRANSLATIONS, lang)
    client.get(f"/language/{lang}")
    pages = _pages(app, client, office)
    assert len(pages) >= 15
    leaks = {name: english_in(html, catalogue) for name, html in pages.items()}
    assert {name: texts for name, texts in leaks.items() if texts} == {}


def test_a_planted_english_text_is_found(client: FlaskClient) -> None:
    catalogue = Catalogue(TRANSLATIONS, "ca")
    client.get("/language/ca")
    page = client.get("/").text
    assert english_in(page, catalogue) == []
    for planted in (
        "<p>Your report could not be sent, please try again.</p>",  # hard-coded, any text
        "<button>Send the report</button>",  # a catalogue message left untranslated
        '<a aria-label="Report received" href="/">x</a>',  # in an attribute
        '<div data-failed="Nothing was sent. Reason:"></div>',  # a text for the page script
    ):
        leaky = page.replace("</main>", planted + "</main>")
        assert english_in(leaky, catalogue), planted


def test_the_page_script_shows_only_the_templates_texts(app: Flask) -> None:
    """js/page.js builds no sentence of its own, and every text it reads (``t.name``) is one
    the template translates (``data-name`` on #sealed-texts): never "undefined" on a page."""
    root = Path(whistle.submit.__file__).parents[2]
    script = re.sub(r"//[^\n]*|/\*.*?\*/", "", (root / "js" / "page.js").read_text(), flags=re.S)
    literals = re.findall(r"'([^'\n]*)'", script)
    assert [text for text in literals if len([w for w in text.split() if w.isalpha()]) >= 2] == [
        "use strict"
    ]
    texts = (root / "whistle" / "submit" / "templates" / "_sealed_texts.html").read_text()
    names = set(re.findall(r"data-([\w-]+)=", texts))
    with app.test_request_context():  # the code errors' texts, rendered by the same template
        names |= set(texts_for_script())
    given = {re.sub(r"-(\w)", lambda m: m.group(1).upper(), n) for n in names}
    used = set(re.findall(r"\bt\.(\w+)", script))
    # text('name') or text('name', {values}): a text of #sealed-texts (with a third argument,
    # another element's data-*, checked where it is rendered).
    used |= set(re.findall(r"\btext\('(\w+)'(?:\)|, \{[^}]*\}\))", script))
    assert used <= given, sorted(used - given)
