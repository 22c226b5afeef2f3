"""The officers' desk over HTTP: what the dashboard, the case list and the Backup page say."""

from pathlib import Path

import pytest

from whistle.inbox import media

from .conftest import do_import, incoming, make_followup, make_submission
from .test_web import app, client, csrf, login  # noqa: F401 - fixtures


def test_the_dashboard_shows_a_new_case_and_then_the_sources_message(office, client) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    login(client)
    assert "Nothing is due." in client.get("/dashboard").get_data(as_text=True)
    source, envelope = make_submission(office, subject="Factures <b>dobles</b>")
    do_import(office, [incoming("submission", source.case_id, envelope)])
    board = client.get("/dashboard").get_data(as_text=True)
    assert "Nothing is due." not in board
    assert "2026-0001" in board
    assert "Factures &lt;b&gt;dobles&lt;/b&gt;" in board
    page = client.get(f"/cases/{source.case_id}").get_data(as_text=True)
    assert "Case 2026-0001" in page
    assert "Anti-fraud office" in page  # the desk's name, not its key
    assert "Català" in page  # the reporter's language by name
    office.config.clock.advance(hours=1)
    do_import(office, [incoming("followup", source.case_id, make_followup(office, source, "Més"))])
    login(client)  # the hour locked the inbox
    listed = client.get("/cases?news=1").get_data(as_text=True)
    assert "1 unread message" in listed


def test_search_hits_are_highlighted_and_escaped(office, client) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    source, envelope = make_submission(office, description="Pagat <script>x</script> dues vegades")
    do_import(office, [incoming("submission", source.case_id, envelope)])
    login(client)
    page = client.get("/cases?q=script").get_data(as_text=True)
    assert "&lt;<mark>script</mark>&gt;x&lt;/<mark>script</mark>&gt;" in page
    assert "<script>x" not in page


def test_a_backup_to_a_drive_no_longer_connected_is_refused(  # type: ignore[no-untyped-def]
    office,
    client,  # noqa: F811
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    stick = tmp_path / "media" / "STICK"
    stick.mkdir(parents=True)
    monkeypatch.setattr(media, "mounted_media", lambda: [media.Medium(str(stick), "STICK", True)])
    login(client)
    page = client.get("/backup/").get_data(as_text=True)
    assert "Drive STICK" in page
    token = csrf(page)
    gone = client.post("/backup/make", data={"csrf": token, "target": "/media/someone/OLD"})
    assert gone.status_code == 400
    assert "no longer connected" in gone.get_data(as_text=True)
    made = client.post("/backup/make", data={"csrf": token, "target": str(stick)})
    assert made.status_code == 200
    assert len(list(stick.glob("whistle-backup-*.wbak"))) == 1
    again = client.get("/backup/").get_data(as_text=True)
    assert f"Written to {stick}/whistle-backup-" in again
