"""Both sides in one tmp_path: an inbox office and a submission server that trust each other."""

import datetime
import io
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.inbox.conftest import PASSWORD, Clock
from whistle.crypto import KdfParams, read_card
from whistle.crypto.bundles import write_bundle
from whistle.inbox import db as inbox_db
from whistle.inbox.bundles import export_replies, import_outbox
from whistle.inbox.config import InboxConfig, ThrottleLimits, insecure_password_hash
from whistle.inbox.keyring import OfficeKeyring
from whistle.inbox.office_setup import init_office, pin_server
from whistle.submit import create_app, load_config
from whistle.submit import db as submit_db
from whistle.submit.bundles import apply_replies, export_outbox
from whistle.submit.config import SubmitConfig
from whistle.submit.datadir import init_data_directory

TODAY = datetime.date(2026, 11, 2)


@dataclass
class World:
    tmp: Path
    inbox_config: InboxConfig
    server_dir: Path
    server_config: SubmitConfig
    app: Flask
    inbox_sessions: Any
    keyring: OfficeKeyring
    recovery_key: str = ""

    @property
    def client(self) -> FlaskClient:
        return self.app.test_client()

    def inbox_session(self):  # type: ignore[no-untyped-def]
        return inbox_db.transaction(self.inbox_sessions)

    def server_state(self):  # type: ignore[no-untyped-def]
        return self.app.extensions["whistle_submit"]

    # The four moves of the loop ------------------------------------------------------

    def server_export(self) -> bytes:
        out = io.BytesIO()
        with self.server_state().sessions.begin() as session:
            submit_db.start_export(session)
            export_outbox(session, self.server_config, out, today=TODAY)
        return out.getvalue()

    def inbox_import(self, data: bytes):  # type: ignore[no-untyped-def]
        with self.inbox_session() as session:
            return import_outbox(
                session,
                self.keyring,
                data,
                store_dir=self.inbox_config.store_dir,
                now=self.inbox_config.clock(),
            )

    def inbox_export(self) -> bytes:
        out = io.BytesIO()
        with self.inbox_session() as session:
            export_replies(session, self.keyring, out, now=self.inbox_config.clock())
        return out.getvalue()

    def server_import(self, data: bytes):  # type: ignore[no-untyped-def]
        with self.server_state().sessions.begin() as session:
            submit_db.start_write(session)
            return apply_replies(session, self.server_config, data, today=TODAY)

    # Backups and the acknowledgement gate --------------------------------------------

    def inbox_backup(self) -> Path:
        """A backup of the inbox: the acknowledgements for what it holds may then leave."""
        from whistle.inbox.backup import default_file_name, make_backup

        folder = self.tmp / "backups"
        folder.mkdir(exist_ok=True)
        now = self.inbox_config.clock()
        # The test clock stands still: number the files so a second backup gets its own.
        out = folder / f"{len(list(folder.iterdir()))}-{default_file_name(now)}"
        make_backup(
            self.inbox_sessions,
            self.inbox_config.database_path,
            self.inbox_config.store_dir,
            self.keyring,
            out,
            now=now,
        )
        return out

    def acknowledge_on_import(self) -> None:
        from whistle.inbox.settings import set_acknowledge_on_import

        with self.inbox_session() as session:
            set_acknowledge_on_import(session, True, officer_id=None, now=self.inbox_config.clock())

    # State of both databases, for "nothing changed" ---------------------------------

    def snapshot(self) -> dict[str, Any]:
        return {
            "inbox": dump_sqlite(self.inbox_config.database_path),
            "server": dump_database(self.server_config.database_url),
        }


def dump_sqlite(path: Path) -> dict[str, list[tuple[Any, ...]]]:
    connection = sqlite3.connect(path)
    try:
        tables = [
            r[0]
            for r in connection.execute("SELECT name FROM sqlite_master WHERE type='table'")
            if r[0] != "alembic_version"
        ]
        return {
            t: sorted(connection.execute(f'SELECT * FROM "{t}"').fetchall(), key=repr)  # noqa: S608
            for t in tables
        }
    finally:
        connection.close()


def dump_database(url: str) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table (SQLite or PostgreSQL), for "nothing changed"."""
    from sqlalchemy import MetaData, create_engine, select

    engine = create_engine(url)
    try:
        metadata = MetaData()
        metadata.reflect(engine)
        with engine.connect() as connection:
            return {
                name: sorted((tuple(r) for r in connection.execute(select(table))), key=repr)
                for name, table in metadata.tables.items()
                if name != "alembic_version"
            }
    finally:
        engine.dispose()


def make_world(
    tmp_path: Path,
    kdf: KdfParams,
    clock: Clock | None = None,
    database_url: str = "",
    desks: list[tuple[str, str]] | None = None,
) -> World:
    scratch = tmp_path / "scratch"
    scratch.mkdir(exist_ok=True)
    inbox_config = InboxConfig(
        data_dir=tmp_path / "office",
        kdf_params=kdf,
        password_hash=insecure_password_hash(),
        throttle=ThrottleLimits(per_account=50, window_seconds=900),
        default_language="en",
        clock=clock or Clock(),
        scratch_dir=scratch,
        testing=True,
    )
    created = init_office(
        inbox_config,
        time_zone=inbox_config.time_zone,
        name="Oficina Antifrau",
        desks=desks or [("antifraud", "Anti-fraud office")],
        officer_name="admin",
        password=PASSWORD,
    )
    server_dir = tmp_path / "server"
    init_data_directory(
        server_dir,
        created.card,
        fingerprint=created.fingerprint,
        language="en",
        database_url=database_url,
    )
    engine = inbox_db.make_engine(inbox_config.database_path)
    sessions = inbox_db.session_factory(engine)
    with inbox_db.transaction(sessions) as session:
        pin_server(session, inbox_config, (server_dir / "server-card.json").read_bytes())
    from whistle.inbox.officers import sign_in

    with inbox_db.transaction(sessions) as session:
        keyring = sign_in(session, inbox_config, "admin", PASSWORD).keyring
    server_config = load_config(server_dir)
    app = create_app(server_config)
    return World(
        tmp_path,
        inbox_config,
        server_dir,
        server_config,
        app,
        sessions,
        keyring,
        created.recovery_key,
    )


@pytest.fixture
def world(
    tmp_path: Path, insecure_kdf_params: KdfParams, db_backend: str, request: pytest.FixtureRequest
) -> Iterator[World]:
    """Both sides; the server on the backend under test (SQLite in its directory, or a
    PostgreSQL database of the test's own)."""
    url = "" if db_backend == "sqlite" else request.getfixturevalue("database_url")
    w = make_world(tmp_path, insecure_kdf_params, database_url=url)
    yield w
    w.app.extensions["whistle_submit"].engine.dispose()
    w.inbox_sessions.kw["bind"].dispose()


def signed_outbox(world: World, sequence: int, previous: str | None, extra: dict) -> bytes:  # type: ignore[type-arg]
    """An outbox bundle with no records signed by the server's key, with any ``previous``."""
    office = read_card((world.server_dir / "office-card.json").read_bytes())
    out = io.BytesIO()
    write_bundle(
        out,
        records=[],
        signing_seed=world.server_config.signing_seed,
        recipient_bundle_key=office.bundle_key,
        install_id=world.server_config.install_id,
        direction="outbox",
        sequence=sequence,
        previous=previous,
        created="2026-11-02",
        extra=extra,
    )
    return out.getvalue()


@pytest.fixture
def two_desks(tmp_path: Path, insecure_kdf_params: KdfParams) -> Iterator[World]:
    """Both sides, an office of two desks (admin in both), the server on SQLite."""
    w = make_world(
        tmp_path,
        insecure_kdf_params,
        desks=[("antifraud", "Anti-fraud office"), ("ethics", "Ethics desk")],
    )
    yield w
    w.app.extensions["whistle_submit"].engine.dispose()
    w.inbox_sessions.kw["bind"].dispose()
