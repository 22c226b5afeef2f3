"""Desks an office removed (``removed_desk``): where a report still on its way to one goes,
and when its keys went.

Revision ID: 0013_desk_admin
Revises: 0012_wire
"""

import sqlalchemy as sa
from alembic import op

revision = "0013_desk_admin"
down_revision = "0012_wire"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "removed_desk",
        sa.Column("desk_id", sa.String(32), primary_key=True),
        sa.Column("successor_id", sa.String(32), nullable=False),
        sa.Column("removed_at", sa.DateTime, nullable=False),
        sa.Column("epoch", sa.Integer, nullable=False),
        sa.Column("keys_destroyed_at", sa.DateTime, nullable=True),
        sa.Column("by_officer_id", sa.Integer, sa.ForeignKey("officer.id"), nullable=True),
    )


def downgrade() -> None:
    op.drop_table("removed_desk")
