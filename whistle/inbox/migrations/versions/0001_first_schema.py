"""The first schema: office, officers, cases, records, notes, disclosures, sign-ins, audit.

Revision ID: 0001
Revises:
Create Date: 2026-11-27
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "office",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("card", sa.LargeBinary, nullable=False),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("storage_public_key", sa.LargeBinary, nullable=False),
        sa.Column("recovery_keyring", sa.LargeBinary, nullable=False),
        sa.Column("recovery_custodian_keyring", sa.LargeBinary, nullable=False),
        sa.Column("server_card", sa.LargeBinary, nullable=True),
        sa.Column("server_fingerprint", sa.String(64), nullable=True),
        sa.Column("server_pinned_at", sa.DateTime, nullable=True),
    )
    op.create_table(
        "officer",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(64), nullable=False, unique=True),
        sa.Column("password_hash", sa.String(256), nullable=False),
        sa.Column("wrapped_keyring", sa.LargeBinary, nullable=False),
        sa.Column("wrapped_custodian_keyring", sa.LargeBinary, nullable=True),
        sa.Column("is_officer", sa.Boolean, nullable=False),
        sa.Column("is_manager", sa.Boolean, nullable=False),
        sa.Column("is_custodian", sa.Boolean, nullable=False),
        sa.Column("language", sa.String(8), nullable=True),
        sa.Column("created_at", sa.DateTime, nullable=False),
    )
    op.create_table(
        "case",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("desk_id", sa.String(32), nullable=False, index=True),
        sa.Column("status", sa.String(32), nullable=False, index=True),
        sa.Column("assignee_id", sa.Integer, sa.ForeignKey("officer.id"), nullable=True),
        sa.Column("received_day", sa.Date, nullable=False, index=True),
        sa.Column("last_activity_day", sa.Date, nullable=False),
        sa.Column("imported_at", sa.DateTime, nullable=False),
    )
    op.create_table(
        "record",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("case_id", sa.String(32), sa.ForeignKey("case.id"), nullable=False, index=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("received_day", sa.Date, nullable=False),
        sa.Column("original_hash", sa.LargeBinary, nullable=False),
        sa.Column("original_size", sa.Integer, nullable=False),
        sa.Column("stored_name", sa.String(64), nullable=False, unique=True),
        sa.Column("meta", sa.LargeBinary, nullable=False),
        sa.Column("imported_at", sa.DateTime, nullable=False),
    )
    op.create_table(
        "note",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("case_id", sa.String(32), sa.ForeignKey("case.id"), nullable=False, index=True),
        sa.Column("author_id", sa.Integer, sa.ForeignKey("officer.id"), nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("body", sa.LargeBinary, nullable=False),
    )
    op.create_table(
        "disclosure",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("case_id", sa.String(32), sa.ForeignKey("case.id"), nullable=False, index=True),
        sa.Column("officer_id", sa.Integer, sa.ForeignKey("officer.id"), nullable=False),
        sa.Column("decided_at", sa.DateTime, nullable=False),
        sa.Column("reason", sa.LargeBinary, nullable=False),
    )
    op.create_table(
        "login_attempt",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(64), nullable=False, index=True),
        sa.Column("attempted_at", sa.DateTime, nullable=False, index=True),
        sa.Column("succeeded", sa.Boolean, nullable=False),
    )
    op.create_table(
        "audit_event",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("at", sa.DateTime, nullable=False, index=True),
        sa.Column("officer_id", sa.Integer, sa.ForeignKey("officer.id"), nullable=True),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("case_id", sa.String(32), nullable=True),
        sa.Column("record_id", sa.String(64), nullable=True),
        sa.Column("detail", sa.String(500), nullable=False),
    )


def downgrade() -> None:
    for table in (
        "audit_event",
        "login_attempt",
        "disclosure",
        "note",
        "record",
        "case",
        "officer",
        "office",
    ):
        op.drop_table(table)
