"""The Backup page, the settings, the last backup on every page and the dashboard warning."""

import re
from pathlib import Path

import pytest
from flask.testing import FlaskClient

from whistle.inbox import create_app
from whistle.inbox.backup import read_header

from .conftest import PASSWORD, SECOND, SECOND_PASSWORD, Populated


@pytest.fixture
def client(populated: Populated) -> FlaskClient:
    return create_app(populated.office.config).test_client()


def _csrf(html: str) -> str:
    match = re.search(r'name="csrf" value="([^"]+)"', html)
    assert match
    return match.group(1)


def _login(client: FlaskClient, name: str = "admin", password: str = PASSWORD) -> str:
    client.post("/login", data={"name": name, "password": password})
    return _csrf(client.get("/dashboard").get_data(as_text=True))


def test_backup_page_writes_a_backup_to_a_directory(
    client: FlaskClient, populated: Populated, tmp_path: Path
) -> None:
    token = _login(client)
    dashboard = client.get("/dashboard").get_data(as_text=True)
    assert "Make a backup." in dashboard
    assert "No backup has been made yet." in dashboard
    assert "3 record(s) are in no backup yet" in dashboard
    page = client.get("/backup/")
    assert page.status_code == 200
    assert "Records in no backup yet: 3." in page.get_data(as_text=True)

    usb = tmp_path / "usb"
    usb.mkdir()
    done = client.post("/backup/make", data={"csrf": token, "directory": str(usb)})
    assert done.status_code == 200, done.get_data(as_text=True)
    html = done.get_data(as_text=True)
    assert "Backup written to" in html
    (written,) = usb.glob("*.wbak")
    with written.open("rb") as source:
        assert read_header(source).records == 3
    assert "Last backup: 2026-11-02 09:00 UTC." in html  # the footer, on every page
    dashboard = client.get("/dashboard").get_data(as_text=True)
    assert "Make a backup." not in dashboard
    assert "Last backup: 2026-11-02 09:00 UTC." in client.get("/cases/").get_data(as_text=True)
    # Eight days later the dashboard warns again.
    populated.office.config.clock.advance(days=8)  # type: ignore[attr-defined]
    client.get("/dashboard")  # the idle lock closed the session meanwhile: sign in again
    _login(client)
    assert "more than 7 days old" in client.get("/dashboard").get_data(as_text=True)


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("", "Type the directory"),
        ("usb", "Type the whole path"),
        ("/no/such/place", "There is no directory /no/such/place"),
    ],
)
def test_a_bad_directory_is_named_next_to_its_field(
    client: FlaskClient, typed: str, message: str
) -> None:
    token = _login(client)
    response = client.post("/backup/make", data={"csrf": token, "directory": typed})
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert message in html
    assert 'href="#directory"' in html
    assert 'aria-invalid="true"' in html


def test_settings_choose_acknowledge_on_import(client: FlaskClient) -> None:
    token = _login(client)
    page = client.get("/backup/").get_data(as_text=True)
    assert "Acknowledging on import deletes reports from the server sooner" in page
    saved = client.post(
        "/backup/settings",
        data={"csrf": token, "acknowledge_on_import": "1", "warning_days": "3"},
    )
    assert saved.status_code == 200
    html = saved.get_data(as_text=True)
    assert "The settings were saved." in html
    assert "Acknowledgements held back until a backup: 0." in html
    assert 'id="ack-import" name="acknowledge_on_import" value="1" checked' in html
    bad = client.post(
        "/backup/settings",
        data={"csrf": token, "acknowledge_on_import": "0", "warning_days": "0"},
    )
    assert bad.status_code == 400
    assert 'href="#warning_days"' in bad.get_data(as_text=True)


def test_only_managers_make_backups(client: FlaskClient, tmp_path: Path) -> None:
    token = _login(client, SECOND, SECOND_PASSWORD)
    assert 'href="/backup/"' not in client.get("/dashboard").get_data(as_text=True)
    assert client.get("/backup/").status_code == 403
    refused = client.post("/backup/make", data={"csrf": token, "directory": str(tmp_path)})
    assert refused.status_code == 403
    assert list(tmp_path.glob("*.wbak")) == []


def test_the_page_is_translated(client: FlaskClient) -> None:
    _login(client)
    client.set_cookie("whistle_lang", "ca")
    assert "Fer una còpia de seguretat" in client.get("/backup/").get_data(as_text=True)
    client.set_cookie("whistle_lang", "es")
    assert "Hacer una copia de seguridad" in client.get("/backup/").get_data(as_text=True)
