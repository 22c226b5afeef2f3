"""First schema: records, chunks, logins.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "records",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("case_id", sa.String(32), nullable=False),
        sa.Column("position", sa.Integer, nullable=False),
        sa.Column(
            "kind",
            sa.Enum("submission", "followup", "reply", name="record_kind"),
            nullable=False,
        ),
        sa.Column("created", sa.Date, nullable=False),
        sa.Column("size", sa.Integer, nullable=False),
        sa.Column("record_hash", sa.LargeBinary(32), nullable=False),
        sa.UniqueConstraint("case_id", "position", name="uq_records_case_position"),
    )
    op.create_index("ix_records_case_id", "records", ["case_id"])
    op.create_table(
        "chunks",
        sa.Column(
            "record_id",
            sa.String(32),
            sa.ForeignKey("records.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("sequence", sa.Integer, primary_key=True),
        sa.Column("data", sa.LargeBinary, nullable=False),
    )
    op.create_table(
        "logins",
        sa.Column("lookup", sa.LargeBinary(32), primary_key=True),
        sa.Column("case_id", sa.String(32), nullable=False, unique=True),
    )


def downgrade() -> None:
    op.drop_table("logins")
    op.drop_table("chunks")
    op.drop_index("ix_records_case_id", table_name="records")
    op.drop_table("records")
    sa.Enum(name="record_kind").drop(op.get_bind(), checkfirst=True)
