"""`whistle inbox backup` / `restore` on files; the 0004 migration."""

import tempfile
from datetime import datetime
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import inspect, text

from whistle.cli import main
from whistle.inbox import db
from whistle.inbox.config import insecure_password_hash

from .conftest import PASSWORD, SECOND, SECOND_PASSWORD, Populated


@pytest.fixture
def obj(insecure_kdf_params, clock):  # type: ignore[no-untyped-def]
    return {
        "config": {
            "kdf_params": insecure_kdf_params,
            "password_hash": insecure_password_hash(),
            "clock": clock,
        }
    }


def _file(tmp_path: Path, name: str, content: str) -> str:
    path = tmp_path / name
    path.write_text(content + "\n")
    return str(path)


def test_backup_and_restore_commands(populated: Populated, tmp_path: Path, obj) -> None:  # type: ignore[no-untyped-def]
    office = populated.office
    data_dir = str(office.config.data_dir)
    admin = ["--officer", "admin", "--password-file", _file(tmp_path, "pw", PASSWORD)]
    usb = tmp_path / "usb"
    usb.mkdir()
    made = CliRunner().invoke(
        main, ["inbox", "backup", data_dir, "--out", str(usb), *admin], obj=obj
    )
    assert made.exit_code == 0, made.output
    assert "3 record(s)" in made.output
    assert "on the inbox's own disk" in made.output  # tmp_path: the same disk as the inbox
    (backup,) = usb.glob("*.wbak")
    assert (usb / "deletions.wdel").is_file()  # the list of deletions beside it
    assert backup.name.startswith("whistle-backup-20261102-")
    again = CliRunner().invoke(
        main, ["inbox", "backup", data_dir, "--out", str(backup), *admin], obj=obj
    )
    assert again.exit_code == 1
    assert "exists already" in again.output

    fingerprint = office.created.fingerprint
    second = ["--officer", SECOND, "--password-file", _file(tmp_path, "pw2", SECOND_PASSWORD)]
    target = tmp_path / "new-laptop"
    restored = CliRunner().invoke(
        main,
        [
            "inbox",
            "restore",
            str(backup),
            str(target),
            *second,
            "--expect-fingerprint",
            fingerprint,
        ],
        obj=obj,
    )
    assert restored.exit_code == 0, restored.output
    assert f"Office fingerprint: {fingerprint}" in restored.output
    assert "audit log intact" in restored.output
    verified = CliRunner().invoke(main, ["inbox", "verify-audit", str(target)], obj=obj)
    assert verified.exit_code == 0, verified.output
    import sqlite3

    connection = sqlite3.connect(target / "inbox.sqlite")
    last = connection.execute("SELECT action, detail FROM audit_event ORDER BY id DESC").fetchone()
    connection.close()
    assert last[0] == "backup-restored"
    assert last[1].endswith(f"opened by officer {SECOND}")
    listed = CliRunner().invoke(main, ["inbox", "list", str(target), *admin], obj=obj)
    assert listed.exit_code == 0, listed.output
    assert "Invoices inflated" in listed.output
    assert "Bribes" in listed.output

    refused = CliRunner().invoke(
        main, ["inbox", "restore", str(backup), str(target), *second, "--yes"], obj=obj
    )
    assert refused.exit_code == 1
    assert "not empty" in refused.output

    recovery = _file(tmp_path, "recovery", office.created.recovery_key)
    other = tmp_path / "other-laptop"
    by_key = CliRunner().invoke(
        main,
        ["inbox", "restore", str(backup), str(other), "--recovery-key-file", recovery],
        input="y\n",
        obj=obj,
    )
    assert by_key.exit_code == 0, by_key.output
    no = CliRunner().invoke(
        main,
        ["inbox", "restore", str(backup), str(tmp_path / "third"), *second],
        input="n\n",
        obj=obj,
    )
    assert no.exit_code == 1
    assert not (tmp_path / "third").exists()
    wrong = CliRunner().invoke(
        main,
        ["inbox", "restore", str(backup), str(tmp_path / "third"), "--officer", "admin"],
        input="y\nnot the password\n",
        obj=obj,
    )
    assert wrong.exit_code == 1
    assert "Wrong password for admin" in wrong.output
    assert not (tmp_path / "third").exists()


def test_backups_revision_with_data(tmp_path: Path) -> None:
    engine = db.make_engine(tmp_path / "inbox.sqlite")
    db.upgrade(engine, "0003")
    with engine.begin() as connection:
        connection.execute(
            text(
                'INSERT INTO "case" (id, desk_id, status, received_day, last_activity_day,'
                " imported_at) VALUES (:id, 'antifraud', 'new', '2026-11-01', '2026-11-01', :t)"
            ),
            {"id": "ab" * 16, "t": datetime(2026, 11, 1)},
        )
        connection.execute(
            text(
                "INSERT INTO record (id, case_id, kind, received_day, original_hash,"
                " original_size, stored_name, meta, imported_at) VALUES ('r1', :c,"
                " 'submission', '2026-11-01', x'00', 1, 's.wenv', x'00', :t)"
            ),
            {"c": "ab" * 16, "t": datetime(2026, 11, 1)},
        )
    db.upgrade(engine, "0004_backups")
    assert {"backup", "setting"} <= set(inspect(engine).get_table_names())
    with engine.begin() as connection:
        assert connection.execute(text("SELECT backed_up_at FROM record")).scalar() is None
        connection.execute(text("INSERT INTO setting VALUES ('acknowledge_on_import', '1')"))
    db.downgrade(engine, "0003")
    assert not {"backup", "setting"} & set(inspect(engine).get_table_names())
    with engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM record")).scalar() == 1
    db.upgrade(engine)
    db.upgrade(engine)
    engine.dispose()


def test_settings_command(populated: Populated, tmp_path: Path, obj) -> None:  # type: ignore[no-untyped-def]
    data_dir = str(populated.office.config.data_dir)
    admin = ["--officer", "admin", "--password-file", _file(tmp_path, "pw", PASSWORD)]
    shown = CliRunner().invoke(main, ["inbox", "settings", data_dir, *admin], obj=obj)
    assert shown.exit_code == 0, shown.output
    assert "after a backup holds the report (the default)" in shown.output
    assert "Last backup: never; records in no backup yet: 3" in shown.output
    flags = ["--acknowledge-on-import", "--backup-warning-days", "3"]
    changed = CliRunner().invoke(main, ["inbox", "settings", data_dir, *flags, *admin], obj=obj)
    assert changed.exit_code == 0, changed.output
    assert "Acknowledge: on import" in changed.output
    assert "after: 3 day(s)" in changed.output
    second = ["--officer", SECOND, "--password-file", _file(tmp_path, "pw2", SECOND_PASSWORD)]
    refused = CliRunner().invoke(
        main, ["inbox", "settings", data_dir, "--acknowledge-after-backup", *second], obj=obj
    )
    assert refused.exit_code == 1
    assert "Only a system manager" in refused.output


def test_a_backup_on_another_disk_carries_no_warning(
    populated: Populated, tmp_path: Path, obj
) -> None:  # type: ignore[no-untyped-def]
    shm = Path("/dev/shm")
    assert shm.stat().st_dev != tmp_path.stat().st_dev, "needs /dev/shm on its own mount"
    admin = ["--officer", "admin", "--password-file", _file(tmp_path, "pw", PASSWORD)]
    with tempfile.TemporaryDirectory(dir=shm) as usb:
        made = CliRunner().invoke(
            main,
            ["inbox", "backup", str(populated.office.config.data_dir), "--out", usb, *admin],
            obj=obj,
        )
        assert made.exit_code == 0, made.output
        assert "own disk" not in made.output


def test_restore_applies_the_list_beside_the_backup(
    populated: Populated, tmp_path: Path, obj
) -> None:  # type: ignore[no-untyped-def]
    from whistle.inbox import workflow

    office = populated.office
    data_dir = str(office.config.data_dir)
    admin = ["--officer", "admin", "--password-file", _file(tmp_path, "pw", PASSWORD)]
    usb = tmp_path / "usb"
    usb.mkdir()
    first = CliRunner().invoke(
        main, ["inbox", "backup", data_dir, "--out", str(usb), *admin], obj=obj
    )
    assert first.exit_code == 0, first.output
    (old_backup,) = usb.glob("*.wbak")
    gone = populated.case_ids[1]
    signed = office.sign_in()
    with office.session() as session:
        paths = workflow.purge_case(
            session,
            signed.keyring,
            gone,
            confirm=True,
            reason="Outside the law's scope.",
            officer_id=signed.officer_id,
            now=office.config.clock(),
            today=office.config.clock().date(),
            store_dir=office.config.store_dir,
        )
    workflow.remove_files(paths)
    obj["config"]["clock"].advance(minutes=1)  # a second backup, another file name
    second = CliRunner().invoke(
        main, ["inbox", "backup", data_dir, "--out", str(usb), *admin], obj=obj
    )
    assert second.exit_code == 0, second.output
    target = tmp_path / "restored"
    restored = CliRunner().invoke(
        main, ["inbox", "restore", str(old_backup), str(target), *admin, "--yes"], obj=obj
    )
    assert restored.exit_code == 0, restored.output
    assert "1 deletion(s) made after the backup made again" in restored.output
    listed = CliRunner().invoke(main, ["inbox", "list", str(target), *admin], obj=obj)
    assert "Bribes" not in listed.output  # the deleted case stays deleted
    assert "Invoices inflated" in listed.output
