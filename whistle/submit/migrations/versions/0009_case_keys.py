"""Case keys (docs/protocol.md §17): per case, the office's newest announced case key, and
per follow-up the public key it was sealed to.

Revision ID: 0009_case_keys
Revises: 0008_source
"""

import sqlalchemy as sa
from alembic import op

revision = "0009_case_keys"
down_revision = "0008_source"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "case_keys",
        sa.Column("case_id", sa.String(32), primary_key=True),
        sa.Column("generation", sa.Integer, nullable=False),
        sa.Column("announcement", sa.LargeBinary, nullable=False),
        sa.Column("applied", sa.Date, nullable=False),
    )
    with op.batch_alter_table("records") as batch:
        batch.add_column(sa.Column("case_key", sa.LargeBinary(32), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("records") as batch:
        batch.drop_column("case_key")
    op.drop_table("case_keys")
