"""The external channels a reporter may use instead of, or as well as, the office's (Ley 2/2023
art. 16–24; Directive art. 9(1)(g)), with their addresses, and which one is competent for the
office (config.toml ``[legal] territory``).

Addresses as the authorities publish them (checked 2026-12; docs/decisions.md). A body's name
is the one it uses itself, shown in the page's language where it has an official one there
(the Spanish AAI is «Autoritat Independent…» in Catalan, EPPO «Fiscalía Europea» in Spanish);
what each is for is translated in the templates.
"""

from dataclasses import dataclass

from flask_babel import gettext


def N_(name: str) -> str:  # noqa: N802 - pybabel's default keyword: extract now, translate later
    return name


@dataclass(frozen=True)
class Authority:
    key: str
    name: str
    address: str
    web: str

    @property
    def local_name(self) -> str:
        """The name in the page's language (catalogue), else the body's own."""
        return gettext(self.name)


OFICINA_ANTIFRAU = Authority(
    "antifrau",
    "Oficina Antifrau de Catalunya",
    "carrer de Ribes, 1-3, 08013 Barcelona",
    "https://www.antifrau.cat/ca/investigacio/denuncieu.html",
)
AAI = Authority(
    "aai",
    N_("Autoridad Independiente de Protección del Informante, A.A.I."),
    "calle Luis Cabrera, 9, 28002 Madrid",
    "https://www.proteccioninformante.gob.es",
)
EPPO = Authority(
    "eppo",
    N_("European Public Prosecutor's Office (EPPO)"),
    "11 avenue John F. Kennedy, L-1855 Luxembourg",
    "https://www.eppo.europa.eu",
)
OLAF = Authority(
    "olaf",
    N_("European Anti-Fraud Office (OLAF)"),
    "European Commission, 1049 Brussels, Belgium",
    "https://anti-fraud.ec.europa.eu",
)
FISCALIA = Authority("fiscalia", N_("Ministerio Fiscal"), "", "https://www.fiscal.es")
#: Where a reporter may complain about the processing of their data.
DATA_AUTHORITIES = {
    "apdcat": Authority(
        "apdcat",
        N_("Autoritat Catalana de Protecció de Dades"),
        "carrer de Rosselló, 214, 08008 Barcelona",
        "https://apdcat.gencat.cat",
    ),
    "aepd": Authority(
        "aepd",
        N_("Agencia Española de Protección de Datos"),
        "calle Jorge Juan, 6, 28001 Madrid",
        "https://www.aepd.es",
    ),
}


def competent(territory: str) -> Authority:
    """The external channel competent for the office's territory (art. 24)."""
    return OFICINA_ANTIFRAU if territory == "catalonia" else AAI


def all_channels(territory: str) -> list[Authority]:
    """The competent authority first, then the others that may apply."""
    first = competent(territory)
    others = [a for a in (OFICINA_ANTIFRAU, AAI, EPPO, OLAF, FISCALIA) if a != first]
    return [first, *others]
