"""Fixtures for the submission site: an office, a data directory, an app, a client."""

import base64
import dataclasses
import datetime
import io
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.deploy.gunicorn_server import GUNICORN_CONF
from whistle.bundling import BundleSummary
from whistle.crypto import (
    BoxKeyPair,
    Desk,
    generate_box_keypair,
    generate_signing_keypair,
    make_office_card,
    read_card,
)
from whistle.crypto.bundles import write_bundle
from whistle.crypto.case_keys import CaseKeyAnnouncement, sign_case_key
from whistle.crypto.conversation import Position
from whistle.crypto.records import seal_reply
from whistle.submit import create_app, load_config
from whistle.submit import db as submit_db
from whistle.submit.bundles import apply_replies
from whistle.submit.config import SubmitConfig
from whistle.submit.datadir import init_data_directory
from whistle.submit.store import add_reply

TODAY = datetime.date(2026, 11, 27)


@dataclass
class Office:
    card: bytes
    fingerprint: str
    desks: dict[str, BoxKeyPair]
    custodian: BoxKeyPair
    signing_seed: bytes
    #: The card's bundle key pair: what opens the server's outbox bundles.
    bundle: BoxKeyPair | None = None


def make_office(desk_ids: tuple[str, ...] = ("antifrau",)) -> Office:
    signing = generate_signing_keypair()
    desks = {d: generate_box_keypair() for d in desk_ids}
    custodian = generate_box_keypair()
    bundle = generate_box_keypair()
    card = make_office_card(
        signing.seed,
        name="Oficina de Transparència i Bones Pràctiques",
        bundle_key=bundle.public_key,
        desks=[Desk(d, f"Desk {d}", k.public_key) for d, k in desks.items()],
        custodian_key=custodian.public_key,
        epoch=1,
        created=TODAY.isoformat(),
    )
    from whistle.crypto import read_card

    return Office(card, read_card(card).fingerprint, desks, custodian, signing.seed, bundle)


@pytest.fixture
def office() -> Office:
    return make_office()


@pytest.fixture
def data_dir(
    tmp_path: Path, office: Office, db_backend: str, request: pytest.FixtureRequest
) -> Path:
    """A data directory on the backend under test (SQLite: the default, in the directory)."""
    url = "" if db_backend == "sqlite" else request.getfixturevalue("database_url")
    directory = tmp_path / "data"
    init_data_directory(
        directory, office.card, fingerprint=office.fingerprint, language="ca", database_url=url
    )
    return directory


@pytest.fixture
def config(data_dir: Path) -> SubmitConfig:
    # As in the inbox's tests: an unexpected error is raised in the test, not a 500 page.
    return dataclasses.replace(load_config(data_dir), testing=True)


@pytest.fixture
def app(config: SubmitConfig) -> Iterator[Flask]:
    application = create_app(config)
    yield application
    application.extensions["whistle_submit"].engine.dispose()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
CODE = re.compile(r'id="code">([^<]+)<')


def csrf_from(html: str) -> str:
    match = CSRF.search(html)
    assert match, "no CSRF token on the page"
    return match.group(1)


def report_fields(
    csrf: str,
    *,
    subject: str = "Contractes partits",
    description: str = "Un contracte s'ha partit en tres per evitar el concurs.",
    files: list[tuple[bytes, str]] | None = None,
    identification: dict[str, str] | None = None,
    accept: bool = True,
    choices: dict[str, str] | None = None,
) -> dict[str, object]:
    """The report form; ``identified`` follows the identification unless ``choices`` says."""
    data: dict[str, object] = {
        "csrf_token": csrf,
        "q_subject": subject,
        "q_description": description,
        "identified": "identified" if any((identification or {}).values()) else "anonymous",
        **(choices or {}),
    }
    if accept:
        data["accept"] = "yes"
    for key, value in (identification or {}).items():
        data[f"q_{key}"] = value
    data["files"] = [(io.BytesIO(content), name) for content, name in (files or [])]
    return data


def submit_report(client: FlaskClient, url: str = "/report", **kwargs: object) -> str:
    """Send a report as a browser would; returns the code from the receipt."""
    page = client.get(url)
    assert page.status_code == 200
    response = client.post(
        url,
        data=report_fields(csrf_from(page.text), **kwargs),  # type: ignore[arg-type]
        content_type="multipart/form-data",
    )
    assert response.status_code == 200, response.text
    match = CODE.search(response.text)
    assert match, "no code on the receipt"
    return match.group(1)


def check_in(client: FlaskClient, code: str) -> tuple[int, str]:
    page = client.get("/check-in")
    response = client.post("/check-in", data={"csrf_token": csrf_from(page.text), "code": code})
    return response.status_code, response.text


def insert_reply(
    app: Flask,
    code: str,
    office: Office,
    message: str,
    desk: str = "antifrau",
    *,
    sequence: int = 1,
    seed: bytes | None = None,
) -> None:
    """What a bundle import will do: store an office reply sealed to the source's reply key,
    signed with the office key (or ``seed``: someone else's) and numbered ``sequence``."""
    from whistle.crypto import derive_source_keys, login_lookup
    from whistle.submit import store

    state = app.extensions["whistle_submit"]
    keys = derive_source_keys(code, state.config.install_salt)
    with state.sessions.begin() as session:
        case_id = store.find_case(session, login_lookup(keys.login_token, state.config.pepper))
        assert case_id is not None
        envelope = seal_reply(
            message,
            [],
            reply_public_key=keys.reply_public_key,
            desk_key=office.desks[desk].public_key,
            case_id=case_id,
            office_seed=seed or office.signing_seed,
            position=Position(sequence, 0),
        )
        add_reply(session, case_id=case_id, envelope=io.BytesIO(envelope), today=TODAY)


BOUNDARY = "----whistle-test-boundary"


def multipart(parts: list[tuple[str, str | None, bytes]]) -> tuple[bytes, str]:
    """A multipart body in exactly the order given (browsers send document order)."""
    body = bytearray()
    for name, filename, content in parts:
        body += f"--{BOUNDARY}\r\n".encode()
        disposition = f'form-data; name="{name}"'
        if filename is not None:
            disposition += f'; filename="{filename}"'
        body += f"Content-Disposition: {disposition}\r\n".encode()
        if filename is not None:
            body += b"Content-Type: application/octet-stream\r\n"
        body += b"\r\n" + content + b"\r\n"
    body += f"--{BOUNDARY}--\r\n".encode()
    return bytes(body), f"multipart/form-data; boundary={BOUNDARY}"


def browser_report(
    csrf: str,
    *,
    subject: str = "Subvencions",
    description: str = "Una subvenció a una empresa del cunyat del regidor.",
    files: list[tuple[str, bytes]] | None = None,
    identification: dict[str, str] | None = None,
    accept: bool = True,
    identified: str | None = None,
    category: str = "",
    meeting: bool = False,
    availability: str = "",
) -> tuple[bytes, str]:
    """The report form's body in the order a browser sends it: files before identification.

    ``identified`` defaults to what the identification implies."""
    parts: list[tuple[str, str | None, bytes]] = [
        ("csrf_token", None, csrf.encode()),
        ("q_subject", None, subject.encode()),
        ("q_description", None, description.encode()),
        ("category", None, category.encode()),
    ]
    for name, content in files or [("", b"")]:
        parts.append(("files", name, content))
    if identified is None:
        identified = "identified" if any((identification or {}).values()) else "anonymous"
    parts.append(("identified", None, identified.encode()))
    for key in ("name", "id_number", "email", "phone"):
        parts.append((f"q_{key}", None, (identification or {}).get(key, "").encode()))
    if meeting:
        parts.append(("meeting", None, b"yes"))
    parts.append(("availability", None, availability.encode()))
    if accept:
        parts.append(("accept", None, b"yes"))
    return multipart(parts)


def counts(app: Flask) -> tuple[int, int, int]:
    """Rows in records, chunks and logins."""
    from sqlalchemy import func, select

    from whistle.submit.models import Chunk, Login, Record

    state = app.extensions["whistle_submit"]
    with state.sessions() as session:
        return tuple(  # type: ignore[return-value]
            session.scalar(select(func.count()).select_from(model))
            for model in (Record, Chunk, Login)
        )


@pytest.fixture(autouse=True, scope="session")
def _compiled_translations() -> None:
    """The catalogues are compiled by `make build`; say so plainly when they are not."""
    import whistle.submit

    root = Path(whistle.submit.__file__).parent / "translations"
    for po in root.glob("*/LC_MESSAGES/messages.po"):
        mo = po.with_suffix(".mo")
        if not mo.exists() or mo.stat().st_mtime < po.stat().st_mtime:
            pytest.fail(f"{mo} is missing or older than its .po: run `make build`")


@pytest.fixture
def served(data_dir: Path) -> Iterator[tuple[int, subprocess.Popen[str]]]:
    config = data_dir / "config.toml"
    config.write_text(
        config.read_text().replace("max_upload_bytes = 104857600", "max_upload_bytes = 100000")
    )
    process = subprocess.Popen(
        [
            str(Path(sys.executable).with_name("gunicorn")),
            "--config",
            str(GUNICORN_CONF),
            "--log-level",
            "info",  # for the "Listening at" line that names the port
            "--bind",
            "127.0.0.1:0",
            "--workers",
            "2",
            "--no-control-socket",
            f'whistle.submit:app_from_directory("{data_dir}")',
        ],
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stderr is not None
    port = 0
    for line in process.stderr:
        found = re.search(r"Listening at: http://127\.0\.0\.1:(\d+)", line)
        if found:
            port = int(found.group(1))
            break
    assert port, "gunicorn did not start"
    yield port, process
    process.terminate()
    process.wait(timeout=30)


class Replies:
    """The office's side of the loop, as far as the server sees it: signed replies bundles,
    numbered and chained, each carrying what the test puts in its ``extra``."""

    def __init__(self, app: Flask, office: Office, data_dir: Path) -> None:
        self.app, self.office = app, office
        self.bundle_key = read_card((data_dir / "server-card.json").read_bytes()).bundle_key
        self.sequence, self.previous = 0, None

    @property
    def config(self) -> SubmitConfig:
        return self.app.extensions["whistle_submit"].config

    def bundle(self, extra: dict[str, object]) -> bytes:
        out = io.BytesIO()
        verified = write_bundle(
            out,
            records=[],
            signing_seed=self.office.signing_seed,
            recipient_bundle_key=self.bundle_key,
            install_id=self.config.install_id,
            direction="replies",
            sequence=self.sequence + 1,
            previous=self.previous,
            created=TODAY.isoformat(),
            extra=extra,
        )
        self.sequence, self.previous = self.sequence + 1, verified.bundle_id
        return out.getvalue()

    def apply(self, extra: dict[str, object]) -> BundleSummary:
        data = self.bundle(extra)
        with self.app.extensions["whistle_submit"].sessions.begin() as session:
            submit_db.start_write(session)
            return apply_replies(session, self.config, data, today=TODAY)


def announcement(
    office: Office, case_id: bytes, generation: int, key: BoxKeyPair | None = None
) -> tuple[str, BoxKeyPair]:
    """A signed announcement in base64 (as ``extra.case_keys`` carries it) and its key pair."""
    key = key or generate_box_keypair()
    blob = sign_case_key(
        office.signing_seed, CaseKeyAnnouncement(case_id, generation, key.public_key)
    )
    return base64.b64encode(blob).decode("ascii"), key


def plain_followup(client: FlaskClient, code: str, message: str):  # type: ignore[no-untyped-def]
    """A follow-up with JavaScript off: the conversation page's form, posted."""
    _status, page = check_in(client, code)
    body, content_type = multipart(
        [
            ("csrf_token", None, csrf_from(page).encode()),
            ("code", None, code.encode()),
            ("message", None, message.encode()),
        ]
    )
    return client.post("/follow-up", data=body, content_type=content_type)
