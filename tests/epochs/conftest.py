"""Both sides (tests/bundles' world) with the server's day under the test's control."""

import datetime
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient

from tests.bundles.conftest import World, make_world
from tests.inbox.conftest import clock, config, office  # noqa: F401  (the inbox's fixtures)
from tests.submit.conftest import csrf_from, multipart
from whistle.crypto import KdfParams
from whistle.inbox import epochs
from whistle.inbox.bundles import export_replies
from whistle.submit import db as submit_db
from whistle.submit.bundles import apply_replies, export_outbox
from whistle.submit.views import common as views

DAY0 = datetime.date(2026, 11, 2)


class Loop:
    """The world, plus the moves a key rotation needs, each on a chosen server day."""

    def __init__(self, world: World, monkeypatch: pytest.MonkeyPatch) -> None:
        self.world = world
        self.day = DAY0
        self.client: FlaskClient = world.client  # one browser: its cookies persist
        monkeypatch.setattr(views, "today", lambda: self.day)

    @property
    def day(self) -> datetime.date:
        return self._day

    @day.setter
    def day(self, value: datetime.date) -> None:
        """The server's day, and the inbox's clock on the same day (its own clock decides
        when old keys may go, inbox/epochs.py)."""
        self._day = value
        inbox_clock: Any = self.world.inbox_config.clock
        inbox_clock.now = inbox_clock.now.replace(year=value.year, month=value.month, day=value.day)

    def server_export(self) -> bytes:
        out = io.BytesIO()
        with self.world.server_state().sessions.begin() as session:
            submit_db.start_export(session)
            export_outbox(session, self.world.server_config, out, today=self.day)
        return out.getvalue()

    def server_import(self, data: bytes) -> Any:
        with self.world.server_state().sessions.begin() as session:
            submit_db.start_write(session)
            return apply_replies(session, self.world.server_config, data, today=self.day)

    def inbox_import(self, data: bytes) -> Any:
        return self.world.inbox_import(data)

    def inbox_export(self) -> bytes:
        out = io.BytesIO()
        with self.world.inbox_session() as session:
            export_replies(session, self.world.keyring, out, now=self.world.inbox_config.clock())
        return out.getvalue()

    def rotate(self, backup: bool = True) -> Any:
        """New keys; then a backup, as the officer guide asks (the new card goes to the
        server only once a backup holds the new keys)."""
        with self.world.inbox_session() as session:
            card = epochs.rotate(session, self.world.keyring, self.world.inbox_config.clock())
        if backup:
            self.world.inbox_backup()
        return card

    def followup(self, code: str, message: str) -> None:
        page = self.client.get("/check-in")
        body, content_type = multipart(
            [
                ("csrf_token", None, csrf_from(page.text).encode()),
                ("code", None, code.encode()),
                ("message", None, message.encode()),
            ]
        )
        response = self.client.post("/follow-up", data=body, content_type=content_type)
        assert response.status_code == 200, response.text


@pytest.fixture
def loop(
    tmp_path: Path,
    insecure_kdf_params: KdfParams,
    db_backend: str,
    request: pytest.FixtureRequest,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[Loop]:
    url = "" if db_backend == "sqlite" else request.getfixturevalue("database_url")
    world = make_world(tmp_path, insecure_kdf_params, database_url=url)
    yield Loop(world, monkeypatch)
    world.app.extensions["whistle_submit"].engine.dispose()
    world.inbox_sessions.kw["bind"].dispose()
