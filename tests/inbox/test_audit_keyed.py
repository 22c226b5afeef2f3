"""The keyed audit chain (review finding L6): a database writer without an officer's keys
cannot rewrite it unnoticed, and a head written on paper is found, or not, by verify-audit."""

import hashlib
import sqlite3
from datetime import datetime

import pytest
from click.testing import CliRunner
from sqlalchemy import select, text

from whistle.cli import main
from whistle.crypto import CodeChecksumError
from whistle.crypto.audit import audit_key, format_head, head_code, normalize_head
from whistle.inbox import audit, db
from whistle.inbox.audit import CHAIN_KEYED, record_event, verify_chain
from whistle.inbox.errors import AuditChainError
from whistle.inbox.models import AuditEvent

from .conftest import Office
from .test_cli import obj, password_file  # noqa: F401
from .test_web import app, client, login  # noqa: F401

NOW = datetime(2026, 11, 2, 9, 0)


def _key(office: Office) -> bytes:
    return audit.key_for(office.sign_in().keyring.storage_secret)


def _write(office: Office, key: bytes | None, actions: list[str]) -> None:
    with office.session() as session:
        if key is not None:
            audit.use_key(session, key)
        for action in actions:
            record_event(session, NOW, action, detail=f"{action} detail")


def test_events_written_with_an_officer_signed_in_are_sealed(office: Office) -> None:
    key = _key(office)  # signing in writes a sealed "signed-in"
    _write(office, key, ["note-added", "case-assigned"])
    with office.session() as session:
        events = session.scalars(select(AuditEvent).order_by(AuditEvent.id)).all()
        assert all(e.chain == 2 and e.seal is not None for e in events)
        head = verify_chain(session, key)
    assert head.keyed
    assert head.sealed_id == head.count
    assert head.unsealed_after == 0
    assert head.sealed_head == head_code(events[-1].seal or b"")


def test_a_database_writer_who_recomputes_the_hashes_is_caught_by_the_seals(
    office: Office,
) -> None:
    """What v1 could not see: SHA-256 recomputed forward after an edit verifies without a key."""
    key = _key(office)
    _write(office, key, ["case-opened", "identity-opened", "case-exported"])
    with office.session() as session:
        target = session.scalar(select(AuditEvent).where(AuditEvent.action == "identity-opened"))
        assert target is not None
        target_id = target.id
    raw = sqlite3.connect(office.config.database_path)
    raw.execute("DROP TRIGGER audit_event_no_update")
    rows = raw.execute(
        "SELECT id, at, officer_id, action, case_id, record_id, detail, seal FROM audit_event"
        " WHERE id >= ? ORDER BY id",
        (target_id,),
    ).fetchall()
    (prev,) = raw.execute(
        "SELECT entry_hash FROM audit_event WHERE id = ?", (target_id - 1,)
    ).fetchone()
    for event_id, at, officer, action, case, record, detail, seal in rows:
        if event_id == target_id:
            action = "note-added"  # the custodian's opening hidden
        body = audit._body(
            event_id, datetime.fromisoformat(at), officer, action, case, record, detail
        )
        new_hash = hashlib.sha256(audit.DOMAIN_2 + prev + body + (seal or b"")).digest()
        raw.execute(
            "UPDATE audit_event SET action = ?, prev_hash = ?, entry_hash = ? WHERE id = ?",
            (action, prev, new_hash, event_id),
        )
        prev = new_hash
    raw.commit()
    raw.close()
    with office.session() as session:
        verify_chain(session)  # the unkeyed check is fooled, as v1's was
        with pytest.raises(AuditChainError, match="seal is not the office's") as caught:
            verify_chain(session, key)
    assert caught.value.entry_id == target_id


def test_a_forged_seal_from_another_key_is_refused(office: Office) -> None:
    key = _key(office)
    _write(office, audit_key(bytes(32)), ["note-added"])
    with office.session() as session, pytest.raises(AuditChainError, match="seal"):
        verify_chain(session, key)


def test_the_written_head_is_found_and_a_log_cut_short_loses_it(office: Office) -> None:
    key = _key(office)
    _write(office, key, ["case-opened", "status-changed"])
    with office.session() as session:
        written = verify_chain(session, key)
    assert written.sealed_head is not None
    assert written.sealed_id is not None
    _write(office, key, ["case-purged", "register-exported"])
    with office.session() as session:
        later = verify_chain(session, key, written_head=written.sealed_head)
    assert later.written_head_at == written.sealed_id
    assert later.sealed_head != written.sealed_head
    raw = sqlite3.connect(office.config.database_path)
    raw.execute("DROP TRIGGER audit_event_no_delete")
    raw.execute("DELETE FROM audit_event WHERE id >= ?", (written.sealed_id,))
    raw.commit()
    raw.close()
    with office.session() as session:
        cut = verify_chain(session, key, written_head=written.sealed_head)
    assert cut.written_head_at is None  # the chain itself is valid: only the paper head shows it


def test_events_without_a_key_are_chained_and_counted_until_the_next_seal(office: Office) -> None:
    key = _key(office)
    _write(office, None, ["sign-in-failed", "sign-in-failed"])
    with office.session() as session:
        head = verify_chain(session, key)
    assert head.unsealed_after == 2
    assert head.count == head.sealed_id + 2
    _write(office, key, ["signed-in"])
    with office.session() as session:
        assert verify_chain(session, key).unsealed_after == 0


def test_head_code_has_a_check_symbol() -> None:
    head = head_code(bytes(range(32)))
    assert len(head) == 11
    assert normalize_head(format_head(head).lower()) == head
    wrong = ("1" if head[0] != "1" else "2") + head[1:]
    with pytest.raises(CodeChecksumError):
        normalize_head(wrong)


def test_an_unkeyed_chain_is_verified_then_keyed_from_then_on(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Migration 0010: version 1 events stay, the first key verifies them and says so."""
    engine = db.make_engine(tmp_path / "inbox.sqlite")
    db.upgrade(engine, "0007_desks")
    prev = audit.GENESIS
    with engine.begin() as connection:
        for n, action in enumerate(("office-created", "signed-in", "note-added"), start=1):
            at = datetime(2026, 11, 1, 9, n)
            entry = audit.entry_hash(
                prev,
                event_id=n,
                at=at,
                officer_id=None,
                action=action,
                case_id=None,
                record_id=None,
                detail="",
            )
            connection.execute(
                text(
                    "INSERT INTO audit_event (id, at, officer_id, action, case_id, record_id,"
                    " detail, prev_hash, entry_hash) VALUES (:id, :at, NULL, :a, NULL, NULL, '',"
                    " :p, :h)"
                ),
                {"id": n, "at": at, "a": action, "p": prev, "h": entry},
            )
            prev = entry
    db.upgrade(engine)
    key = audit_key(bytes(range(32)))
    sessions = db.session_factory(engine)
    with db.transaction(sessions) as session:
        assert verify_chain(session).count == 3
        audit.use_key(session, key)
        record_event(session, NOW, "signed-in")
    with db.transaction(sessions) as session:
        events = session.scalars(select(AuditEvent).order_by(AuditEvent.id)).all()
        assert [(e.id, e.chain, e.seal is not None) for e in events] == [
            (1, 1, False),
            (2, 1, False),
            (3, 1, False),
            (4, 2, True),
            (5, 2, True),
        ]
        assert events[3].action == CHAIN_KEYED
        assert events[3].detail.startswith("3 earlier entries verified")
        assert verify_chain(session, key).sealed_id == 5
        session.execute(
            text(
                "INSERT INTO audit_event (id, at, action, detail, prev_hash, entry_hash, chain)"
                " VALUES (6, :at, 'x', '', :p, :h, 1)"
            ),
            {"at": NOW, "p": events[4].entry_hash, "h": bytes(32)},
        )
    with db.transaction(sessions) as session, pytest.raises(AuditChainError, match="#6"):
        verify_chain(session, key)
    engine.dispose()


def test_verify_audit_checks_a_written_head(office: Office, obj, password_file) -> None:  # noqa: F811
    key = _key(office)
    _write(office, key, ["case-opened"])
    with office.session() as session:
        written = verify_chain(session, key).sealed_head
    assert written is not None
    data_dir = str(office.config.data_dir)
    signed = ["--officer", "admin", "--password-file", str(password_file)]
    runner = CliRunner()
    good = runner.invoke(
        main, ["inbox", "verify-audit", data_dir, *signed, "--head", format_head(written)], obj=obj
    )
    assert good.exit_code == 0, good.output
    assert "Every seal is the office's" in good.output
    assert "nothing up to it" in good.output
    other = head_code(bytes(32))
    missing = runner.invoke(
        main, ["inbox", "verify-audit", data_dir, *signed, "--head", other], obj=obj
    )
    assert missing.exit_code == 1
    assert "is not in this audit log" in missing.output
    typo = ("1" if written[0] != "1" else "2") + written[1:]
    mistyped = runner.invoke(
        main, ["inbox", "verify-audit", data_dir, *signed, "--head", typo], obj=obj
    )
    assert mistyped.exit_code == 2
    assert "mistyped" in mistyped.output
    no_officer = runner.invoke(
        main, ["inbox", "verify-audit", data_dir, "--head", written], obj=obj
    )
    assert no_officer.exit_code == 2
    assert "--head needs --officer" in no_officer.output


def test_the_audit_page_shows_the_head_and_checks_a_written_one(office: Office, client) -> None:  # noqa: F811
    login(client)
    page = client.get("/office/audit").get_data(as_text=True)
    assert "every seal is the office's" in page
    with office.session() as session:
        sealed = verify_chain(session).sealed_head
    assert sealed is not None
    assert format_head(sealed) in page
    found = client.get("/office/audit", query_string={"head": sealed.lower()})
    assert "nothing up to it was changed" in found.get_data(as_text=True)
    missing = client.get("/office/audit", query_string={"head": head_code(bytes(32))})
    assert "is not in this audit log" in missing.get_data(as_text=True)
    typo = ("1" if sealed[0] != "1" else "2") + sealed[1:]
    mistyped = client.get("/office/audit", query_string={"head": typo}).get_data(as_text=True)
    assert "was mistyped" in mistyped
    assert 'aria-invalid="true"' in mistyped


def test_the_worked_example_of_protocol_md() -> None:
    """docs/protocol.md §12, version 2: key, seal, entry hash and head of entry 1."""
    key = audit_key(bytes(range(32)))
    body = audit._body(1, datetime(2026, 11, 2, 9), None, "office-created", None, None, "")
    seal = audit._seal(key, audit.GENESIS, body)
    assert key.hex() == "5c0f2a01f3da2728fb378a3242b8e4f9eaaa0c70a4a460710f263de77c740b22"
    assert seal.hex() == "e26ed5e6d76195d359add52638208050408ef239d1c2e81667081cd1654a4575"
    assert audit._hash_2(audit.GENESIS, body, seal).hex() == (
        "d3c7db7829d4dc23141dbbf838805b73f76d65f903a2193687005ae96a494e56"
    )
    assert format_head(head_code(seal)) == "W9QD BSPQ C61"
