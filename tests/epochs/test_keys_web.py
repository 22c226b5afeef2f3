"""The inbox's Keys page: status, rotation (managers only), the reminder on the dashboard."""

import datetime
import re

from flask.testing import FlaskClient
from sqlalchemy import select

from tests.inbox.conftest import PASSWORD, Clock, Office
from whistle.inbox import create_app, epochs
from whistle.inbox.models import AuditEvent
from whistle.inbox.officers import add_officer


def _client(office: Office, name: str = "admin") -> FlaskClient:
    client = create_app(office.config).test_client()
    response = client.post("/login", data={"name": name, "password": PASSWORD})
    assert response.status_code == 303
    return client


def _csrf(html: str) -> str:
    match = re.search(r'name="csrf" value="([^"]+)"', html)
    assert match
    return match.group(1)


def test_a_manager_rotates_from_the_keys_page(office: Office) -> None:
    client = _client(office)
    page = client.get("/keys/")
    assert page.status_code == 200
    assert "Make new keys" in page.text
    refused = client.post("/keys/rotate", data={"csrf": _csrf(page.text)})
    assert refused.status_code == 400
    assert 'href="#confirm"' in refused.text
    done = client.post("/keys/rotate", data={"csrf": _csrf(page.text), "confirm": "yes"})
    assert done.status_code == 200
    assert "New keys made: epoch 2" in done.text
    assert "kept until everything sent to them is collected" in done.text
    with office.session() as session:
        assert epochs.current_epoch(session) == 2
        actions = [e.action for e in session.scalars(select(AuditEvent))]
    assert "keys-rotated" in actions


def test_an_officer_sees_the_keys_but_cannot_rotate(office: Office) -> None:
    signed = office.sign_in()
    with office.session() as session:
        add_officer(
            session,
            office.config,
            name="clerk",
            password=PASSWORD,
            roles=("officer",),
            keyring=signed.keyring,
            custodian_keyring=None,
        )
    client = _client(office, "clerk")
    page = client.get("/keys/")
    assert "Only a system manager can change the office" in page.text
    assert "Make new keys" not in page.text
    response = client.post("/keys/rotate", data={"csrf": _csrf(page.text), "confirm": "yes"})
    assert response.status_code == 403
    with office.session() as session:
        assert epochs.current_epoch(session) == 1


def test_the_reminder_shows_on_the_dashboard_when_due(office: Office, clock: Clock) -> None:
    client = _client(office)
    page = client.get("/keys/")
    bad = client.post("/keys/reminder", data={"csrf": _csrf(page.text), "days": "0"})
    assert bad.status_code == 400
    assert (
        client.post("/keys/reminder", data={"csrf": _csrf(page.text), "days": "30"}).status_code
        == 200
    )
    assert "Key rotation due" not in client.get("/dashboard").text
    clock.advance(days=31)
    client = _client(office)  # signed in again after the idle lock
    dashboard = client.get("/dashboard").text
    due = (clock() - datetime.timedelta(days=1)).date().isoformat()
    assert f"Key rotation due since {due}." in dashboard
