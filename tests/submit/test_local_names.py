"""The office's and the desks' names in the page's language (config.toml ``[office_names]``
and ``[desk_names.ID]``), falling back to the office card's; a wrong table is refused at
start-up with one clear line."""

import dataclasses
import re
from pathlib import Path

import pytest
from flask.testing import FlaskClient

from whistle.localnames import NamesError, parse_names
from whistle.submit import create_app
from whistle.submit.config import ConfigError, load_config

from .conftest import Office, make_office

NAMES = """
[office_names]
ca = "Oficina Antifrau de Catalunya"
es = "Oficina Antifraude de Cataluña"

[desk_names.antifrau]
ca = "Bústia de l'Oficina Antifrau"
es = "Buzón de la Oficina Antifraude"

[desk_names.urbanisme]
ca = "Urbanisme"
"""


@pytest.fixture
def office() -> Office:
    return make_office(("antifrau", "urbanisme"))


def _client(data_dir: Path, extra: str) -> FlaskClient:
    config_file = data_dir / "config.toml"
    config_file.write_text(config_file.read_text() + extra)
    return create_app(dataclasses.replace(load_config(data_dir), testing=True)).test_client()


@pytest.mark.parametrize(
    ("lang", "office_name", "desks"),
    [
        ("ca", "Oficina Antifrau de Catalunya", ["Bústia de l&#39;Oficina Antifrau", "Urbanisme"]),
        (
            "es",
            "Oficina Antifraude de Cataluña",
            ["Buzón de la Oficina Antifraude", "Desk urbanisme"],
        ),
        # No English names: the card's.
        ("en", "Oficina de Transparència i Bones Pràctiques", ["Desk antifrau", "Desk urbanisme"]),
    ],
)
def test_names_follow_the_page_language(
    data_dir: Path, lang: str, office_name: str, desks: list[str]
) -> None:
    client = _client(data_dir, NAMES)
    client.get(f"/language/{lang}")
    landing = client.get("/").get_data(as_text=True)
    assert f'<p class="office"><a href="/">{office_name}</a></p>' in landing
    for desk in desks:
        assert desk in landing
    link = re.findall(r'<a class="button" href="([^"]+)"', landing)[1]
    assert desks[1] in client.get(link.replace("&amp;", "&")).get_data(as_text=True)


@pytest.mark.parametrize(
    ("extra", "problem"),
    [
        ('[desk_names.nowhere]\nca = "Enlloc"\n', "desk_names.nowhere is not a desk of the card"),
        ('[office_names]\nfr = "Office"\n', "office_names.fr: the languages are ca, es, en"),
        ('[office_names]\nca = "  "\n', "office_names.ca must be a name of 1 to 200 characters"),
        ('office_names = "Oficina"\n', "office_names must be a table of language = name"),
    ],
)
def test_a_wrong_table_of_names_is_refused_at_start_up(
    data_dir: Path, extra: str, problem: str
) -> None:
    config_file = data_dir / "config.toml"
    text = config_file.read_text()
    # A top-level key goes before the first table; a table at the end.
    config_file.write_text(text + extra if extra.startswith("[") else extra + text)
    with pytest.raises(ConfigError, match=problem):
        load_config(data_dir)


def test_names_parse_to_lookups_with_a_fallback() -> None:
    names = parse_names({"ca": " Oficina "}, {"antifrau": {"es": "Antifraude"}})
    assert names.office_name("ca", "Office") == "Oficina"
    assert names.office_name("en", "Office") == "Office"
    assert names.desk_name("antifrau", "es", "Anti-fraud") == "Antifraude"
    assert names.desk_name("antifrau", "ca", "Anti-fraud") == "Anti-fraud"
    assert names.desk_name("other", "es", "Other") == "Other"
    with pytest.raises(NamesError):
        parse_names(None, ["antifrau"])
