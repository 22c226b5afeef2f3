"""Backup → wipe → restore gives back the same inbox; a bad backup is refused, nothing written."""

import shutil
from pathlib import Path

import pytest

from whistle.inbox import db
from whistle.inbox.backup import (
    BackupFormatError,
    BackupOfficeMismatchError,
    BackupTamperedError,
    BackupTruncatedError,
    BackupUnknownOfficerError,
    BackupWrongPasswordError,
    BackupWrongRecoveryKeyError,
    RestoreTargetError,
    backup_status,
    make_backup,
    read_header,
    restore_backup,
    unlock_with_password,
    unlock_with_recovery_key,
)
from whistle.inbox.keyring import OfficeKeyring
from whistle.inbox.models import Backup, CaseKey, Record

from .conftest import (
    PASSWORD,
    SECOND,
    SECOND_PASSWORD,
    Office,
    Populated,
    decrypted_state,
    table_rows,
    tree,
)


def _backup(office: Office, out: Path) -> Path:
    signed = office.sign_in()
    config = office.config
    make_backup(
        office.session_factory,  # type: ignore[arg-type]
        config.database_path,
        config.store_dir,
        signed.keyring,
        out,
        now=config.clock(),
        officer_id=signed.officer_id,
    )
    return out


def _restore(backup: Path, target: Path, keyring_from, **kwargs):  # type: ignore[no-untyped-def]
    with backup.open("rb") as source:
        info = read_header(source)
        keyring = keyring_from(info)
        return restore_backup(source, info, keyring, target, now=_now(), **kwargs)


def _now():  # type: ignore[no-untyped-def]
    from datetime import UTC, datetime

    return datetime(2026, 11, 3, 10, 0, tzinfo=UTC)


def _admin(info):  # type: ignore[no-untyped-def]
    return unlock_with_password(info, "admin", PASSWORD)


def _reopen(office: Office) -> Office:
    """The same office object, its engine pointing at the (restored) database again."""
    office.session_factory = db.session_factory(db.make_engine(office.config.database_path))
    return office


def test_backup_wipe_restore_gives_back_the_same_inbox(
    populated: Populated, tmp_path: Path
) -> None:
    office = populated.office
    keyring = office.sign_in().keyring
    before = decrypted_state(office, keyring)
    rows_before = table_rows(office.config.database_path)
    files_before = tree(office.config.store_dir)
    backup = _backup(office, tmp_path / "inbox.wbak")
    after_backup = decrypted_state(office, keyring)
    assert after_backup["audit"][: len(before["audit"])] == before["audit"]
    assert after_backup["audit"][-1][3] == "backup-made"

    office.session_factory.kw["bind"].dispose()  # type: ignore[attr-defined]
    shutil.rmtree(office.config.data_dir)
    restored = _restore(backup, office.config.data_dir, _admin)
    assert restored.records == 3  # two submissions and a follow-up
    _reopen(office)

    after = decrypted_state(office, keyring)
    # The chain as backed up (everything up to the "backup-made" entry, written after the
    # snapshot), then the restore's own entry.
    assert after_backup["audit"][-1][3] == "backup-made"
    assert after["audit"][:-1] == after_backup["audit"][:-1]
    assert after["audit"][-1][3] == "backup-restored"
    after.pop("audit"), before.pop("audit")
    assert after == before
    office.sign_in()  # every officer's password still opens the keys
    assert tree(office.config.store_dir) == files_before
    rows_after = table_rows(office.config.database_path)
    for table in ("office", "officer", "case", "note", "reply", "outgoing", "bundle_log"):
        assert rows_after[table] == rows_before[table], table
    # The backup it came from is the last backup, and it holds every record.
    with office.session() as session:
        status = backup_status(session, _now())
        assert status.waiting == 0
        assert status.last is not None
        assert status.last.restored
        assert session.query(Record).filter(Record.backed_up_at.is_(None)).count() == 0
        # And every case key: the backup's own copy of the database has them unmarked (they
        # are marked after its snapshot), so the restore marks them and they may be announced.
        assert session.query(CaseKey).count() > 0
        assert session.query(CaseKey).filter(CaseKey.backed_up_at.is_(None)).count() == 0


def test_restore_with_each_officer_and_with_the_recovery_key(
    populated: Populated, tmp_path: Path
) -> None:
    office = populated.office
    backup = _backup(office, tmp_path / "b.wbak")
    recovery = office.created.recovery_key
    openers = {
        "admin": _admin,
        SECOND: lambda info: unlock_with_password(info, SECOND, SECOND_PASSWORD),
        "recovery": lambda info: unlock_with_recovery_key(info, recovery.lower()),
    }
    for label, opener in openers.items():
        target = tmp_path / f"restored-{label}"
        _restore(backup, target, opener)
        assert (target / "inbox.sqlite").is_file()
        assert len(list((target / "store").iterdir())) == 3


def test_the_header_says_what_the_backup_is(populated: Populated, tmp_path: Path) -> None:
    office = populated.office
    backup = _backup(office, tmp_path / "b.wbak")
    raw = backup.read_bytes()
    assert b"Call the auditor" not in raw
    assert b"Invoices" not in raw
    with backup.open("rb") as source:
        info = read_header(source)
    assert info.fingerprint == office.created.fingerprint
    assert info.officers == ("admin", SECOND)
    assert info.records == 3
    with office.session() as session:
        row = session.query(Backup).one()
        assert row.backup_id == info.backup_id
        assert row.size == len(raw)
        assert row.records == 3


def _nothing_written(target: Path) -> None:
    assert not target.exists()
    assert not [p for p in target.parent.iterdir() if p.name.startswith(f".{target.name}")]


@pytest.mark.parametrize(
    ("opener", "error"),
    [
        (
            lambda info: unlock_with_password(info, "admin", "wrong password!!"),
            BackupWrongPasswordError,
        ),
        (lambda info: unlock_with_password(info, "nobody", PASSWORD), BackupUnknownOfficerError),
        (
            lambda info: unlock_with_recovery_key(info, "0" * 52 + "0"),
            BackupWrongRecoveryKeyError,
        ),
        (lambda info: unlock_with_recovery_key(info, "not a key"), BackupWrongRecoveryKeyError),
    ],
)
def test_wrong_password_or_recovery_key(populated, tmp_path, opener, error) -> None:  # type: ignore[no-untyped-def]
    backup = _backup(populated.office, tmp_path / "b.wbak")
    target = tmp_path / "restored"
    with pytest.raises(error):
        _restore(backup, target, opener)
    _nothing_written(target)


def test_another_office_backup_is_refused(populated: Populated, tmp_path: Path) -> None:
    backup = _backup(populated.office, tmp_path / "b.wbak")
    target = tmp_path / "restored"
    other = "AAAA BBBB CCCC DDDD EEEE FFFF GGGG HHHH"
    with pytest.raises(BackupOfficeMismatchError, match="another office"):
        _restore(backup, target, _admin, expect_fingerprint=other)
    _nothing_written(target)
    _restore(backup, target, _admin, expect_fingerprint=populated.office.created.fingerprint)


def test_a_swapped_in_keyring_is_refused(populated: Populated, tmp_path: Path) -> None:
    """Someone replaces an officer's wrapped keyring in the header with one of their own."""
    from whistle.crypto.backup import encode_header
    from whistle.inbox.keyring import wrap_for_password

    backup = _backup(populated.office, tmp_path / "b.wbak")
    with backup.open("rb") as source:
        info = read_header(source)
        content = source.read()
    keyring = populated.office.sign_in().keyring
    mine = OfficeKeyring(keyring.signing_seed, bytes(range(32)))
    fields = dict(info.header.fields)
    fields["officers"] = [
        {
            "name": "admin",
            "keyring": wrap_for_password(
                mine, PASSWORD, populated.office.config.kdf_params
            ).decode(),
        }
    ]
    forged = tmp_path / "forged.wbak"
    forged.write_bytes(encode_header(fields) + content)
    target = tmp_path / "restored"
    with pytest.raises(BackupTamperedError):
        _restore(forged, target, _admin)
    _nothing_written(target)


def test_truncated_backups_are_refused(populated: Populated, tmp_path: Path) -> None:
    backup = _backup(populated.office, tmp_path / "b.wbak")
    raw = backup.read_bytes()
    target = tmp_path / "restored"
    for length in (0, 3, 9, 200, len(raw) // 2, len(raw) - 1):
        cut = tmp_path / f"cut-{length}.wbak"
        cut.write_bytes(raw[:length])
        with pytest.raises((BackupTruncatedError, BackupFormatError)):
            _restore(cut, target, _admin)
        _nothing_written(target)


def test_one_flipped_byte_anywhere_is_refused(populated: Populated, tmp_path: Path) -> None:
    backup = _backup(populated.office, tmp_path / "b.wbak")
    raw = backup.read_bytes()
    with backup.open("rb") as source:
        header_size = read_header(source).header.size
    target = tmp_path / "restored"
    positions = sorted(
        {0, 5, 7, 9, 10, header_size // 2, header_size - 2, header_size, header_size + 8}
        | set(range(header_size + 100, len(raw), max(1, len(raw) // 25)))
        | {len(raw) - 1}
    )
    for position in positions:
        damaged = bytearray(raw)
        damaged[position] ^= 0x01
        path = tmp_path / "damaged.wbak"
        path.write_bytes(bytes(damaged))
        with pytest.raises(
            (BackupTamperedError, BackupFormatError, BackupWrongPasswordError, BackupTruncatedError)
        ):
            _restore(path, target, _admin)
        _nothing_written(target)


def test_a_non_empty_target_is_refused(populated: Populated, tmp_path: Path) -> None:
    backup = _backup(populated.office, tmp_path / "b.wbak")
    target = tmp_path / "busy"
    target.mkdir()
    (target / "notes.txt").write_text("mine")
    with pytest.raises(RestoreTargetError, match="not empty"):
        _restore(backup, target, _admin)
    assert [p.name for p in target.iterdir()] == ["notes.txt"]
    empty = tmp_path / "empty"
    empty.mkdir()
    _restore(backup, empty, _admin)
    assert (empty / "inbox.sqlite").is_file()


def test_backup_refuses_to_overwrite(populated: Populated, tmp_path: Path) -> None:
    from whistle.inbox.backup import BackupError

    out = tmp_path / "b.wbak"
    out.write_bytes(b"precious")
    with pytest.raises(BackupError, match="exists already"):
        _backup(populated.office, out)
    assert out.read_bytes() == b"precious"
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".b.wbak")] == []


def test_a_backup_from_a_newer_whistle_is_refused(populated: Populated, tmp_path: Path) -> None:
    import sqlite3

    office = populated.office
    connection = sqlite3.connect(office.config.database_path)
    connection.execute("UPDATE alembic_version SET version_num = '9999_future'")
    connection.commit()
    connection.close()
    backup = _backup(office, tmp_path / "b.wbak")
    target = tmp_path / "restored"
    with pytest.raises(BackupFormatError, match="newer Whistle"):
        _restore(backup, target, _admin)
    _nothing_written(target)


def test_the_bundles_page_says_what_waits_for_a_backup(populated: Populated) -> None:
    from sqlalchemy import select

    from whistle.inbox import create_app
    from whistle.inbox.outgoing import queue_ack

    office = populated.office
    with office.session() as session:
        record = session.scalars(select(Record)).first()
        assert record is not None
        queue_ack(
            session,
            case_id=record.case_id,
            record_id=record.id,
            original_hash=record.original_hash,
            now=office.config.clock(),
        )
    client = create_app(office.config).test_client()
    client.post("/login", data={"name": "admin", "password": PASSWORD})
    page = client.get("/bundles/").get_data(as_text=True)
    assert "0 acknowledgement(s)" in page
    assert "1 acknowledgement(s) are held back until a backup holds their reports" in page
    _backup(office, office.config.data_dir.parent / "b.wbak")
    page = client.get("/bundles/").get_data(as_text=True)
    assert "1 acknowledgement(s)" in page
    assert "held back" not in page


def test_passwords_are_those_at_backup_time(populated: Populated, tmp_path: Path) -> None:
    from whistle.inbox.officers import change_password

    office = populated.office
    backup = _backup(office, tmp_path / "b.wbak")
    new_password = "a brand new password for admin"
    with office.session() as session:
        change_password(session, office.config, 1, PASSWORD, new_password)
    target = tmp_path / "restored"
    with pytest.raises(BackupWrongPasswordError, match="as it was when the backup was made"):
        _restore(backup, target, lambda info: unlock_with_password(info, "admin", new_password))
    _nothing_written(target)
    _restore(backup, target, _admin)  # the password the backup knows
    assert (target / "inbox.sqlite").is_file()


def test_a_restore_makes_again_every_deletion_made_after_the_backup(
    populated: Populated, tmp_path: Path
) -> None:
    from sqlalchemy import select

    from whistle.inbox import deletions, register, workflow
    from whistle.inbox.errors import DeletionListError
    from whistle.inbox.models import Case, Outgoing, PurgedCase, Tombstone

    office = populated.office
    first, second = populated.case_ids
    signed = office.sign_in()
    old_backup = _backup(office, tmp_path / "old.wbak")
    now = office.config.clock()
    store = office.config.store_dir
    with office.session() as session:
        line_before = register.case_line(session, signed.keyring, session.get(Case, second))
        submission = session.scalar(
            select(Record).where(Record.case_id == first, Record.kind == "submission")
        )
        followup = session.scalar(
            select(Record).where(Record.case_id == first, Record.kind == "followup")
        )
        gone = workflow.purge_case(
            session,
            signed.keyring,
            second,
            confirm=True,
            reason="Outside the law's scope entirely.",
            officer_id=signed.officer_id,
            now=now,
            today=now.date(),
            store_dir=store,
        )
        for part, grounds in (
            (deletions.PartialDeletion("file", submission.id, "0"), "special-category"),
            (deletions.PartialDeletion("field", submission.id, "description"), "shown-false"),
            (deletions.PartialDeletion("record", followup.id), "out-of-scope"),
        ):
            gone += deletions.delete_part(
                session,
                signed.keyring,
                first,
                part,
                grounds=grounds,
                reason="Health data of a third person.",
                officer_id=signed.officer_id,
                now=now,
                store_dir=store,
            )
        submission_id, followup_id = submission.id, followup.id
    workflow.remove_files(gone)
    # A later backup on the other stick leaves the list beside it.
    newer_stick = tmp_path / "stick-b"
    newer_stick.mkdir()
    _backup(office, newer_stick / "new.wbak")
    listing = (newer_stick / deletions.LIST_FILE).read_bytes()

    # A list altered by one byte is refused and nothing is written.
    target = tmp_path / "restored"
    altered = bytearray(listing)
    altered[40] ^= 1
    with pytest.raises(DeletionListError):
        _restore(old_backup, target, _admin, deletions=bytes(altered))
    assert not target.exists()

    restored = _restore(old_backup, target, _admin, deletions=listing)
    assert restored.deletions_reapplied == 4
    engine = db.make_engine(target / "inbox.sqlite")
    with db.transaction(db.session_factory(engine)) as session:
        assert session.get(Case, second) is None
        assert session.get(Tombstone, second) is not None
        assert session.get(Record, followup_id) is None
        purged = session.get(PurgedCase, second)
        assert purged is not None
        # The register line survives whole, as it was before the deletion.
        line = register.open_line(signed.keyring, second, purged.register or b"")
        assert line.received == line_before.received
        assert line.desk == line_before.desk
        assert line.deletion_due == line_before.deletion_due
        kept = session.get(Record, submission_id)
        from whistle.inbox.store import record_meta

        meta = record_meta(signed.keyring, kept)
        assert meta["files"] == []
        fields = {f["key"]: f["value"] for f in meta["form"]["fields"]}
        assert fields["description"] == ""
        assert fields["subject"]  # only the one field went
        orders = session.scalars(select(Outgoing.case_id).where(Outgoing.kind == "purge")).all()
        assert second in orders
        stored = set(session.scalars(select(Record.stored_name)))
    engine.dispose()
    # No stored file of a deleted record is left in the restored store.
    assert {p.name for p in (target / "store").iterdir()} == stored


def test_a_list_of_deletions_signed_by_another_office_or_malformed_is_refused(
    populated: Populated, tmp_path: Path
) -> None:
    import json

    from whistle.crypto import DELETIONS, generate_signing_keypair, sign
    from whistle.inbox.errors import DeletionListError

    office = populated.office
    backup = _backup(office, tmp_path / "b.wbak")
    entry = {
        "id": "a" * 32,
        "at": "2026-11-02T09:00:00",
        "case": populated.case_ids[0],
        "target": "case",
        "item": "",
        "grounds": "other",
    }
    body = json.dumps({"version": 1, "entries": [entry]}).encode()
    stranger = sign(generate_signing_keypair().seed, DELETIONS, body)
    with pytest.raises(DeletionListError, match="not this office's"):
        _restore(backup, tmp_path / "a", _admin, deletions=stranger)
    assert not (tmp_path / "a").exists()
    signed = office.sign_in()
    bad = json.dumps({"version": 1, "entries": [{**entry, "target": "everything"}]}).encode()
    malformed = sign(signed.keyring.signing_seed, DELETIONS, bad)
    with pytest.raises(DeletionListError, match="malformed"):
        _restore(backup, tmp_path / "b", _admin, deletions=malformed)
    assert not (tmp_path / "b").exists()


def test_a_backup_and_the_password_of_an_officer_with_a_security_key_open_nothing(
    populated: Populated, tmp_path: Path
) -> None:
    """The backup carries that officer's keyring as wrapped under password and security key:
    the password alone does not restore it; the recovery key does, keys and all."""
    from whistle.crypto import prf_wrapping_key
    from whistle.inbox.models import SecurityKey
    from whistle.inbox.officers import check_password, enrol_security_key
    from whistle.inbox.security_keys import CheckedKey

    office = populated.office
    with office.session() as session:
        second = check_password(session, office.config, SECOND, SECOND_PASSWORD)
        enrol_security_key(
            session,
            office.config,
            officer_id=second.id,
            password=SECOND_PASSWORD,
            factor=None,
            label="blue key",
            checked=CheckedKey(b"cred", b"cose", 1, b"\x05" * 32, prf_wrapping_key(b"\x0a" * 32)),
        )
    backup = _backup(office, tmp_path / "b.wbak")
    target = tmp_path / "restored"
    with pytest.raises(BackupWrongPasswordError, match="security key"):
        _restore(backup, target, lambda info: unlock_with_password(info, SECOND, SECOND_PASSWORD))
    _nothing_written(target)
    recovery = office.created.recovery_key
    _restore(backup, target, lambda info: unlock_with_recovery_key(info, recovery))
    restored = db.session_factory(db.make_engine(target / "inbox.sqlite"))
    with restored() as session:
        assert [k.label for k in session.query(SecurityKey).all()] == ["blue key"]
