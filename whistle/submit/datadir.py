"""``whistle server init``: a new data directory with its secrets, cards and database;
``whistle server rotate-signing-key``: new server keys and card for the same install."""

import datetime
import os
from pathlib import Path

from whistle.crypto import (
    CardError,
    OfficeCard,
    ServerCard,
    generate_box_keypair,
    generate_signing_keypair,
    make_server_card,
    random_bytes,
    read_card,
)
from whistle.durable import sync_directory
from whistle.submit import db
from whistle.submit.config import (
    BUNDLE_KEY_FILE,
    CONFIG_FILE,
    LANGUAGES,
    OFFICE_CARD_FILE,
    PEPPER_FILE,
    SALT_FILE,
    SERVER_CARD_FILE,
    SERVER_SEED_FILE,
    SESSION_KEY_FILE,
    ConfigError,
    load_config,
    normalise_database_url,
)

CONFIG_TEMPLATE = """\
# Whistle submission server. Edit, then restart the server.
office_name = {office_name}
# ca, es or en: the language of a first visit (Tor Browser always asks for en-US).
default_language = "{language}"
# Empty: SQLite in this directory. PostgreSQL (psycopg 3), over a Unix socket:
# "postgresql://whistle@/whistle?host=/run/postgresql" (docs/deployment.md).
database_url = {database_url}
# The office's time zone: the day a report arrived is counted there (legal deadlines).
# It must be the one the office card declares, when it declares one.
time_zone = "{time_zone}"
# The office card's fingerprint, as compared with the office at set-up.
office_fingerprint = "{fingerprint}"
# Set to true only when the site is served over https (an onion service is http).
cookie_secure = false
# The office's logo, a .png or .svg file (≤ 16 KB) in this directory, shown beside its name:
# office_logo = "logo.svg"

[limits]
max_upload_bytes = 104857600      # all files of one report or follow-up together
max_files = 20
discard_cap_bytes = 1073741824    # an oversized upload is read and dropped up to this
storage_quota_bytes = 21474836480 # past it, new reports get a "temporarily full" page
max_text_chars = 20000
session_hours = 6
lookup_slots = 1                  # code look-ups at once per worker (check-in flood cap)
lookup_wait_ms = 1000             # wait this long for a slot, then answer "busy" (503)
"""

BUNDLES_TEMPLATE = """
# Bundles (docs/bundles.md). The courier endpoint hands out the outbox and takes replies
# bundles over a client-authorised onion service; off unless set to true.
courier_enabled = false
# A reply is deleted this many days after the source first read it...
reply_days_after_read = 14
# ...and in any case this many days after it arrived.
reply_max_age_days = 90
"""

LEGAL_TEMPLATE = """
# What the site tells reporters (Ley 2/2023; GDPR art. 13). Fill in before opening the site.
[legal]
# catalonia: a Catalan public body (external channel: the Oficina Antifrau de Catalunya);
# agreement: a Catalan body under an agreement with the A.A.I.; state: any other (the A.A.I.).
territory = "catalonia"
# The controller: the public body's name and postal address.
controller = ""
# How to reach the data protection officer (an email or postal address).
dpo = ""
# apdcat (Autoritat Catalana de Protecció de Dades) or aepd (Agencia Española de Protección
# de Datos): where a reporter may complain about the processing of their data.
complaint_authority = "apdcat"
# The published rules of use the reporter accepts, and the channel's policy (https://...).
rules_url = ""
policy_url = ""
"""


def _write_private(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)


def _toml_string(value: str) -> str:
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    return '"' + "".join(c if c >= " " else f"\\u{ord(c):04x}" for c in escaped) + '"'


def init_data_directory(
    directory: str | Path,
    office_card: bytes,
    *,
    fingerprint: str | None = None,
    language: str = "ca",
    database_url: str = "",
    today: datetime.date | None = None,
) -> OfficeCard:
    """Create ``directory`` (which must not exist or be empty) and its database.

    With ``fingerprint`` the card must carry it; without, the caller has shown the
    card's fingerprint to a person and had it confirmed. ``database_url`` empty:
    SQLite in the directory; otherwise an empty PostgreSQL database, migrated here.
    """
    directory = Path(directory)
    if language not in LANGUAGES:
        raise ConfigError(f"the default language must be one of {', '.join(LANGUAGES)}")
    try:
        card = read_card(office_card, pinned_fingerprint=fingerprint)
    except CardError as exc:
        raise ConfigError(f"the office card: {exc}") from exc
    if not isinstance(card, OfficeCard):
        raise ConfigError("that is a server card, not an office card")
    if directory.exists() and any(directory.iterdir()):
        raise ConfigError(f"{directory} exists and is not empty")
    if database_url:
        # Checked before anything is written: a wrong URL leaves no half-made directory.
        db.check_connection(normalise_database_url(database_url))
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    today = today or datetime.datetime.now(datetime.UTC).date()
    signing = generate_signing_keypair()
    bundle = generate_box_keypair()
    _write_private(directory / SERVER_SEED_FILE, signing.seed)
    _write_private(directory / BUNDLE_KEY_FILE, bundle.secret_key)
    _write_private(directory / SALT_FILE, random_bytes(32))
    _write_private(directory / PEPPER_FILE, random_bytes(32))
    _write_private(directory / SESSION_KEY_FILE, random_bytes(32))
    (directory / OFFICE_CARD_FILE).write_bytes(office_card)
    server_card = make_server_card(
        signing.seed,
        name=card.name,
        bundle_key=bundle.public_key,
        install_id=random_bytes(16).hex(),
        created=today.isoformat(),
    )
    (directory / SERVER_CARD_FILE).write_bytes(server_card)
    (directory / CONFIG_FILE).write_text(
        CONFIG_TEMPLATE.format(
            office_name=_toml_string(card.name),
            language=language,
            database_url=_toml_string(database_url),
            fingerprint=card.fingerprint,
            time_zone=card.time_zone or "Europe/Madrid",
        ).replace("\n[limits]", BUNDLES_TEMPLATE + "\n[limits]")
        + LEGAL_TEMPLATE,
        encoding="utf-8",
    )
    config = load_config(directory)
    db.upgrade(config.database_url)
    return card


def replace_file(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` (0600) all or nothing: a temporary file, flushed, renamed."""
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.unlink(missing_ok=True)
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    sync_directory(path.parent)


def rotate_signing_key(directory: str | Path, today: datetime.date | None = None) -> ServerCard:
    """New server signing key and replies-bundle key, and a new server card for the same
    install (same install id, name, database, salt and pepper: sources notice nothing).

    Each file is replaced whole, the card last; if the command stops half-way, the keys no
    longer match the card: run it again (the inbox pins only the card it is given).
    """
    directory = Path(directory)
    config = load_config(directory)  # the current state is valid before anything changes
    old = read_card((directory / SERVER_CARD_FILE).read_bytes())
    if not isinstance(old, ServerCard):
        raise ConfigError(f"{directory / SERVER_CARD_FILE} is not a server card")
    today = today or datetime.datetime.now(datetime.UTC).date()
    signing = generate_signing_keypair()
    bundle = generate_box_keypair()
    card = make_server_card(
        signing.seed,
        name=old.name,
        bundle_key=bundle.public_key,
        install_id=config.install_id,
        created=today.isoformat(),
    )
    replace_file(directory / SERVER_SEED_FILE, signing.seed)
    replace_file(directory / BUNDLE_KEY_FILE, bundle.secret_key)
    replace_file(directory / SERVER_CARD_FILE, card)
    (directory / SERVER_CARD_FILE).chmod(0o644)  # public, like the card `init` writes
    new = read_card(card)
    if not isinstance(new, ServerCard):
        raise ConfigError("the new server card could not be read back")
    return new
