"""Desk names in the officer's language from the inbox's optional ``names.toml``; the desk id
where it gives none; a malformed file stops ``inbox run`` with one clear line."""

import dataclasses

import pytest

from whistle.inbox import create_app, naming
from whistle.inbox.config import NAMES_FILE, NamesFileError, load_names
from whistle.inbox.web import LANG_COOKIE
from whistle.localnames import LocalNames

from .conftest import do_import, incoming, make_submission
from .test_web import login

NAMES = """
[desk_names.antifraud]
ca = "Oficina Antifrau"
es = "Oficina Antifraude"
"""


@pytest.mark.parametrize(
    ("lang", "shown"),
    [("ca", "Oficina Antifrau"), ("es", "Oficina Antifraude"), ("en", "Anti-fraud office")],
)
def test_the_case_list_and_the_case_name_the_desk_in_the_officers_language(
    office, lang: str, shown: str
) -> None:
    (office.config.data_dir / NAMES_FILE).write_text(NAMES)
    config = dataclasses.replace(office.config, names=load_names(office.config.data_dir))
    client = create_app(config).test_client()
    source, envelope = make_submission(office, subject="Roads contract")
    do_import(office, [incoming("submission", source.case_id, envelope)])
    client.set_cookie(LANG_COOKIE, lang)
    login(client)
    listing = client.get("/cases").get_data(as_text=True)
    assert f"<td>{shown}</td>" in listing
    assert f'<option value="antifraud" >{shown}</option>' in listing
    case = client.get(f"/cases/{source.case_id}").get_data(as_text=True)
    assert f"<dd>{shown}</dd>" in case


def test_no_file_means_no_names(tmp_path) -> None:
    assert load_names(tmp_path) == LocalNames()


@pytest.mark.parametrize(
    "text",
    [
        '[desk_names.antifraud]\nde = "Antibetrug"\n',
        "desk_names = [",
        b"\xff\xfe".decode("latin-1"),
    ],
)
def test_a_malformed_names_file_is_refused(tmp_path, text: str) -> None:
    (tmp_path / NAMES_FILE).write_text(text, encoding="latin-1")
    with pytest.raises(NamesFileError, match=NAMES_FILE):
        load_names(tmp_path)


def test_desk_names_come_from_names_toml_then_the_card_then_the_id(office, tmp_path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / NAMES_FILE).write_text(NAMES)
    names = load_names(tmp_path)
    with office.session() as session:
        catalan = naming.desk_names(session, names, "ca")
        english = naming.desk_names(session, names, "en")
    assert catalan == {"antifraud": "Oficina Antifrau", "ethics": "Ethics desk"}
    assert english == {"antifraud": "Anti-fraud office", "ethics": "Ethics desk"}
    assert catalan["gone"] == "gone"  # a desk the card no longer lists: its id
