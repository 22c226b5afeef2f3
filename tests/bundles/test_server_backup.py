"""A server backup, restored on a fresh machine: sources' codes still work, and submissions
that were waiting for collection still export and decrypt in the inbox.

The backup is what docs/deployment.md ("Backing up the server") says to keep: a consistent
copy of the database (SQLite's online backup API, or pg_dump), the secret files, the
configuration and the two cards. Nothing in it opens a report.
"""

import re
import shutil
import sqlite3
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select
from sqlalchemy.engine import make_url

from tests.pgcluster import Cluster, _bin
from tests.submit.conftest import check_in, submit_report
from whistle.bundling import StaleBundleError
from whistle.cli import main
from whistle.inbox.cases import case_detail
from whistle.inbox.models import Case
from whistle.inbox.outgoing import queue_reply
from whistle.submit import create_app, load_config
from whistle.submit.config import (
    CONFIG_FILE,
    DATABASE_FILE,
    OFFICE_CARD_FILE,
    SECRET_FILES,
    SERVER_CARD_FILE,
)

from .conftest import World

#: Everything of the data directory a backup keeps besides the database.
BACKED_UP = (*SECRET_FILES, CONFIG_FILE, OFFICE_CARD_FILE, SERVER_CARD_FILE)


def _conninfo(cluster: Cluster, url: str) -> str:
    return cluster.admin_conninfo.replace("dbname=postgres", f"dbname={make_url(url).database}")


def back_up(world: World, backup: Path, request: pytest.FixtureRequest) -> None:
    backup.mkdir(mode=0o700)
    for name in BACKED_UP:
        shutil.copy2(world.server_dir / name, backup / name)  # modes kept: 0600 secrets
    url = world.server_config.database_url
    if url.startswith("sqlite"):
        # The online backup API: a consistent copy while the server runs (WAL included).
        source = sqlite3.connect(make_url(url).database)
        target = sqlite3.connect(backup / DATABASE_FILE)
        try:
            source.backup(target)
        finally:
            source.close()
            target.close()
    else:
        cluster: Cluster = request.getfixturevalue("postgres_cluster")
        subprocess.run(
            [
                _bin("pg_dump"),
                "--format=custom",
                "--file",
                str(backup / "submit.dump"),
                _conninfo(cluster, url),
            ],
            check=True,
            capture_output=True,
        )


def restore(backup: Path, target: Path, request: pytest.FixtureRequest, backend: str) -> None:
    target.mkdir(mode=0o700)
    for name in BACKED_UP:
        shutil.copy2(backup / name, target / name)
    if backend == "sqlite":
        shutil.copy2(backup / DATABASE_FILE, target / DATABASE_FILE)
        return
    cluster: Cluster = request.getfixturevalue("postgres_cluster")
    fresh = cluster.new_database()  # the new machine's database
    subprocess.run(
        [
            _bin("pg_restore"),
            "--no-owner",
            "--dbname",
            _conninfo(cluster, fresh),
            str(backup / "submit.dump"),
        ],
        check=True,
        capture_output=True,
    )
    config = target / CONFIG_FILE
    text = re.sub(r"(?m)^database_url = .*$", f'database_url = "{fresh}"', config.read_text())
    config.write_text(text)


def test_restored_server_still_exports_and_the_inbox_decrypts(
    world: World, tmp_path: Path, db_backend: str, request: pytest.FixtureRequest
) -> None:
    client = world.client
    client.get("/language/en")
    codes = [
        submit_report(client, subject="Overbilling", files=[(b"invoice 17", "invoice.txt")]),
        submit_report(client, subject="Rigged tender"),
    ]
    backup = tmp_path / "backup"
    back_up(world, backup, request)
    assert not (backup / "office-keys").exists()

    # The server is lost: its directory goes (the inbox keeps only its pinned card).
    world.app.extensions["whistle_submit"].engine.dispose()
    shutil.rmtree(world.server_dir)
    restored = tmp_path / "restored"
    restore(backup, restored, request, db_backend)

    config = load_config(restored)  # the start-up checks: keys, modes, pinned office card
    app = create_app(config)
    try:
        source = app.test_client()
        source.get("/language/en")
        status, page = check_in(source, codes[0])
        assert status == 200
        assert "Overbilling" in page
        outbox = tmp_path / "outbox.bundle"
        result = CliRunner().invoke(main, ["server", "export", str(restored), "--out", str(outbox)])
        assert result.exit_code == 0, result.output
        assert "submissions: 2" in result.output
    finally:
        app.extensions["whistle_submit"].engine.dispose()

    summary = world.inbox_import(outbox.read_bytes())
    assert not summary.already_applied
    with world.inbox_session() as session:
        subjects = set()
        for case_id in session.scalars(select(Case.id)):
            view = case_detail(session, world.keyring, case_id, today=world.inbox_config.today())
            subjects.add(view.entries[0].form[0]["value"])
            if view.entries[0].files:
                assert view.entries[0].files[0]["name"] == "invoice.txt"
    assert subjects == {"Overbilling", "Rigged tender"}


def test_restore_of_an_older_backup_numbers_its_bundles_after_the_office(
    world: World, tmp_path: Path, db_backend: str, request: pytest.FixtureRequest
) -> None:
    """The backup is older than the last collection: its database remembers bundle no. 1,
    the inbox applied no. 2. The restored server's next bundle would be no. 2 again, with
    other content, and is refused; `--after 2` numbers it 3."""
    client = world.client
    client.get("/language/en")
    submit_report(client, subject="Before the backup")
    world.inbox_import(world.server_export())
    backup = tmp_path / "backup"
    back_up(world, backup, request)
    submit_report(client, subject="After the backup")
    world.inbox_import(world.server_export())  # bundle no. 2, applied in the inbox

    world.app.extensions["whistle_submit"].engine.dispose()
    shutil.rmtree(world.server_dir)
    restored = tmp_path / "restored"
    restore(backup, restored, request, db_backend)
    runner = CliRunner()
    stale = tmp_path / "stale.bundle"
    assert (
        runner.invoke(main, ["server", "export", str(restored), "--out", str(stale)]).exit_code == 0
    )
    with pytest.raises(StaleBundleError):
        world.inbox_import(stale.read_bytes())
    fresh = tmp_path / "fresh.bundle"
    result = runner.invoke(
        main, ["server", "export", str(restored), "--out", str(fresh), "--after", "2"]
    )
    assert result.exit_code == 0, result.output
    assert "bundle no. 3" in result.output
    summary = world.inbox_import(fresh.read_bytes())
    assert summary.counts["already here"] == 1
    with world.inbox_session() as session:
        assert len(list(session.scalars(select(Case.id)))) == 2


def test_replies_the_restored_server_forgot_are_sent_again(
    world: World, tmp_path: Path, db_backend: str, request: pytest.FixtureRequest
) -> None:
    """A reply applied after the server's backup is lost with the server. The restored
    server's next outbox says it applied fewer replies bundles than the inbox had seen
    confirmed; the inbox sends that reply again and the source reads it."""
    world.acknowledge_on_import()
    client = world.client
    client.get("/language/en")
    code = submit_report(client, subject="Before the backup")
    world.inbox_import(world.server_export())
    backup = tmp_path / "backup"
    back_up(world, backup, request)
    with world.inbox_session() as session:
        queue_reply(
            session,
            world.keyring,
            case_id=session.scalar(select(Case.id)),
            message="Your report is being investigated.",
            files=[],
            now=world.inbox_config.clock(),
            store_dir=world.inbox_config.store_dir,
        )
    assert world.server_import(world.inbox_export()).counts["replies stored"] == 1
    confirmed = world.inbox_import(world.server_export())
    assert confirmed.counts["replies the server confirmed"] == 1

    world.app.extensions["whistle_submit"].engine.dispose()
    shutil.rmtree(world.server_dir)
    restored = tmp_path / "restored"
    restore(backup, restored, request, db_backend)
    runner = CliRunner()
    outbox = tmp_path / "outbox.bundle"
    result = runner.invoke(
        main, ["server", "export", str(restored), "--out", str(outbox), "--after", "2"]
    )
    assert result.exit_code == 0, result.output
    summary = world.inbox_import(outbox.read_bytes())
    assert any("they go again with the next replies bundle" in note for note in summary.notes)

    replies = tmp_path / "replies.bundle"
    replies.write_bytes(world.inbox_export())
    applied = runner.invoke(main, ["server", "import", str(restored), str(replies)])
    assert applied.exit_code == 0, applied.output
    assert "replies stored: 1" in applied.output
    app = create_app(load_config(restored))
    try:
        source = app.test_client()
        source.get("/language/en")
        status, page = check_in(source, code)
        assert status == 200
        assert "Your report is being investigated." in page
    finally:
        app.extensions["whistle_submit"].engine.dispose()
