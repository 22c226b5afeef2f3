"""The workflow: case dates and outcome, decisions, replies, purged cases, search index;
the hash-chained audit log.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27
"""

import hashlib
import json
from datetime import datetime
from types import SimpleNamespace
from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

# Frozen copy of whistle.inbox.audit.entry_hash as of this revision.
DOMAIN = b"whistle/audit/v1"


def _hash(prev: bytes, row: Any) -> bytes:
    at = row.at if isinstance(row.at, datetime) else datetime.fromisoformat(row.at)
    body = json.dumps(
        [
            row.id,
            at.isoformat(),
            row.officer_id,
            row.action,
            row.case_id,
            row.record_id,
            row.detail,
        ],
        ensure_ascii=True,
        separators=(",", ":"),
    ).encode("ascii")
    return hashlib.sha256(DOMAIN + prev + body).digest()


def upgrade() -> None:
    with op.batch_alter_table("case") as batch:
        batch.add_column(sa.Column("acknowledged_day", sa.Date, nullable=True))
        batch.add_column(sa.Column("investigation_day", sa.Date, nullable=True))
        batch.add_column(sa.Column("feedback_day", sa.Date, nullable=True))
        batch.add_column(sa.Column("closed_day", sa.Date, nullable=True))
        batch.add_column(sa.Column("outcome", sa.String(32), nullable=True))
        batch.add_column(
            sa.Column("extended", sa.Boolean, nullable=False, server_default=sa.false())
        )
        batch.add_column(sa.Column("labels", sa.LargeBinary, nullable=True))
    op.create_table(
        "decision",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("case_id", sa.String(32), sa.ForeignKey("case.id"), nullable=False, index=True),
        sa.Column("officer_id", sa.Integer, sa.ForeignKey("officer.id"), nullable=False),
        sa.Column("at", sa.DateTime, nullable=False),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("from_status", sa.String(32), nullable=True),
        sa.Column("to_status", sa.String(32), nullable=True),
        sa.Column("outcome", sa.String(32), nullable=True),
        sa.Column("reason", sa.LargeBinary, nullable=False),
    )
    op.create_table(
        "reply",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("case_id", sa.String(32), sa.ForeignKey("case.id"), nullable=False, index=True),
        sa.Column("author_id", sa.Integer, sa.ForeignKey("officer.id"), nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("updated_at", sa.DateTime, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("purpose", sa.String(16), nullable=False),
        sa.Column("body", sa.LargeBinary, nullable=False),
        sa.Column("outgoing_id", sa.String(64), nullable=True),
    )
    op.create_table(
        "purged_case",
        sa.Column("case_id", sa.String(32), primary_key=True),
        sa.Column("desk_id", sa.String(32), nullable=False),
        sa.Column("received_day", sa.Date, nullable=False),
        sa.Column("purged_at", sa.DateTime, nullable=False),
        sa.Column("officer_id", sa.Integer, sa.ForeignKey("officer.id"), nullable=False),
        sa.Column("grounds", sa.String(32), nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("outcome", sa.String(32), nullable=True),
    )
    op.create_table(
        "search_index",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("blob", sa.LargeBinary, nullable=False),
        sa.Column("updated_at", sa.DateTime, nullable=False),
    )
    with op.batch_alter_table("audit_event") as batch:
        batch.add_column(sa.Column("prev_hash", sa.LargeBinary, nullable=True))
        batch.add_column(sa.Column("entry_hash", sa.LargeBinary, nullable=True))
    # Chain the events written before this revision, in id order, renumbered from 1.
    bind = op.get_bind()
    rows = list(
        bind.execute(
            sa.text(
                "SELECT id, at, officer_id, action, case_id, record_id, detail "
                "FROM audit_event ORDER BY id"
            )
        )
    )
    prev = bytes(32)
    for new_id, row in enumerate(rows, start=1):
        if row.id != new_id:
            bind.execute(
                sa.text("UPDATE audit_event SET id = :new WHERE id = :old"),
                {"new": new_id, "old": row.id},
            )
        renumbered = SimpleNamespace(**{**row._asdict(), "id": new_id})
        digest = _hash(prev, renumbered)
        bind.execute(
            sa.text("UPDATE audit_event SET prev_hash = :p, entry_hash = :h WHERE id = :id"),
            {"p": prev, "h": digest, "id": new_id},
        )
        prev = digest
    # The chain cannot fork: two events never follow the same one.
    op.create_index("uq_audit_event_prev_hash", "audit_event", ["prev_hash"], unique=True)
    op.execute(
        "CREATE TRIGGER audit_event_no_update BEFORE UPDATE ON audit_event "
        "BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END"
    )
    op.execute(
        "CREATE TRIGGER audit_event_no_delete BEFORE DELETE ON audit_event "
        "BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END"
    )


def downgrade() -> None:
    op.execute("DROP TRIGGER IF EXISTS audit_event_no_update")
    op.execute("DROP TRIGGER IF EXISTS audit_event_no_delete")
    op.drop_index("uq_audit_event_prev_hash", "audit_event")
    with op.batch_alter_table("audit_event") as batch:
        batch.drop_column("entry_hash")
        batch.drop_column("prev_hash")
    op.drop_table("search_index")
    op.drop_table("purged_case")
    op.drop_table("reply")
    op.drop_table("decision")
    with op.batch_alter_table("case") as batch:
        for column in (
            "labels",
            "extended",
            "outcome",
            "closed_day",
            "feedback_day",
            "investigation_day",
            "acknowledged_day",
        ):
            batch.drop_column(column)
