"""Creating an office (``whistle office init``) and pinning the server (``trust-server``)."""

import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import select
from sqlalchemy.orm import Session

from whistle.crypto import (
    CryptoError,
    Desk,
    ServerCard,
    generate_box_keypair,
    generate_recovery_key,
    generate_signing_keypair,
    make_office_card,
    read_card,
    recovery_wrapping_key,
)
from whistle.inbox import audit, compartments, db
from whistle.inbox.audit import record_event
from whistle.inbox.config import InboxConfig
from whistle.inbox.epochs import current_card, install_epoch
from whistle.inbox.errors import NotSetUpError, ServerCardError, SetupError
from whistle.inbox.keyring import CustodianKeyring, OfficeKeyring, wrap_for_recovery
from whistle.inbox.models import ROLE_MANAGER, ROLE_OFFICER, Office
from whistle.inbox.officers import add_officer, check_name, check_new_password

DESK_ID = re.compile(r"[a-z0-9][a-z0-9-]{0,31}")


@dataclass(frozen=True)
class OfficeCreated:
    recovery_key: str
    card: bytes
    fingerprint: str


def init_office(
    config: InboxConfig,
    *,
    name: str,
    desks: list[tuple[str, str]],
    officer_name: str,
    password: str,
    time_zone: str,
    first_officer_is_custodian: bool = False,
) -> OfficeCreated:
    """Make every key, the first officer (system manager), the card and the recovery key.

    ``time_zone`` is required (no silent UTC): the card carries it to the server, which dates
    reports there, and the inbox counts the legal clocks there (``office_time_zone``)."""
    check_name(officer_name)
    try:
        ZoneInfo(time_zone)
    except (ValueError, ZoneInfoNotFoundError) as exc:
        raise SetupError("The time zone is a name like Europe/Madrid.") from exc
    check_new_password(password)
    if not name.strip() or len(name) > 200:
        raise SetupError("The office name is 1 to 200 characters.")
    if not desks:
        raise SetupError("An office has at least one desk.")
    for desk_id, desk_name in desks:
        if not DESK_ID.fullmatch(desk_id):
            raise SetupError(f"A desk id is lower-case letters, digits and dashes: {desk_id!r}")
        if not desk_name.strip() or len(desk_name) > 200:
            raise SetupError("A desk name is 1 to 200 characters.")
    if len({d for d, _ in desks}) != len(desks):
        raise SetupError("Two desks share an id.")
    if config.database_path.exists():
        raise SetupError(f"{config.data_dir} holds an office already.")
    created_dir = not config.data_dir.exists()
    config.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    if any(config.data_dir.iterdir()):
        raise SetupError(f"{config.data_dir} is not empty.")

    now = config.clock()
    desk_pairs = {desk_id: generate_box_keypair() for desk_id, _ in desks}
    custodian = generate_box_keypair()
    signing = generate_signing_keypair()
    storage = generate_box_keypair()
    bundle = generate_box_keypair()
    recovery_personal = generate_box_keypair()
    # Keyring version 2: the desk and bundle keys go into the database, sealed to the
    # storage key, so they can rotate (epochs.py).
    keyring = OfficeKeyring(signing.seed, storage.secret_key)
    custodian_keyring = CustodianKeyring(custodian.secret_key)
    card = make_office_card(
        signing.seed,
        name=name.strip(),
        bundle_key=bundle.public_key,
        desks=[Desk(d, n.strip(), desk_pairs[d].public_key) for d, n in desks],
        custodian_key=custodian.public_key,
        epoch=1,
        created=now.date().isoformat(),
        time_zone=time_zone,
    )
    office_card = read_card(card)
    recovery_key = generate_recovery_key()
    recovery = recovery_wrapping_key(recovery_key)

    engine = db.make_engine(config.database_path)
    try:
        db.upgrade(engine)
        config.store_dir.mkdir(mode=0o700, exist_ok=True)
        with db.transaction(db.session_factory(engine)) as session:
            audit.use_key(session, audit.key_for(keyring.storage_secret))
            session.add(
                Office(
                    id=1,
                    name=name.strip(),
                    created_at=now.replace(tzinfo=None),
                    card=card,
                    fingerprint=office_card.fingerprint,
                    storage_public_key=storage.public_key,
                    recovery_keyring=wrap_for_recovery(
                        keyring.with_personal(recovery_personal.secret_key), recovery
                    ),
                    recovery_custodian_keyring=wrap_for_recovery(custodian_keyring, recovery),
                )
            )
            record_event(session, now, "office-created", detail=office_card.fingerprint)
            # Desks are compartments from the start (the first officer is in every desk),
            # so each desk's key of the first epoch goes to its compartment key.
            compartments.start_office(
                session, recovery_personal.public_key, [d for d, _ in desks], now
            )
            install_epoch(
                session,
                keyring,
                card,
                {desk_id: pair.secret_key for desk_id, pair in desk_pairs.items()},
                bundle.secret_key,
                now,
            )
            roles: tuple[str, ...] = (ROLE_OFFICER, ROLE_MANAGER)
            if first_officer_is_custodian:
                roles += ("custodian",)
            add_officer(
                session,
                config,
                name=officer_name,
                password=password,
                roles=roles,
                keyring=keyring.with_personal(recovery_personal.secret_key),
                custodian_keyring=custodian_keyring,
                desks=[d for d, _ in desks],
            )
    except BaseException:
        engine.dispose()
        _remove_partial_office(config, created_dir)
        raise
    engine.dispose()
    return OfficeCreated(recovery_key, card, office_card.fingerprint)


def _remove_partial_office(config: InboxConfig, created_dir: bool) -> None:
    """Leave nothing behind when creating the office fails half-way."""
    for suffix in ("", "-wal", "-shm", "-journal"):
        Path(f"{config.database_path}{suffix}").unlink(missing_ok=True)
    if config.store_dir.is_dir():
        shutil.rmtree(config.store_dir)
    if created_dir:
        config.data_dir.rmdir()


def load_office(session: Session) -> Office:
    office = session.scalar(select(Office).where(Office.id == 1))
    if office is None:
        raise NotSetUpError("This directory holds no office: run `whistle office init` first.")
    return office


def office_time_zone(session: Session) -> str | None:
    """The time zone the office's current card declares (None: a card made before it did)."""
    return current_card(session).time_zone


def read_server_card(data: bytes) -> ServerCard:
    try:
        card = read_card(data)
    except CryptoError as exc:
        raise ServerCardError(f"The server card cannot be read: {exc}") from exc
    if not isinstance(card, ServerCard):
        raise ServerCardError("This is an office card, not a server card.")
    return card


def pin_server(session: Session, config: InboxConfig, data: bytes) -> ServerCard:
    """Pin the server's card; replacing a pin with a different key is refused."""
    card = read_server_card(data)
    office = load_office(session)
    if office.server_fingerprint is not None and office.server_fingerprint != card.fingerprint:
        raise ServerCardError(
            f"A different server ({office.server_fingerprint}) is pinned already; "
            "a server key change is a rotation (see docs/deployment.md)."
        )
    now = config.clock()
    office.server_card = data
    office.server_fingerprint = card.fingerprint
    office.server_pinned_at = now.replace(tzinfo=None)
    record_event(session, now, "server-pinned", detail=card.fingerprint)
    return card
