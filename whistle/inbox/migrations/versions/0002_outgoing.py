"""Bundles: the outgoing queue (replies, purges, acknowledgements), the bundle log, tombstones.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "outgoing",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("kind", sa.String(16), nullable=False, index=True),
        sa.Column("case_id", sa.String(32), nullable=False, index=True),
        sa.Column("record_id", sa.String(64), nullable=True),
        sa.Column("envelope", sa.LargeBinary, nullable=False),
        sa.Column("created", sa.DateTime, nullable=False),
        sa.Column("bundle_sequence", sa.Integer, nullable=True),
        sa.Column("confirmed", sa.DateTime, nullable=True),
    )
    op.create_table(
        "bundle_log",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("direction", sa.String(16), nullable=False),
        sa.Column("sequence", sa.Integer, nullable=False),
        sa.Column("bundle_id", sa.String(64), nullable=False),
        sa.Column("previous", sa.String(64), nullable=True),
        sa.Column("at", sa.DateTime, nullable=False),
        sa.UniqueConstraint("direction", "sequence"),
    )
    op.create_table(
        "tombstone",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("day", sa.Date, nullable=False),
    )


def downgrade() -> None:
    for table in ("tombstone", "bundle_log", "outgoing"):
        op.drop_table(table)
