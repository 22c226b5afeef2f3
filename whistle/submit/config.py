"""The submission server's configuration: ``DIR/config.toml`` plus the secrets beside it.

Loaded and validated once, at start-up; a problem is one ``ConfigError`` with a
line a person can act on. Nothing here reads the environment.

    DIR/config.toml             settings (below)
    DIR/office-card.json        the office card, pinned by the fingerprint in config.toml
    DIR/server-card.json        this server's public card (for the inbox)
    DIR/server-signing.seed     Ed25519 seed of the server signing key      (0600)
    DIR/server-bundle.key       X25519 secret key replies bundles are sealed to (0600)
    DIR/install-salt            32 bytes: salt for code → keys derivation  (0600)
    DIR/pepper                  32 bytes: key of the login lookup hash      (0600)
    DIR/pepper.previous         the pepper before the last rotation, kept until no login
                                uses it (``whistle server rotate-pepper``)   (0600)
    DIR/session.key             32 bytes: seals session cookies            (0600)
    DIR/submit.sqlite3          the database when database_url is empty
"""

import hashlib
import tomllib
import zoneinfo
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from whistle.crypto import CardError, OfficeCard, ServerCard, read_card
from whistle.errors import WhistleError
from whistle.filenames import MAX_FILES
from whistle.localnames import LocalNames, NamesError, parse_names

LANGUAGES = ("ca", "es", "en")
CONFIG_FILE = "config.toml"
QUESTIONNAIRE_FILE = "questionnaire.toml"
OFFICE_CARD_FILE = "office-card.json"
SERVER_CARD_FILE = "server-card.json"
SERVER_SEED_FILE = "server-signing.seed"
BUNDLE_KEY_FILE = "server-bundle.key"
SALT_FILE = "install-salt"
PEPPER_FILE = "pepper"
PREVIOUS_PEPPER_FILE = "pepper.previous"
SESSION_KEY_FILE = "session.key"
DATABASE_FILE = "submit.sqlite3"
SECRET_FILES = (SERVER_SEED_FILE, BUNDLE_KEY_FILE, SALT_FILE, PEPPER_FILE, SESSION_KEY_FILE)

MIB = 1024 * 1024


class ConfigError(WhistleError):
    """The data directory or its config.toml is missing, unreadable or invalid."""


@dataclass(frozen=True)
class Limits:
    """Bounds on what a source can send (bytes unless said otherwise)."""

    max_upload_bytes: int = 100 * MIB  # all files of one submission or follow-up together
    max_files: int = 20
    discard_cap_bytes: int = 1024 * MIB  # an oversized body is read and dropped up to this
    storage_quota_bytes: int = 20 * 1024 * MIB
    max_text_chars: int = 20_000  # a description or a follow-up message
    session_hours: int = 6  # cookie and CSRF token lifetime (slow Tor uploads)
    # Code look-ups (check-in, follow-up) at once in one worker process (whistle/submit/slots.py),
    # and how long one may wait for a slot before the source is asked to try again (503).
    lookup_slots: int = 1
    lookup_wait_ms: int = 1000

    def check(self) -> None:
        for name in ("max_upload_bytes", "max_files", "discard_cap_bytes", "max_text_chars"):
            if getattr(self, name) < 1:
                raise ConfigError(f"config.toml: limits.{name} must be at least 1")
        if self.max_files > MAX_FILES:
            raise ConfigError(f"config.toml: limits.max_files must be at most {MAX_FILES}")
        if self.storage_quota_bytes < 0:
            raise ConfigError("config.toml: limits.storage_quota_bytes must not be negative")
        if self.discard_cap_bytes < self.max_upload_bytes:
            raise ConfigError(
                "config.toml: limits.discard_cap_bytes must be at least limits.max_upload_bytes"
            )
        if not 1 <= self.session_hours <= 24:
            raise ConfigError("config.toml: limits.session_hours must be 1 to 24")
        if not 1 <= self.lookup_slots <= 256:
            raise ConfigError("config.toml: limits.lookup_slots must be 1 to 256")
        if not 0 <= self.lookup_wait_ms <= 10_000:
            raise ConfigError("config.toml: limits.lookup_wait_ms must be 0 to 10000")


#: Which external authority is competent for the office (Ley 2/2023 art. 24): "catalonia" —
#: a Catalan public body, the Oficina Antifrau de Catalunya (art. 24.2; DA 7a Llei 3/2023);
#: "agreement" — a Catalan body whose community agreed with the A.A.I. (art. 24.1.d);
#: "state" — any other body, the A.A.I.
TERRITORIES = ("catalonia", "agreement", "state")
#: Where a data subject complains: the Catalan data protection authority for Catalan public
#: bodies, the Spanish one otherwise.
COMPLAINT_AUTHORITIES = ("apdcat", "aepd")


@dataclass(frozen=True)
class LegalNotice:
    """What the site tells a reporter about the law and their data, per office (config.toml
    ``[legal]``). Empty texts show as "ask the office" rather than as invented contacts."""

    territory: str = "catalonia"
    #: The controller (the public body) with its postal address.
    controller: str = ""
    #: How to reach the data protection officer (an address, never a form on this site).
    dpo: str = ""
    complaint_authority: str = "apdcat"
    #: The published rules of use the reporter accepts (the body's normes reguladores).
    rules_url: str = ""
    #: The published policy and procedure of the internal channel (art. 5.2, 9.1).
    policy_url: str = ""


_LEGAL_TEXTS = ("controller", "dpo", "rules_url", "policy_url")


def _legal(raw: Any) -> LegalNotice:
    if raw is None:
        return LegalNotice()
    if not isinstance(raw, dict):
        raise ConfigError("config.toml: [legal] must be a table")
    unknown = set(raw) - set(LegalNotice.__dataclass_fields__)
    if unknown:
        raise ConfigError(f"config.toml: unknown setting legal.{sorted(unknown)[0]}")
    territory = raw.get("territory", "catalonia")
    if territory not in TERRITORIES:
        raise ConfigError(f"config.toml: legal.territory must be one of {', '.join(TERRITORIES)}")
    authority = raw.get("complaint_authority", "apdcat")
    if authority not in COMPLAINT_AUTHORITIES:
        raise ConfigError(
            "config.toml: legal.complaint_authority must be one of "
            + ", ".join(COMPLAINT_AUTHORITIES)
        )
    texts: dict[str, str] = {}
    for key in _LEGAL_TEXTS:
        value = raw.get(key, "")
        if not isinstance(value, str) or len(value) > 500:
            raise ConfigError(f"config.toml: legal.{key} must be text of at most 500 characters")
        if key.endswith("_url") and value and not value.startswith(("https://", "http://")):
            raise ConfigError(f"config.toml: legal.{key} must be an http(s) address")
        texts[key] = value.strip()
    return LegalNotice(territory=territory, complaint_authority=authority, **texts)


@dataclass(frozen=True)
class OfficeLogo:
    """The office's logo, read once at start-up and served by the site itself (never a URL
    elsewhere): it also stands in for the favicon, so a page still costs three requests."""

    data: bytes
    mimetype: str


MAX_LOGO_BYTES = 16_384
_LOGO_TYPES = {".png": "image/png", ".svg": "image/svg+xml"}


def _office_logo(raw: dict[str, Any], directory: Path) -> OfficeLogo | None:
    name = raw.get("office_logo", "")
    if not isinstance(name, str):
        raise ConfigError("config.toml: office_logo must be a file name")
    if not name:
        return None
    suffix = Path(name).suffix.lower()
    if Path(name).name != name or suffix not in _LOGO_TYPES:
        raise ConfigError(
            "config.toml: office_logo must name a .png or .svg file in the data directory"
        )
    path = directory / name
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}") from exc
    if len(data) > MAX_LOGO_BYTES:
        raise ConfigError(f"{path}: a logo is at most {MAX_LOGO_BYTES} bytes (pages stay light)")
    looks_right = (
        data.startswith(b"\x89PNG\r\n\x1a\n")
        if suffix == ".png"
        else b"<svg" in data[:1024] and b"<script" not in data.lower()
    )
    if not looks_right:
        raise ConfigError(f"{path} is not a {suffix[1:].upper()} image (or the SVG has a script)")
    return OfficeLogo(data, _LOGO_TYPES[suffix])


@dataclass(frozen=True, repr=False)
class SubmitConfig:
    """Everything ``create_app`` needs, secrets included (``repr`` shows none of them)."""

    office_name: str
    default_language: str
    database_url: str
    office_card: OfficeCard
    install_salt: bytes
    pepper: bytes
    session_keys: tuple[bytes, ...]
    limits: Limits = field(default_factory=Limits)
    time_zone: str = "UTC"  # the office's: stored dates are days there (legal clocks)
    cookie_secure: bool = False
    testing: bool = False
    # Bundles (docs/bundles.md): the server's signing seed and bundle secret key, the
    # install id from its own card; the courier endpoint; how long replies stay.
    signing_seed: bytes = b""
    bundle_secret: bytes = b""
    install_id: str = ""
    courier_enabled: bool = False
    reply_days_after_read: int = 14
    reply_max_age_days: int = 90
    max_bundle_bytes: int = 4 * 1024 * MIB
    #: Offer in-browser encryption where the bundle is built (docs/submit-site.md).
    browser_crypto: bool = True
    #: The pepper before the last rotation, while logins still use it (``pepper.py``).
    previous_pepper: bytes | None = None
    #: Where the configuration was read from: the site re-reads the pepper files there
    #: when a rotation replaces them (``pepper.Peppers``). None for a config built in code.
    data_dir: Path | None = None
    legal: LegalNotice = field(default_factory=LegalNotice)
    office_logo: OfficeLogo | None = None
    #: The office's own questionnaire (its categories, say): ``questionnaire.toml`` in the
    #: data directory when there is one, else the packaged file.
    questionnaire_path: Path | None = None
    #: The office's and the desks' names per language (``[office_names]``, ``[desk_names]``).
    names: LocalNames = field(default_factory=LocalNames)

    def __repr__(self) -> str:
        return f"SubmitConfig(office_name={self.office_name!r})"

    @property
    def csrf_secret(self) -> bytes:
        """The key Flask-WTF signs CSRF tokens with, derived from the session key."""
        return hashlib.blake2b(b"whistle/csrf/v1", key=self.session_keys[0]).digest()


def default_database_url(directory: Path) -> str:
    return f"sqlite:///{(directory / DATABASE_FILE).resolve()}"


def normalise_database_url(url: str) -> str:
    """A checked SQLAlchemy URL: SQLite, or PostgreSQL through psycopg 3 (``postgresql://``
    means ``postgresql+psycopg://``). Empty stays empty (SQLite in the data directory)."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    if not url:
        return ""
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise ConfigError("config.toml: database_url is not a database URL") from exc
    if parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    if parsed.drivername not in ("sqlite", "postgresql+psycopg"):
        raise ConfigError(
            "config.toml: database_url must be empty (SQLite here), sqlite:///PATH "
            "or postgresql://…"
        )
    return parsed.render_as_string(hide_password=False)


def read_secret(directory: Path, name: str, size: int) -> bytes:
    path = directory / name
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}") from exc
    if len(data) != size:
        raise ConfigError(f"{path} must hold exactly {size} bytes")
    if path.stat().st_mode & 0o077:
        raise ConfigError(f"{path} is readable by others: chmod 600 it")
    return data


def _expect(table: dict[str, Any], key: str, kind: type, where: str = "") -> Any:
    value = table.get(key)
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise ConfigError(f"config.toml: {where}{key} must be a {kind.__name__}")
    return value


def _time_zone(raw: dict[str, Any], card: OfficeCard) -> str:
    """config.toml's ``time_zone``, else the office card's; never a silent UTC, and never a
    zone that contradicts the card (the inbox counts the legal clocks in the card's)."""
    time_zone = raw.get("time_zone", card.time_zone)
    if time_zone is None:
        raise ConfigError(
            "config.toml: set time_zone (the office's, like Europe/Madrid): the office card "
            "declares none"
        )
    try:
        if not isinstance(time_zone, str):
            raise ValueError
        zoneinfo.ZoneInfo(time_zone)
    except (ValueError, zoneinfo.ZoneInfoNotFoundError) as exc:
        raise ConfigError("config.toml: time_zone must be a zone name like Europe/Madrid") from exc
    if card.time_zone is not None and time_zone != card.time_zone:
        raise ConfigError(
            f"config.toml: time_zone is {time_zone}, but the office card says {card.time_zone}"
        )
    return time_zone


def _names(raw: dict[str, Any], card: OfficeCard) -> LocalNames:
    try:
        names = parse_names(raw.get("office_names"), raw.get("desk_names"))
    except NamesError as exc:
        raise ConfigError(f"config.toml: {exc}") from exc
    unknown = set(names.desks) - {desk.id for desk in card.desks}
    if unknown:
        raise ConfigError(f"config.toml: desk_names.{sorted(unknown)[0]} is not a desk of the card")
    return names


def load_config(directory: str | Path) -> SubmitConfig:
    """Read and validate a data directory made by ``whistle server init``."""
    directory = Path(directory)
    path = directory / CONFIG_FILE
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}") from exc
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path} is not valid TOML: {exc}") from exc
    office_name = _expect(raw, "office_name", str).strip()
    if not 0 < len(office_name) <= 200:
        raise ConfigError("config.toml: office_name must be 1 to 200 characters")
    language = _expect(raw, "default_language", str)
    if language not in LANGUAGES:
        raise ConfigError(f"config.toml: default_language must be one of {', '.join(LANGUAGES)}")
    database_url = raw.get("database_url", "")
    if not isinstance(database_url, str):
        raise ConfigError("config.toml: database_url must be a string")
    database_url = normalise_database_url(database_url) or default_database_url(directory)
    fingerprint = _expect(raw, "office_fingerprint", str)
    cookie_secure = raw.get("cookie_secure", False)
    if not isinstance(cookie_secure, bool):
        raise ConfigError("config.toml: cookie_secure must be true or false")
    limits_raw = raw.get("limits", {})
    if not isinstance(limits_raw, dict):
        raise ConfigError("config.toml: [limits] must be a table")
    known = set(Limits.__dataclass_fields__)
    unknown = set(limits_raw) - known
    if unknown:
        raise ConfigError(f"config.toml: unknown setting limits.{sorted(unknown)[0]}")
    limits = Limits(**{k: _expect(limits_raw, k, int, "limits.") for k in limits_raw})
    limits.check()
    courier_enabled = raw.get("courier_enabled", False)
    if not isinstance(courier_enabled, bool):
        raise ConfigError("config.toml: courier_enabled must be true or false")
    reply_days_after_read = _days(raw, "reply_days_after_read", 14)
    reply_max_age_days = _days(raw, "reply_max_age_days", 90)
    card_path = directory / OFFICE_CARD_FILE
    try:
        card = read_card(card_path.read_bytes(), pinned_fingerprint=fingerprint)
    except OSError as exc:
        raise ConfigError(f"cannot read {card_path}: {exc.strerror}") from exc
    except CardError as exc:
        raise ConfigError(f"{card_path}: {exc}") from exc
    if not isinstance(card, OfficeCard):
        raise ConfigError(f"{card_path} is not an office card")
    time_zone = _time_zone(raw, card)
    legal = _legal(raw.get("legal"))
    names = _names(raw, card)
    install_id = _server_install_id(directory)
    pepper = read_secret(directory, PEPPER_FILE, 32)
    return SubmitConfig(
        office_name=office_name,
        default_language=language,
        database_url=database_url,
        office_card=card,
        install_salt=read_secret(directory, SALT_FILE, 32),
        pepper=pepper,
        previous_pepper=previous_pepper(directory, pepper),
        data_dir=directory,
        session_keys=(read_secret(directory, SESSION_KEY_FILE, 32),),
        limits=limits,
        time_zone=time_zone,
        cookie_secure=cookie_secure,
        signing_seed=read_secret(directory, SERVER_SEED_FILE, 32),
        bundle_secret=read_secret(directory, BUNDLE_KEY_FILE, 32),
        install_id=install_id,
        courier_enabled=courier_enabled,
        reply_days_after_read=reply_days_after_read,
        reply_max_age_days=reply_max_age_days,
        legal=legal,
        office_logo=_office_logo(raw, directory),
        questionnaire_path=(
            directory / QUESTIONNAIRE_FILE if (directory / QUESTIONNAIRE_FILE).is_file() else None
        ),
        names=names,
    )


def _days(raw: dict[str, Any], key: str, default: int) -> int:
    value = raw.get(key, default)
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= 3650:
        raise ConfigError(f"config.toml: {key} must be a number of days from 1 to 3650")
    return value


def previous_pepper(directory: Path, pepper: bytes) -> bytes | None:
    """The previous pepper if one is kept (the same as the current one: a rotation that
    stopped half-way, ignored until ``rotate-pepper`` runs again)."""
    if not (directory / PREVIOUS_PEPPER_FILE).exists():
        return None
    previous = read_secret(directory, PREVIOUS_PEPPER_FILE, 32)
    return None if previous == pepper else previous


def _server_install_id(directory: Path) -> str:
    path = directory / SERVER_CARD_FILE
    try:
        card = read_card(path.read_bytes())
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}") from exc
    except CardError as exc:
        raise ConfigError(f"{path}: {exc}") from exc
    if not isinstance(card, ServerCard):
        raise ConfigError(f"{path} is not a server card")
    return card.install_id
