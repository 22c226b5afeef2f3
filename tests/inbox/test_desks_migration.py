"""Moving a real inbox from before desks (``tests/inbox/v1_inbox``, written by the code of
commit 4e7d38a) into desk compartments: every case in its desk's compartment, readable by
the officers as before, and the storage-key copies gone."""

import json
import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from whistle.cli import main
from whistle.crypto import CryptoError, associated_data, open_bytes, open_envelope
from whistle.inbox import compartments, db, epochs, sealing
from whistle.inbox.cases import case_detail
from whistle.inbox.config import InboxConfig, ThrottleLimits, insecure_password_hash
from whistle.inbox.errors import CaseLockedError, CompartmentsMigrationError
from whistle.inbox.keyring import OfficeKeyring
from whistle.inbox.models import (
    AuditEvent,
    Case,
    DeskGrant,
    DeskKey,
    DeskMember,
    Note,
    Office,
    Officer,
    Record,
    Reply,
)
from whistle.inbox.officers import add_officer, open_with_recovery_key, sign_in
from whistle.inbox.replies import open_draft
from whistle.inbox.workflow import case_labels

FIXTURE = Path(__file__).parent / "v1_inbox"
FACTS = json.loads((FIXTURE / "facts.json").read_text())
NOW = datetime(2026, 12, 5, 9, tzinfo=UTC)


@pytest.fixture
def v1(tmp_path: Path, insecure_kdf_params) -> InboxConfig:  # type: ignore[no-untyped-def]
    shutil.copytree(FIXTURE / "office", tmp_path / "office")
    (tmp_path / "scratch").mkdir()
    return InboxConfig(
        data_dir=tmp_path / "office",
        kdf_params=insecure_kdf_params,
        password_hash=insecure_password_hash(),
        throttle=ThrottleLimits(per_account=3, window_seconds=900),
        idle_lock_seconds=600,
        default_language="en",
        clock=lambda: NOW,
        scratch_dir=tmp_path / "scratch",
        testing=True,
    )


def _migrate(config: InboxConfig, tmp_path: Path):  # type: ignore[no-untyped-def]
    key_file = tmp_path / "recovery"
    key_file.write_text(FACTS["recovery_key"] + "\n")
    obj = {"config": {"kdf_params": config.kdf_params, "password_hash": config.password_hash}}
    return CliRunner().invoke(
        main,
        ["inbox", "desks", "migrate", str(config.data_dir), "--recovery-key-file", str(key_file)],
        obj=obj,
    )


def _old_storage_secret(config: InboxConfig) -> bytes:
    engine = db.make_engine(config.database_path)
    with db.transaction(db.session_factory(engine)) as session:
        secret = open_with_recovery_key(session, FACTS["recovery_key"]).keyring.storage_secret
    engine.dispose()
    return secret


def _wire_desks(session, keyring: OfficeKeyring) -> set[str]:  # type: ignore[no-untyped-def]
    """The desks whose keys of some live epoch ``keyring`` opens (records in transit)."""
    return {d for keys in compartments.wire_keys(session, keyring) for d in keys.desks}


def test_a_v1_inbox_moves_into_its_desks(v1: InboxConfig, tmp_path: Path) -> None:
    old_files = {p.name for p in v1.store_dir.iterdir()}
    engine = db.make_engine(v1.database_path)
    db.upgrade(engine)  # 0007_desks: the schema; nothing is moved without the keys
    with db.transaction(db.session_factory(engine)) as session:
        assert not compartments.active(session)
        signed = sign_in(session, v1, "admin", FACTS["password"])  # still reads as before
    with db.transaction(db.session_factory(engine)) as session:
        antifraud = FACTS["cases"]["antifraud"]
        assert "V1-NOTE" in [
            n.text for n in case_detail(session, signed.keyring, antifraud, today=NOW.date()).notes
        ]
        # Before the move the storage key alone opens every desk's key of every live epoch.
        assert _wire_desks(session, OfficeKeyring(bytes(32), signed.keyring.storage_secret)) == {
            "antifraud",
            "ethics",
        }
    engine.dispose()
    storage = _old_storage_secret(v1)

    result = _migrate(v1, tmp_path)
    assert result.exit_code == 0, result.output
    assert "2 case(s) moved" in result.output

    # The old files are gone; every stored file and sealed row now refuses the storage key.
    assert not old_files & {p.name for p in v1.store_dir.iterdir()}
    engine = db.make_engine(v1.database_path)
    sessions = db.session_factory(engine)
    with db.transaction(sessions) as session:
        assert compartments.active(session)
        assert session.execute(text("SELECT count(*) FROM search_index")).scalar() == 0
        for record in session.scalars(select(Record)):
            raw = bytes.fromhex(record.case_id)
            with pytest.raises(CryptoError):
                open_bytes(record.meta, storage, associated_data(sealing.META, raw))
            with (
                (v1.store_dir / record.stored_name).open("rb") as handle,
                pytest.raises(CryptoError),
            ):
                open_envelope(handle, storage, associated_data("stored-" + record.kind, raw))
        sealed = [(n.body, sealing.NOTE, n.case_id) for n in session.scalars(select(Note))]
        sealed += [(r.body, sealing.DRAFT, r.case_id) for r in session.scalars(select(Reply))]
        sealed += [
            (c.labels, sealing.LABELS, c.id) for c in session.scalars(select(Case)) if c.labels
        ]
        assert len(sealed) == 3
        for blob, kind, case_id in sealed:
            with pytest.raises(CryptoError):
                open_bytes(blob, storage, associated_data(kind, bytes.fromhex(case_id)))
        # Everyone keeps what they had: both officers in both desks, keys pending sign-in.
        members = {(m.desk_id, m.officer_id) for m in session.scalars(select(DeskMember))}
        assert len(members) == 4
        assert session.scalars(select(DeskGrant.holder).where(DeskGrant.holder == "storage")).all()
        # The keys of records in transit moved too: each a grant to its desk's compartment
        # key, the storage-key copy overwritten in its row.
        rows = session.scalars(select(DeskKey)).all()
        assert rows
        assert all(r.generation is not None for r in rows)
        for row in rows:
            with pytest.raises(CryptoError):
                sealing.open_json(storage, epochs.SEALED_KEY, sealing.NO_CASE, row.sealed_secret)

    # Each officer's first sign-in: a personal key, the desks' keys sealed to it.
    for name in ("admin", "berta"):
        with db.transaction(sessions) as session:
            signed = sign_in(session, v1, name, FACTS["password"])
            assert signed.keyring.personal_secret is not None
        with db.transaction(sessions) as session:
            for desk, case_id in FACTS["cases"].items():
                detail = case_detail(session, signed.keyring, case_id, today=NOW.date())
                assert detail.case.desk_id == desk
            a = FACTS["cases"]["antifraud"]
            detail = case_detail(session, signed.keyring, a, today=NOW.date())
            assert detail.entries[0].form[1]["value"] == "V1-ANTIFRAUD-CONTENT"
            assert detail.entries[1].message == "V1-FOLLOWUP"
            assert [n.text for n in detail.notes] == ["V1-NOTE"]
            draft = session.scalar(select(Reply))
            assert open_draft(signed.keyring, draft).text == "V1-DRAFT"
            b = session.get(Case, FACTS["cases"]["ethics"])
            assert case_labels(signed.keyring, b) == ["V1-LABEL"]
    with db.transaction(sessions) as session:
        # Both have signed in: the interim copies under the storage key are gone.
        assert not session.scalars(select(DeskGrant).where(DeskGrant.holder == "storage")).all()
        assert session.scalar(select(Office.recovery_public_key)) is not None
        # Nothing opens a desk's key with the storage key alone any more; the recovery key
        # still opens them all.
        assert _wire_desks(session, OfficeKeyring(bytes(32), storage)) == set()
        recovered = open_with_recovery_key(session, FACTS["recovery_key"]).keyring
        assert _wire_desks(session, recovered) == {"antifraud", "ethics"}
    engine.dispose()

    again = _migrate(v1, tmp_path)
    assert again.exit_code != 0
    assert "already" in again.output


def test_migrating_twice_is_refused_and_changes_nothing(v1: InboxConfig, tmp_path: Path) -> None:
    engine = db.make_engine(v1.database_path)
    db.upgrade(engine)
    with db.transaction(db.session_factory(engine)) as session:
        recovered = open_with_recovery_key(session, FACTS["recovery_key"])
        compartments.migrate(
            session, recovered.keyring, FACTS["recovery_key"], store_dir=v1.store_dir, now=NOW
        )
    with db.transaction(db.session_factory(engine)) as session:
        before = session.scalars(select(Record.stored_name)).all()
        recovered = open_with_recovery_key(session, FACTS["recovery_key"])
        with pytest.raises(CompartmentsMigrationError):
            compartments.migrate(
                session, recovered.keyring, FACTS["recovery_key"], store_dir=v1.store_dir, now=NOW
            )
        assert session.scalars(select(Record.stored_name)).all() == before
    engine.dispose()


def test_a_wrong_recovery_key_moves_nothing(v1: InboxConfig, tmp_path: Path) -> None:
    engine = db.make_engine(v1.database_path)
    db.upgrade(engine)
    engine.dispose()
    key_file = tmp_path / "recovery"
    key = FACTS["recovery_key"].replace(" ", "")
    key_file.write_text(("0" if key[0] != "0" else "1") + key[1:] + "\n")
    obj = {"config": {"kdf_params": v1.kdf_params, "password_hash": v1.password_hash}}
    result = CliRunner().invoke(
        main,
        ["inbox", "desks", "migrate", str(v1.data_dir), "--recovery-key-file", str(key_file)],
        obj=obj,
    )
    assert result.exit_code != 0
    assert "Nothing was changed" in result.output
    engine = db.make_engine(v1.database_path)
    with db.transaction(db.session_factory(engine)) as session:
        assert not compartments.active(session)
    engine.dispose()


def test_downgrade_is_refused_once_moved(v1: InboxConfig) -> None:
    engine = db.make_engine(v1.database_path)
    db.upgrade(engine)
    db.downgrade(engine, "0006_law")  # nothing moved yet: the schema goes back
    db.upgrade(engine)
    with db.transaction(db.session_factory(engine)) as session:
        recovered = open_with_recovery_key(session, FACTS["recovery_key"])
        compartments.migrate(
            session, recovered.keyring, FACTS["recovery_key"], store_dir=v1.store_dir, now=NOW
        )
    # Each revision refuses in turn, newest first. 0012_wire: the keys of records in transit
    # are sealed to the compartments (past it only by forgetting that they are).
    with pytest.raises(RuntimeError, match="0012_wire: desk keys are sealed to desk compart"):
        db.downgrade(engine, "0006_law")
    with db.transaction(db.session_factory(engine)) as session:
        session.execute(text("UPDATE desk_key SET generation = NULL"))
    # 0010_law2: the move wrote version 2 audit entries, which version 0006 could not
    # verify. Once past it (no such entries), 0007's own refusal is the answer.
    with pytest.raises(RuntimeError, match="keyed entries"):
        db.downgrade(engine, "0006_law")
    with db.transaction(db.session_factory(engine)) as session:
        session.execute(text("DROP TRIGGER audit_event_no_delete"))
        session.execute(text("DELETE FROM audit_event WHERE chain = 2"))
    with pytest.raises(RuntimeError, match="compartments"):
        db.downgrade(engine, "0006_law")
    engine.dispose()


def _end_interim(config: InboxConfig, tmp_path: Path):  # type: ignore[no-untyped-def]
    password = tmp_path / "password"
    password.write_text(FACTS["password"] + "\n")
    obj = {"config": {"kdf_params": config.kdf_params, "password_hash": config.password_hash}}
    return CliRunner().invoke(
        main,
        [
            "inbox",
            "desks",
            "end-interim",
            str(config.data_dir),
            "--officer",
            "admin",
            "--password-file",
            str(password),
            "--yes",
        ],
        obj=obj,
    )


def test_ending_the_interim_copies_early(v1: InboxConfig, tmp_path: Path) -> None:
    """What ending them early does: a desk no member holds keeps its copy; a member who had
    not signed in gets the key at the next sign-in of one who holds it, without the recovery
    key; and the storage key alone then opens no desk's key."""
    assert _migrate(v1, tmp_path).exit_code == 0
    storage = _old_storage_secret(v1)
    engine = db.make_engine(v1.database_path)
    sessions = db.session_factory(engine)
    with db.transaction(sessions) as session:
        # Nobody has signed in: no member holds any desk's key, every copy stays.
        assert compartments.end_interim(session, by_officer_id=None, now=NOW) == []
        assert len(compartments.interim(session)) == 2
    with db.transaction(sessions) as session:
        sign_in(session, v1, "admin", FACTS["password"])
    result = _end_interim(v1, tmp_path)
    assert result.exit_code == 0, result.output
    assert "waiting for berta" in result.output
    assert "Interim copies ended: antifraud, ethics" in result.output
    a = FACTS["cases"]["antifraud"]
    with db.transaction(sessions) as session:
        assert compartments.interim(session) == []
        assert _wire_desks(session, OfficeKeyring(bytes(32), storage)) == set()
        berta = sign_in(session, v1, "berta", FACTS["password"])
    with db.transaction(sessions) as session, pytest.raises(CaseLockedError):
        case_detail(session, berta.keyring, a, today=NOW.date())
    with db.transaction(sessions) as session:
        sign_in(session, v1, "admin", FACTS["password"])  # passes the desks' keys on
    with db.transaction(sessions) as session:
        detail = case_detail(session, berta.keyring, a, today=NOW.date())
        assert detail.entries[0].form[1]["value"] == "V1-ANTIFRAUD-CONTENT"
        actions = session.scalars(select(AuditEvent.action)).all()
        assert "desk-interim-keys-deleted" in actions
    engine.dispose()


def test_before_the_move_desks_cannot_be_chosen_or_removed(v1: InboxConfig) -> None:
    """An office from before desks: a new officer's desks and a desk removal are refused with
    the reason, and nothing is added or changed."""
    engine = db.make_engine(v1.database_path)
    db.upgrade(engine)
    with db.transaction(db.session_factory(engine)) as session:
        recovered = open_with_recovery_key(session, FACTS["recovery_key"])
        officers_before = session.scalars(select(Officer.name)).all()
        with pytest.raises(CompartmentsMigrationError, match="not in desk compartments"):
            add_officer(
                session,
                v1,
                name="nuria",
                password=FACTS["password"],
                roles=("officer",),
                keyring=recovered.keyring,
                custodian_keyring=None,
                desks=["antifraud"],
            )
        with pytest.raises(CompartmentsMigrationError):
            compartments.remove_desk(
                session,
                recovered.keyring,
                desk_id="antifraud",
                successor_id="ethics",
                move_cases=True,
                by_officer_id=None,
                now=NOW,
            )
        assert session.scalars(select(Officer.name)).all() == officers_before
        assert session.scalars(select(DeskMember)).all() == []
    engine.dispose()


def test_being_in_compartments_is_remembered_no_longer_than_its_transaction(
    v1: InboxConfig,
) -> None:
    """``active`` is asked before every read and remembers a yes for the transaction: a
    rolled-back move (a savepoint or the whole transaction) is forgotten with it."""
    engine = db.make_engine(v1.database_path)
    db.upgrade(engine)

    def move(session: Session) -> None:
        session.get(Office, 1).compartments_at = NOW.replace(tzinfo=None)  # type: ignore[union-attr]
        session.flush()
        assert compartments.active(session)
        assert compartments.active(session)  # remembered

    with db.session_factory(engine)() as session:
        savepoint = session.begin_nested()
        move(session)
        savepoint.rollback()
        assert not compartments.active(session)
        session.rollback()
        move(session)
        session.rollback()
        assert not compartments.active(session)
    engine.dispose()


def test_an_office_before_desks_announces_no_case_key_until_it_moves(
    v1: InboxConfig, tmp_path: Path
) -> None:
    """Protocol §17: before the move there are no case keys, so follow-ups keep going to the
    desks; the move makes one per case, announced after the next backup."""
    from whistle.inbox.case_announce import queue_case_keys
    from whistle.inbox.models import CaseKey

    engine = db.make_engine(v1.database_path)
    db.upgrade(engine)
    sessions = db.session_factory(engine)
    with db.transaction(sessions) as session:
        keyring = open_with_recovery_key(session, FACTS["recovery_key"]).keyring
        assert queue_case_keys(session, keyring, now=NOW) == 0
    assert _migrate(v1, tmp_path).exit_code == 0
    with db.transaction(sessions) as session:
        keyring = open_with_recovery_key(session, FACTS["recovery_key"]).keyring
        cases = len(session.scalars(select(Case.id)).all())
        assert cases > 0
        assert set(session.scalars(select(CaseKey.backed_up_at))) == {None}
        assert queue_case_keys(session, keyring, now=NOW) == cases
    engine.dispose()
