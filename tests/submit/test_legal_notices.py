"""The reporter's side of Ley 2/2023: the external channels with addresses and the competent
authority, the art. 25 information, the data-protection notice from config.toml ``[legal]``,
the rules of use linked, NIF/NIE/passport — in ca, es and en."""

import dataclasses
from pathlib import Path

import pytest

from whistle.submit import ConfigError, create_app, load_config
from whistle.submit.config import LegalNotice

from .conftest import csrf_from  # noqa: F401 - keeps the fixtures' module loaded

CONTROLLER = "Ajuntament de Vilafranca, plaça de la Vila 1, 08720 Vilafranca del Penedès"


def _client(config, **legal):  # type: ignore[no-untyped-def]
    app = create_app(dataclasses.replace(config, legal=LegalNotice(**legal)))
    return app, app.test_client()


@pytest.mark.parametrize(
    ("lang", "competent", "channels_word"),
    [
        ("ca", "és un organisme públic català", "Canals externs"),
        ("es", "es un organismo público catalán", "Canales externos"),
        ("en", "is a Catalan public body", "External channels"),
    ],
)
def test_the_channels_page_names_the_competent_authority_with_addresses(
    config, lang: str, competent: str, channels_word: str
) -> None:
    app, client = _client(config, territory="catalonia")
    client.get(f"/language/{lang}")
    page = client.get("/channels").get_data(as_text=True)
    assert competent in page
    assert channels_word in page
    # The competent authority first, then the others, each with its address.
    assert page.index("Oficina Antifrau de Catalunya") < page.index("A.A.I.")
    for address in (
        "carrer de Ribes, 1-3, 08013 Barcelona",
        "calle Luis Cabrera, 9, 28002 Madrid",
        "L-1855 Luxembourg",
        "1049 Brussels",
    ):
        assert address in page
    assert "EPPO" in page
    assert "OLAF" in page
    # Bodies with an official name in the page's language are called by it.
    eppo = {"ca": "Fiscalia Europea", "es": "Fiscalía Europea", "en": "European Public Prosecutor"}
    assert eppo[lang] in page
    app.extensions["whistle_submit"].engine.dispose()


def test_outside_catalonia_the_aai_is_competent(config) -> None:
    app, client = _client(config, territory="state")
    client.get("/language/en")
    page = client.get("/channels").get_data(as_text=True)
    assert "The external channel for" in page
    assert page.index("Autoridad Independiente") < page.index("Oficina Antifrau")
    form = client.get("/report").get_data(as_text=True)
    assert "calle Luis Cabrera, 9, 28002 Madrid" in form
    app.extensions["whistle_submit"].engine.dispose()


@pytest.mark.parametrize(
    ("lang", "heading", "basis", "complaints"),
    [
        ("ca", "Protecció de dades", "Una obligació legal", "Autoritat Catalana de Protecció"),
        ("es", "Protección de datos", "Una obligación legal", "Autoridad Catalana de Protección"),
        ("en", "Data protection", "A legal obligation", "Autoritat Catalana de Protecció"),
    ],
)
def test_the_data_protection_notice_comes_from_the_office(
    config, lang: str, heading: str, basis: str, complaints: str
) -> None:
    app, client = _client(
        config, controller=CONTROLLER, dpo="dpd@vilafranca.cat", complaint_authority="apdcat"
    )
    client.get(f"/language/{lang}")
    page = client.get("/about").get_data(as_text=True)
    assert heading in page
    assert basis in page
    assert CONTROLLER in page
    assert "dpd@vilafranca.cat" in page
    assert complaints in page
    app.extensions["whistle_submit"].engine.dispose()


@pytest.mark.parametrize(
    ("lang", "section", "passport"),
    [
        ("ca", "Com funciona aquest canal", "NIF, NIE o passaport"),
        ("es", "Cómo funciona este canal", "NIF, NIE o pasaporte"),
        ("en", "How this channel works", "NIF, NIE or passport number"),
    ],
)
def test_art_25_section_rules_of_use_and_passports(
    config, lang: str, section: str, passport: str
) -> None:
    rules = "https://www.vilafranca.cat/normes-bustia-etica"
    app, client = _client(config, rules_url=rules)
    client.get(f"/language/{lang}")
    landing = client.get("/").get_data(as_text=True)
    assert section in landing
    assert 'id="how-it-works"' in landing
    form = client.get("/report").get_data(as_text=True)
    assert rules in form  # the rules the reporter accepts, named where they accept them
    assert "#how-it-works" in form
    assert "/channels" in form
    assert passport in form
    app.extensions["whistle_submit"].engine.dispose()


@pytest.mark.parametrize(
    ("legal", "message"),
    [
        ('territory = "mars"', "legal.territory"),
        ('complaint_authority = "cnil"', "legal.complaint_authority"),
        ('rules_url = "javascript:alert(1)"', "legal.rules_url"),
        ("controller = 3", "legal.controller"),
        ('bogus = "x"', "legal.bogus"),
    ],
)
def test_a_bad_legal_table_is_one_clear_error(data_dir: Path, legal: str, message: str) -> None:
    path = data_dir / "config.toml"
    text = path.read_text()
    assert "[legal]" in text  # a new config.toml has the table to fill in
    key = legal.split(" = ")[0]
    lines = [line for line in text.splitlines() if not line.startswith(key + " = ")]
    path.write_text("\n".join(lines) + "\n" + legal + "\n")
    with pytest.raises(ConfigError, match=message):
        load_config(data_dir)
