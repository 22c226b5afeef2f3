"""The source's own copy of what they sent, sealed to a key only their code opens
(docs/protocol.md §7, "The source's copy"), and whether the source wants one
(``logins.keep_copies``: false once they deleted it).

Revision ID: 0008_source
Revises: 0007_law2
"""

import sqlalchemy as sa
from alembic import op

revision = "0008_source"
down_revision = "0007_law2"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "source_copies",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("case_id", sa.String(32), nullable=False),
        sa.Column("position", sa.Integer, nullable=False),
        sa.Column("created", sa.Date, nullable=False),
        sa.Column("size", sa.Integer, nullable=False),
        sa.Column("data", sa.LargeBinary, nullable=False),
    )
    op.create_index("ix_source_copies_case_id", "source_copies", ["case_id"])
    with op.batch_alter_table("logins") as batch:
        batch.add_column(
            sa.Column("keep_copies", sa.Boolean, nullable=False, server_default=sa.true())
        )


def downgrade() -> None:
    with op.batch_alter_table("logins") as batch:
        batch.drop_column("keep_copies")
    op.drop_index("ix_source_copies_case_id", table_name="source_copies")
    op.drop_table("source_copies")
