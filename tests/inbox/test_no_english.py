"""Every page of the officers' inbox, in Catalan and Spanish, shows no English
(tests/english.py): each page the app serves with GET (a new one without an entry here fails the
test), a case with a note, a draft and an attachment, the attachment's page, the refusals an
officer meets, the error pages — and a planted English text is found."""

import io
import re
from pathlib import Path

import pytest
from flask import render_template_string

import whistle.inbox
from tests.english import Catalogue, english_in
from whistle.inbox.web import LANG_COOKIE

from .conftest import do_import, incoming, make_submission
from .test_web import app, client, csrf, login  # noqa: F401 - fixtures

TRANSLATIONS = Path(whistle.inbox.__file__).parent / "translations"

#: GET endpoints that are not pages: files for download, images, a CSV for a spreadsheet.
NOT_PAGES = {
    "static",
    "files.download",
    "files.image",
    "office.annual_report_csv",
}
#: The case's own data, written by the (test) source: shown as it was written.
DATA = {"Subject", "Description", "Contracte de neteja", "El contractista factura dues vegades."}


def _pages(client, office) -> dict[str, str]:  # noqa: F811
    pages = {"sign-in": client.get("/login").get_data(as_text=True)}
    source, envelope = make_submission(
        office,
        subject="Contracte de neteja",
        description="El contractista factura dues vegades.",
        files=[("factura.txt", b"import 1200"), ("buit.txt", b"")],
    )
    do_import(office, [incoming("submission", source.case_id, envelope)])
    login(client)
    case_url = f"/cases/{source.case_id}"
    # Acknowledged: the inbox records a reason of its own, shown translated on the case page.
    token = csrf(client.get(case_url).get_data(as_text=True))
    assert client.post(f"{case_url}/acknowledge", data={"csrf": token}).status_code == 303
    case = client.get(case_url).get_data(as_text=True)
    record_id = re.search(r"/records/([0-9a-f]+)/files/0", case)
    assert record_id, "the case page links to its attachment"
    params = {
        "case_id": source.case_id,
        "record_id": record_id.group(1),
        "index": "0",
        "officer_id": "1",
        "desk_id": "antifraud",
    }
    for rule in client.application.url_map.iter_rules():
        if "GET" not in rule.methods or rule.endpoint in NOT_PAGES:
            continue
        missing = set(rule.arguments) - set(params)
        assert not missing, f"new page {rule.rule}: give {sorted(missing)} a value in params above"
        url = re.sub(r"<(?:\w+:)?(\w+)>", lambda m: params[m.group(1)], rule.rule)
        response = client.get(url, follow_redirects=True)
        assert response.status_code == 200, url
        pages[url] = response.get_data(as_text=True)
    empty = f"{case_url}/records/{params['record_id']}/files/1"
    pages["empty attachment"] = client.get(empty).get_data(as_text=True)
    pages["not found"] = client.get("/cases/" + "0" * 32).get_data(as_text=True)
    token = csrf(pages["/bundles/"])
    pages["bundle refused"] = client.post(
        "/bundles/check",
        data={"csrf": token, "bundle": (io.BytesIO(b"\x1f\x8b" + bytes(100)), "x.bundle")},
        content_type="multipart/form-data",
    ).get_data(as_text=True)
    pages["backup refused"] = client.post(
        "/backup/", data={"csrf": token, "directory": "relative/path"}
    ).get_data(as_text=True)
    pages["password refused"] = client.post(
        "/account/password", data={"csrf": token, "current": "x", "new": "y", "repeat": "z"}
    ).get_data(as_text=True)
    return pages


@pytest.mark.parametrize("lang", ["ca", "es"])
def test_no_page_shows_english(client, office, lang: str) -> None:  # noqa: F811
    catalogue = Catalogue(TRANSLATIONS, lang)
    client.set_cookie(LANG_COOKIE, lang)
    pages = _pages(client, office)
    assert len(pages) >= 20
    leaks = {
        name: [text for text in english_in(html, catalogue) if text not in DATA]
        for name, html in pages.items()
    }
    assert {name: texts for name, texts in leaks.items() if texts} == {}


def test_a_planted_english_text_is_found(client) -> None:  # noqa: F811
    catalogue = Catalogue(TRANSLATIONS, "es")
    client.set_cookie(LANG_COOKIE, "es")
    page = client.get("/login").get_data(as_text=True)
    assert english_in(page, catalogue) == []
    for planted in (
        "<p>The bundle was refused: the file is compressed.</p>",  # an exception's text
        "<button>Lock</button>",  # a catalogue message left untranslated
        '<nav aria-label="Register"></nav>',  # in an attribute
    ):
        leaky = page.replace("</main>", planted + "</main>")
        assert english_in(leaky, catalogue), planted


@pytest.mark.parametrize(
    ("lang", "shown"), [("ca", "1,5 KiB"), ("es", "1,5 KiB"), ("en", "1.5 KiB")]
)
def test_sizes_are_written_with_the_languages_decimal_sign(app, lang: str, shown: str) -> None:  # noqa: F811
    with app.test_request_context(headers={"Cookie": f"{LANG_COOKIE}={lang}"}):
        macro = '{% from "_macros.html" import size %}{{ size(1536) }}'
        assert render_template_string(macro) == shown
