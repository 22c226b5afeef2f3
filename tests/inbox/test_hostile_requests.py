"""Attack review (December 2026) findings on the inbox's HTTP edge, each with its fix's test."""

import re

import pytest
from sqlalchemy import select
from werkzeug.http import parse_cookie

from whistle.inbox import create_app, preview
from whistle.inbox.models import AuditEvent
from whistle.inbox.web import COOKIE

from ..redirect_cases import HOSTILE_TARGETS, browser_host
from .conftest import PASSWORD, do_import, incoming, make_submission

BASE = "http://127.0.0.1/"


@pytest.fixture
def app(office):
    return create_app(office.config)


@pytest.fixture
def client(app):
    return app.test_client()


def _location(response) -> str:
    assert response.status_code == 303
    return response.headers["Location"]


@pytest.mark.parametrize("target", HOSTILE_TARGETS)
def test_sign_in_never_redirects_off_site(client, target: str) -> None:
    """Finding 3: ``next=/\\t/evil.com`` answered ``Location: //evil.com``."""
    data = {"name": "admin", "password": PASSWORD, "next": target}
    location = _location(client.post("/login", data=data))
    assert browser_host(location, BASE) == "127.0.0.1"


@pytest.mark.parametrize("target", HOSTILE_TARGETS)
def test_language_choice_never_redirects_off_site(client, target: str) -> None:
    location = _location(client.post("/language", data={"language": "es", "next": target}))
    assert browser_host(location, BASE) == "127.0.0.1"


def test_sign_in_keeps_a_local_next(client) -> None:
    data = {"name": "admin", "password": PASSWORD, "next": "/cases?q=x"}
    assert _location(client.post("/login", data=data)).endswith("/cases?q=x")


def test_sign_in_with_a_stale_cookie_stays_signed_in(client) -> None:
    """Info finding: the new cookie was set, then the stale one deleted in the same response."""
    client.set_cookie(COOKIE, "stale-session-from-before-the-idle-lock", path="/")
    response = client.post("/login", data={"name": "admin", "password": PASSWORD})
    assert response.status_code == 303
    ours = [h for h in response.headers.getlist("Set-Cookie") if h.startswith(COOKIE + "=")]
    assert len(ours) == 1, ours  # a browser applies the last one: never a deletion after it
    value = parse_cookie(ours[0])[COOKIE]
    assert value
    assert value != "stale-session-from-before-the-idle-lock"
    assert client.get("/cases").status_code == 200


def test_a_local_process_cannot_lock_the_officer_out(client) -> None:
    """Finding 8: posts under random names (no Origin) made the real officer wait 15 minutes."""
    for i in range(40):
        response = client.post("/login", data={"name": f"x{i}", "password": "guess guess"})
        assert response.status_code == 401
    response = client.post("/login", data={"name": "admin", "password": PASSWORD})
    assert response.status_code == 303


def _signed_in(client) -> str:  # type: ignore[no-untyped-def]
    client.post("/login", data={"name": "admin", "password": PASSWORD})
    return csrf_from(client.get("/register").get_data(as_text=True))


def csrf_from(html: str) -> str:
    match = re.search(r'name="csrf" value="([^"]+)"', html)
    assert match
    return match.group(1)


def _events(office) -> list[str]:  # type: ignore[no-untyped-def]
    with office.session() as session:
        return list(session.scalars(select(AuditEvent.action).order_by(AuditEvent.id)))


def test_register_export_is_a_post(office, client) -> None:
    """Finding 10: ``<img src=…/register.csv>`` on another local port wrote an audit event."""
    token = _signed_in(client)
    before = _events(office)
    assert client.get("/register.csv").status_code == 405
    assert _events(office) == before
    exported = client.post("/register.csv", data={"csrf": token})
    assert exported.mimetype == "text/csv"
    assert _events(office) == [*before, "register-exported"]


def test_cleaning_is_a_post_and_previews_change_nothing(office, client) -> None:
    source, envelope = make_submission(office, files=[("a.txt", b"hello")])
    do_import(office, [incoming("submission", source.case_id, envelope, "rec")])
    _signed_in(client)
    base = f"/cases/{source.case_id}/records/rec/files/0"
    before = _events(office)
    assert client.get(f"{base}/clean").status_code == 405
    assert client.get(base).status_code == 200
    assert client.get(f"{base}/preview/1.png").status_code in (400, 404)
    assert _events(office) == before


@pytest.mark.parametrize("site", ["same-site", "cross-site"])
@pytest.mark.parametrize(
    "path", ["/register", "/cases", "/login", "/cases/x/records/y/files/0/preview/0.png"]
)
def test_gets_from_another_site_or_local_port_refused(client, site: str, path: str) -> None:
    """Finding 10: another 127.0.0.1 port is same-site, so the Strict cookie went along."""
    _signed_in(client)
    assert client.get(path, headers={"Sec-Fetch-Site": site}).status_code == 403


def test_own_pages_and_typed_addresses_still_load(client) -> None:
    _signed_in(client)
    for site in ("same-origin", "none"):
        assert client.get("/register", headers={"Sec-Fetch-Site": site}).status_code == 200


def test_start_sweeps_what_a_killed_inbox_left(office) -> None:
    dead = office.config.scratch_dir / f"{preview.SCRATCH_PREFIX}999999999-abc"
    dead.mkdir()
    (dead / "copy").write_bytes(b"plaintext of a killed run")
    create_app(office.config)
    assert not dead.exists()
