"""Backups: the backup log, office settings, and which records a backup holds.

Revision ID: 0004_backups
Revises: 0003
Create Date: 2026-11-27
"""

import sqlalchemy as sa
from alembic import op

revision = "0004_backups"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "backup",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("backup_id", sa.String(32), nullable=False, unique=True),
        sa.Column("made_at", sa.DateTime, nullable=False),
        sa.Column("officer_id", sa.Integer, nullable=True),
        sa.Column("file_name", sa.String(255), nullable=False),
        sa.Column("size", sa.BigInteger, nullable=False),
        sa.Column("records", sa.Integer, nullable=False),
        sa.Column("last_import_at", sa.DateTime, nullable=True),
        sa.Column("audit_entries", sa.Integer, nullable=False),
        sa.Column("restored", sa.Boolean, nullable=False, server_default=sa.false()),
    )
    op.create_table(
        "setting",
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("value", sa.String(200), nullable=False),
    )
    with op.batch_alter_table("record") as batch:
        batch.add_column(sa.Column("backed_up_at", sa.DateTime, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("record") as batch:
        batch.drop_column("backed_up_at")
    op.drop_table("setting")
    op.drop_table("backup")
