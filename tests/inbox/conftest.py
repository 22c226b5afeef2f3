"""Inbox fixtures: an office in tmp_path, weak Argon2 (tests only), a movable clock."""

import io
import secrets
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from whistle.crypto import KdfParams, derive_source_keys, generate_code, read_card
from whistle.crypto.conversation import Position
from whistle.crypto.records import SubmissionWriter, seal_followup, seal_reply
from whistle.inbox import compartments, db
from whistle.inbox.cases import CaseFilters, list_cases
from whistle.inbox.config import InboxConfig, ThrottleLimits, insecure_password_hash
from whistle.inbox.office_setup import OfficeCreated, init_office
from whistle.inbox.officers import SignedIn, add_officer, sign_in
from whistle.inbox.store import IncomingRecord, import_records

PASSWORD = "correct horse battery staple"
CANARY = "CANARY-7f3a9c-plaintext-must-never-rest"


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kwargs: float) -> None:
        self.now += timedelta(**kwargs)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def config(tmp_path: Path, insecure_kdf_params: KdfParams, clock: Clock) -> InboxConfig:
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    return InboxConfig(
        data_dir=tmp_path / "office",
        kdf_params=insecure_kdf_params,
        password_hash=insecure_password_hash(),
        throttle=ThrottleLimits(per_account=3, window_seconds=900),
        idle_lock_seconds=600,
        default_language="en",
        clock=clock,
        scratch_dir=scratch,
        testing=True,
    )


@dataclass
class Office:
    config: InboxConfig
    created: OfficeCreated
    card_desks: dict[str, bytes]
    custodian_public: bytes
    session_factory: object = None
    cases: list[str] = field(default_factory=list)

    def session(self):  # type: ignore[no-untyped-def]
        return db.transaction(self.session_factory)  # type: ignore[arg-type]

    def sign_in(self, name: str = "admin", password: str = PASSWORD) -> SignedIn:
        with self.session() as session:
            return sign_in(session, self.config, name, password)


@pytest.fixture
def office(config: InboxConfig) -> Iterator[Office]:
    created = init_office(
        config,
        time_zone=config.time_zone,
        name="Oficina Antifrau",
        desks=[("antifraud", "Anti-fraud office"), ("ethics", "Ethics desk")],
        officer_name="admin",
        password=PASSWORD,
    )
    card = read_card(created.card)
    engine = db.make_engine(config.database_path)
    result = Office(
        config,
        created,
        {d.id: d.public_key for d in card.desks},  # type: ignore[union-attr]
        card.custodian_key,  # type: ignore[union-attr]
        db.session_factory(engine),
    )
    yield result
    engine.dispose()


@dataclass
class Source:
    case_id: str
    reply_secret: bytes
    reply_public: bytes
    signing_seed: bytes
    followups_sent: int = 0


def make_submission(
    office: Office,
    *,
    subject: str = "Invoices inflated",
    description: str = "The contractor bills twice.",
    desk: str = "antifraud",
    files: list[tuple[str, bytes]] | None = None,
    identification: list[dict[str, str]] | None = None,
    case_id: str | None = None,
    choices: dict[str, Any] | None = None,
) -> tuple[Source, bytes]:
    """A submission as the form writes it; ``choices`` adds the form's last keys
    (identified, category, meeting, availability: ``records.form_document``)."""
    keys = derive_source_keys(generate_code(), bytes(32))
    case_id = case_id or secrets.token_hex(16)
    out = io.BytesIO()
    writer = SubmissionWriter(
        out,
        desk_key=office.card_desks[desk],
        custodian_key=office.custodian_public,
        reply_public_key=keys.reply_public_key,
        source_signing_key=keys.signing_public_key,
        case_id=bytes.fromhex(case_id),
    )
    writer.add_form(
        {
            "language": "ca",
            "desk": desk,
            "fields": [
                {"key": "subject", "label": "Subject", "value": subject},
                {"key": "description", "label": "Description", "value": description},
            ],
            **(choices or {}),
        }
    )
    writer.add_identification(identification or [])
    for name, content in files or []:
        writer.begin_file(name)
        writer.write(content)
        writer.end_file()
    writer.finish()
    source = Source(case_id, keys.reply_secret_key, keys.reply_public_key, keys.signing_seed)
    return source, out.getvalue()


def make_followup(  # type: ignore[no-untyped-def]
    office: Office, source: Source, message: str, files=None, *, sequence: int | None = None
) -> bytes:
    """A signed follow-up, numbered after the ones made before unless ``sequence`` says."""
    if sequence is None:
        source.followups_sent += 1
        sequence = source.followups_sent
    return seal_followup(
        message,
        files or [],
        reply_secret_key=source.reply_secret,
        office_keys=list(office.card_desks.values()),
        case_id=bytes.fromhex(source.case_id),
        signing_seed=source.signing_seed,
        position=Position(sequence, 0),
    )


def make_reply(  # type: ignore[no-untyped-def]
    office: Office, source: Source, message: str, *, sequence: int = 1, seed: bytes | None = None
) -> bytes:
    """A reply signed with the office key (or ``seed``), as ``outgoing.queue_reply`` seals it."""
    return seal_reply(
        message,
        [],
        reply_public_key=source.reply_public,
        desk_key=office.card_desks["antifraud"],
        case_id=bytes.fromhex(source.case_id),
        office_seed=seed or office.sign_in().keyring.signing_seed,
        position=Position(sequence, 0),
    )


def incoming(
    kind: str, case_id: str, envelope: bytes, record_id: str | None = None
) -> IncomingRecord:
    return IncomingRecord(
        kind=kind,
        record_id=record_id or secrets.token_hex(16),
        case_id=case_id,
        received_day=date(2026, 11, 1),
        envelope=envelope,
    )


def do_import(office: Office, records: list[IncomingRecord]):  # type: ignore[no-untyped-def]
    signed = office.sign_in()
    with office.session() as session:
        return import_records(
            session,
            signed.keyring,
            records,
            store_dir=office.config.store_dir,
            now=office.config.clock(),
        )


# --- desks: officers in chosen desks, and the two-desk, three-officer office ----------------


def add_officer_in(
    office, name: str, desks: list[str], roles: tuple[str, ...] = ("officer",)
) -> SignedIn:  # type: ignore[no-untyped-def]
    """A new officer in ``desks``, added by admin (who holds both desks' keys), signed in."""
    admin = office.sign_in()
    with office.session() as session:
        add_officer(
            session,
            office.config,
            name=name,
            password=PASSWORD,
            roles=roles,
            keyring=admin.keyring,
            custodian_keyring=None,
            by_officer_id=admin.officer_id,
            desks=desks,
        )
    return office.sign_in(name)


def listed_cases(office, signed: SignedIn, query: str = "") -> set[str]:  # type: ignore[no-untyped-def]
    with office.session() as session:
        page = list_cases(
            session,
            signed.keyring,
            CaseFilters(query=query),
            today=date(2026, 11, 2),
            page_size=100,
        )
    return {c.id for c in page.cases}


@pytest.fixture
def two_desks(office):  # type: ignore[no-untyped-def]
    """Two desks, three officers: ana and carles at antifraud, berta at ethics; carles steps
    aside from case A (a conflict). Cases: A and A2 at antifraud, B at ethics."""
    ana = add_officer_in(office, "ana", ["antifraud"])
    berta = add_officer_in(office, "berta", ["ethics"])
    carles = add_officer_in(office, "carles", ["antifraud"])
    a, env_a = make_submission(office, description="pylon contract kickbacks")
    a2, env_a2 = make_submission(office, description="school canteen")
    b, env_b = make_submission(office, desk="ethics", description="harassment in archives")
    do_import(
        office,
        [
            incoming("submission", a.case_id, env_a, "ra"),
            incoming("submission", a2.case_id, env_a2, "ra2"),
            incoming("submission", b.case_id, env_b, "rb"),
        ],
    )
    with office.session() as session:
        compartments.recuse(
            session,
            carles.keyring,
            case_id=a.case_id,
            officer_name="carles",
            by_officer_id=carles.officer_id,
            reason="My brother-in-law runs the contractor.",
            now=office.config.clock(),
        )
    return {"ana": ana, "berta": berta, "carles": carles, "a": a, "a2": a2, "b": b}
