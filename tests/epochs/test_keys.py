"""Key epochs in the inbox alone: keyrings from before epochs, the recovery copy, the CLI."""

import dataclasses

import pytest
from click.testing import CliRunner
from sqlalchemy import delete, select

from tests.inbox.conftest import (
    CANARY,
    PASSWORD,
    Office,
    do_import,
    incoming,
    make_submission,
)
from whistle.cli import main
from whistle.crypto import recovery_wrapping_key
from whistle.inbox import compartments, epochs
from whistle.inbox.cases import case_detail
from whistle.inbox.config import insecure_password_hash
from whistle.inbox.errors import RecoveryKeyError
from whistle.inbox.keyring import (
    LegacyKeys,
    OfficeKeyring,
    unwrap_office,
    unwrap_office_recovery,
    wrap_for_password,
    wrap_for_recovery,
)
from whistle.inbox.models import AuditEvent, Case, DeskKey, KeyEpoch, Officer
from whistle.inbox.models import Office as OfficeRow
from whistle.inbox.officers import add_officer, reset_password, rewrap_recovery


def _make_legacy(office: Office) -> OfficeKeyring:
    """Turn the office into one made before key epochs: v1 keyrings, empty epoch tables."""
    signed = office.sign_in()
    with office.session() as session:
        [keys] = compartments.wire_keys(session, signed.keyring)
        legacy = OfficeKeyring(
            signed.keyring.signing_seed,
            signed.keyring.storage_secret,
            LegacyKeys(dict(keys.desks), keys.bundle_secret),
            # Kept (a real v1 keyring predates desks, this office does not): the officer
            # stays in the desks whose compartments now hold the keys moved at sign-in.
            signed.keyring.personal_secret,
        )
        for officer in session.scalars(select(Officer)):
            officer.wrapped_keyring = wrap_for_password(legacy, PASSWORD, office.config.kdf_params)
        row = session.get(OfficeRow, 1)
        row.recovery_keyring = wrap_for_recovery(
            legacy, recovery_wrapping_key(office.created.recovery_key)
        )
        session.execute(delete(DeskKey))
        session.execute(delete(KeyEpoch))
    return legacy


def _actions(office: Office) -> list[str]:
    with office.session() as session:
        return [e.action for e in session.scalars(select(AuditEvent))]


def test_a_version_1_keyring_moves_its_keys_at_sign_in(office: Office) -> None:
    legacy = _make_legacy(office)
    with office.session() as session, pytest.raises(epochs.KeysMissingError):
        epochs.current_epoch(session)
    signed = office.sign_in()
    assert signed.keyring.legacy is None
    with office.session() as session:
        [keys] = compartments.wire_keys(session, signed.keyring)
        assert keys.desks == legacy.legacy.desks
        assert keys.bundle_secret == legacy.legacy.bundle_secret
        wrapped = session.scalar(select(Officer)).wrapped_keyring
    # That officer's copy is version 2 now: their password no longer opens a desk key.
    assert unwrap_office(wrapped, PASSWORD).legacy is None
    assert "keys-moved-to-epochs" in _actions(office)
    # Imports work as before.
    source, envelope = make_submission(office, description=CANARY)
    report = do_import(office, [incoming("submission", source.case_id, envelope)])
    assert report.imported


def test_a_version_1_keyring_never_brings_destroyed_keys_back(office: Office) -> None:
    legacy = _make_legacy(office)
    signed = office.sign_in()
    with office.session() as session:
        # A second officer who has not signed in since the upgrade keeps a v1 copy.
        add_officer(
            session,
            office.config,
            name="late",
            password=PASSWORD,
            roles=("officer",),
            keyring=legacy,
            custodian_keyring=None,
        )
        epochs.rotate(session, signed.keyring, office.config.clock())
        epochs.destroy(session, 1, office.config.clock())
    late = office.sign_in(name="late")
    assert late.keyring.legacy is None
    with office.session() as session:
        assert [k.epoch for k in compartments.wire_keys(session, late.keyring)] == [2]
        assert session.get(KeyEpoch, 1).bundle_secret is None
        officer = session.scalar(select(Officer).where(Officer.name == "late"))
        assert unwrap_office(officer.wrapped_keyring, PASSWORD).legacy is None


def test_the_recovery_copy_is_rewrapped_without_desk_keys(office: Office) -> None:
    _make_legacy(office)
    with office.session() as session, pytest.raises(RecoveryKeyError):
        rewrap_recovery(session, "0" * 52, office.config.clock())
    with office.session() as session:
        assert rewrap_recovery(session, office.created.recovery_key, office.config.clock())
    with office.session() as session:
        row = session.get(OfficeRow, 1)
        wrapping = recovery_wrapping_key(office.created.recovery_key)
        recovered = unwrap_office_recovery(row.recovery_keyring, wrapping)
        assert recovered.legacy is None
        # Nobody had signed in: the keys moved to the database on the way, nothing lost.
        assert [k.epoch for k in compartments.wire_keys(session, recovered)] == [1]
        assert not rewrap_recovery(session, office.created.recovery_key, office.config.clock())


def test_the_recovery_keyring_opens_every_live_epoch(office: Office) -> None:
    signed = office.sign_in()
    with office.session() as session:
        epochs.rotate(session, signed.keyring, office.config.clock())
    with office.session() as session:
        row = session.get(OfficeRow, 1)
        recovered = unwrap_office_recovery(
            row.recovery_keyring, recovery_wrapping_key(office.created.recovery_key)
        )
        assert [k.epoch for k in compartments.wire_keys(session, recovered)] == [2, 1]


def test_a_case_imported_before_destruction_still_reads(office: Office) -> None:
    source, envelope = make_submission(office, description=CANARY)
    do_import(office, [incoming("submission", source.case_id, envelope)])
    signed = office.sign_in()
    with office.session() as session:
        epochs.rotate(session, signed.keyring, office.config.clock())
        epochs.destroy(session, 1, office.config.clock())
    with office.session() as session:
        case_id = session.scalar(select(Case.id))
        detail = case_detail(session, signed.keyring, case_id, today=office.config.today())
    assert CANARY in str(detail.entries[0].form)
    # A late copy of the same epoch-1 record can no longer be opened: refused, said why.
    again, envelope = make_submission(office, description=CANARY)
    late = incoming("submission", again.case_id, envelope)
    report = do_import(office, [dataclasses.replace(late, epoch=1)])
    assert report.refused
    assert "epoch 1, which were destroyed" in report.refused[0][1]


def test_the_current_epoch_cannot_be_destroyed(office: Office) -> None:
    with office.session() as session, pytest.raises(epochs.KeyEpochError):
        epochs.destroy(session, 1, office.config.clock())


def test_the_reminder(office: Office) -> None:
    with office.session() as session:
        assert epochs.rotation_due(session, office.config.today()) is None
        epochs.set_reminder(session, 90, office.config.clock())
        due = epochs.rotation_due(session, office.config.today())
    assert due is not None
    assert (due - office.config.today()).days == 90
    with office.session() as session, pytest.raises(epochs.InboxError):
        epochs.set_reminder(session, 0, office.config.clock())


# --- the command line ------------------------------------------------------------------------


@pytest.fixture
def cli(office: Office, insecure_kdf_params, clock, tmp_path):  # type: ignore[no-untyped-def]
    password = tmp_path / "password"
    password.write_text(PASSWORD + "\n")
    obj = {
        "config": {
            "kdf_params": insecure_kdf_params,
            "password_hash": insecure_password_hash(),
            "clock": clock,
        }
    }

    def run(*args: str, officer: str = "admin"):  # type: ignore[no-untyped-def]
        signed = ["--officer", officer, "--password-file", str(password)]
        needs = args[0] in ("rotate-keys", "rotation-reminder")
        full = ["inbox", *args[:1], str(office.config.data_dir), *args[1:]]
        return CliRunner().invoke(main, full + (signed if needs else []), obj=obj)

    return run


def test_cli_rotate_keys_and_status(cli, office: Office) -> None:  # type: ignore[no-untyped-def]
    result = cli("rotate-keys", "--yes")
    assert result.exit_code == 0, result.output
    assert "New keys: epoch 2" in result.output
    assert office.created.fingerprint in result.output
    result = cli("keys")
    assert result.exit_code == 0, result.output
    assert "epoch 1: made" in result.output
    assert "kept until the server has handed over everything sent to it" in result.output
    assert "epoch 2: made" in result.output
    assert "; current;" in result.output
    result = cli("rotation-reminder", "--days", "30")
    assert result.exit_code == 0, result.output
    assert "Next rotation by the office's reminder" in cli("keys").output


def test_cli_rotation_is_for_managers(cli, office: Office) -> None:  # type: ignore[no-untyped-def]
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
    result = cli("rotate-keys", "--yes", officer="clerk")
    assert result.exit_code == 1
    assert "Only a system manager" in result.output
    with office.session() as session:
        assert epochs.current_epoch(session) == 1


def test_destroyed_keys_leave_no_sealed_copy_in_the_database_files(office: Office) -> None:
    signed = office.sign_in()
    with office.session() as session:
        epochs.rotate(session, signed.keyring, office.config.clock())
        sealed = [d.sealed_secret for d in session.scalars(select(DeskKey)) if d.epoch == 1]
        sealed.append(session.get(KeyEpoch, 1).bundle_secret)
    path = office.config.database_path
    files = [path, path.with_name(path.name + "-wal")]
    before = b"".join(p.read_bytes() for p in files if p.exists())
    assert all(blob is not None and blob[-64:] in before for blob in sealed)  # the check bites
    with office.session() as session:
        epochs.destroy(session, 1, office.config.clock())
    epochs.scrub(office.session_factory.kw["bind"])  # type: ignore[attr-defined]
    data = b"".join(p.read_bytes() for p in files if p.exists())
    for blob in sealed:
        assert blob is not None
        # Any 64-byte stretch of the sealed value would betray a leftover copy.
        assert blob[-64:] not in data
        assert blob[:64] not in data


def test_a_password_reset_never_brings_destroyed_keys_back(office: Office) -> None:
    """The recovery copy of an office from before key epochs still holds the first desk keys;
    a reset with it after those were destroyed must not hand them to the officer again."""
    _make_legacy(office)
    signed = office.sign_in()  # moves the keys to the database
    with office.session() as session:
        epochs.rotate(session, signed.keyring, office.config.clock())
        epochs.destroy(session, 1, office.config.clock())
    new_password = "a brand new long password"
    with office.session() as session:
        reset_password(
            session,
            office.config,
            name="admin",
            recovery_key=office.created.recovery_key,
            new_password=new_password,
        )
    with office.session() as session:
        officer = session.scalar(select(Officer).where(Officer.name == "admin"))
        assert unwrap_office(officer.wrapped_keyring, new_password).legacy is None
        recovered = unwrap_office_recovery(
            session.get(OfficeRow, 1).recovery_keyring,
            recovery_wrapping_key(office.created.recovery_key),
        )
        assert recovered.legacy is None
        assert session.get(KeyEpoch, 1).bundle_secret is None
    assert "recovery-keyring-rewrapped" in _actions(office)
