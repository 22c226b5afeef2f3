"""The office's signed list of deletions, kept to hand back to an inbox restored from an older
backup (docs/bundles.md, "The list of deletions").

Revision ID: 0007_law2
Revises: 0006_protocol_2
"""

import sqlalchemy as sa
from alembic import op

revision = "0007_law2"
down_revision = "0006_protocol_2"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "deletion_list",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("entries", sa.Integer, nullable=False),
        sa.Column("blob", sa.LargeBinary, nullable=False),
        sa.Column("day", sa.Date, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("deletion_list")
