"""An office with cases, notes, drafts and two officers, for backup and restore tests."""

import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.inbox.conftest import (  # noqa: F401 - fixtures
    PASSWORD,
    Office,
    clock,
    config,
    do_import,
    incoming,
    make_followup,
    make_submission,
    office,
)
from whistle.inbox import cases, compartments, replies
from whistle.inbox.audit import verify_chain
from whistle.inbox.context import OfficerContext
from whistle.inbox.keyring import OfficeKeyring
from whistle.inbox.models import AuditEvent, Case, Officer, Record
from whistle.inbox.officers import add_officer
from whistle.inbox.store import read_attachment, record_meta

SECOND = "beatriu"
SECOND_PASSWORD = "another long enough password"


@dataclass
class Populated:
    office: Office
    case_ids: list[str]


@pytest.fixture
def populated(office: Office) -> Populated:  # noqa: F811
    signed = office.sign_in()
    with office.session() as session:
        add_officer(
            session,
            office.config,
            name=SECOND,
            password=SECOND_PASSWORD,
            roles=("officer",),
            keyring=signed.keyring,
            custodian_keyring=None,
            by_officer_id=signed.officer_id,
        )
    first, envelope = make_submission(office, files=[("ledger.pdf", b"%PDF-1.4 " * 5000)])
    second, envelope2 = make_submission(office, subject="Bribes", desk="ethics")
    do_import(office, [incoming("submission", first.case_id, envelope)])
    do_import(
        office,
        [
            incoming("submission", second.case_id, envelope2),
            incoming("followup", first.case_id, make_followup(office, first, "More news")),
        ],
    )
    with office.session() as session:
        cases.add_note(
            session,
            signed.keyring,
            first.case_id,
            "Call the auditor.",
            officer_id=signed.officer_id,
            now=office.config.clock(),
        )
        replies.save_draft(
            session,
            signed.keyring,
            second.case_id,
            "Thank you, we are looking into it.",
            ctx=OfficerContext(
                officer_id=signed.officer_id,
                now=office.config.clock(),
                today=office.config.clock().date(),
            ),
            files=[("answer.txt", b"draft file")],
        )
    return Populated(office, [first.case_id, second.case_id])


def decrypted_state(office: Office, keyring: OfficeKeyring) -> dict[str, Any]:  # noqa: F811
    """Every case, entry, attachment, note, draft, officer and audit entry, decrypted."""
    state: dict[str, Any] = {}
    today = office.config.today()
    with office.session() as session:
        verify_chain(session)
        for case_id in sorted(session.scalars(_ids(Case.id))):
            detail = cases.case_detail(session, keyring, case_id, today=today)
            assert all(e.error is None for e in detail.entries)
            files = []
            keys = compartments.case_secrets(session, keyring, case_id)
            for record in session.scalars(_records(case_id)):
                count = len(record_meta(keyring, record).get("files") or [])
                for index in range(count):
                    files.append(
                        read_attachment(keys, record, index, office.config.store_dir, limit=2**30)
                    )
            state[case_id] = {
                "entries": [
                    (e.record_id, e.kind, e.form, e.message, e.files) for e in detail.entries
                ],
                "notes": [(n.author, n.created_at, n.text) for n in detail.notes],
                "drafts": [
                    (r.id, r.author, r.state, r.text, r.files)
                    for r in replies.replies(session, keyring, case_id)
                ],
                "files": files,
            }
        state["officers"] = [
            (o.id, o.name, o.password_hash, o.wrapped_keyring, o.roles, o.created_at)
            for o in session.scalars(_ids(Officer).order_by(Officer.id))
        ]
        state["audit"] = [
            (e.id, e.at, e.officer_id, e.action, e.case_id, e.record_id, e.detail, e.entry_hash)
            for e in session.scalars(_ids(AuditEvent).order_by(AuditEvent.id))
        ]
    return state


def _ids(what: Any) -> Any:
    from sqlalchemy import select

    return select(what)


def _records(case_id: str) -> Any:
    from sqlalchemy import select

    return select(Record).where(Record.case_id == case_id).order_by(Record.id)


def table_rows(database: Path) -> dict[str, list[tuple[Any, ...]]]:
    connection = sqlite3.connect(database)
    try:
        tables = [
            r[0] for r in connection.execute("SELECT name FROM sqlite_master WHERE type='table'")
        ]
        return {
            t: sorted(connection.execute(f'SELECT * FROM "{t}"').fetchall(), key=repr)  # noqa: S608
            for t in tables
        }
    finally:
        connection.close()


def tree(path: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(path)): p.read_bytes() for p in sorted(path.rglob("*")) if p.is_file()
    }


__all__ = ["PASSWORD", "SECOND", "SECOND_PASSWORD", "Populated", "decrypted_state"]
