"""Bundles: the bundle log, tombstones, courier challenges; replies remember their first read.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "bundle_log",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("direction", sa.String(16), nullable=False),
        sa.Column("sequence", sa.Integer, nullable=False),
        sa.Column("bundle_id", sa.String(64), nullable=False),
        sa.Column("day", sa.Date, nullable=False),
        sa.UniqueConstraint("direction", "sequence", name="uq_bundle_log_sequence"),
    )
    op.create_table(
        "tombstones",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("day", sa.Date, nullable=False),
    )
    op.create_table(
        "courier_challenges",
        sa.Column("nonce", sa.String(64), primary_key=True),
        sa.Column("expires", sa.Integer, nullable=False),
    )
    with op.batch_alter_table("records") as batch:
        batch.add_column(sa.Column("first_read", sa.Date, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("records") as batch:
        batch.drop_column("first_read")
    op.drop_table("courier_challenges")
    op.drop_table("tombstones")
    op.drop_table("bundle_log")
