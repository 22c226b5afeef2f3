"""Desks as compartments: officers' personal keys, desk compartment keys and their grants,
desk membership, per-case keys and their grants, recusals, search entries per desk and per
case.

The schema only: moving existing content from the storage key into the compartments needs
the keys (``whistle-inbox desks migrate``, with the recovery key; docs/officer-guide.md).

Revision ID: 0007_desks
Revises: 0006_law
"""

import sqlalchemy as sa
from alembic import op

revision = "0007_desks"
down_revision = "0006_law"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("officer") as batch:
        batch.add_column(sa.Column("public_key", sa.LargeBinary(32), nullable=True))
    # An index, not a table constraint: SQLite would rebuild the table others refer to.
    op.create_index("ix_officer_public_key", "officer", ["public_key"], unique=True)
    with op.batch_alter_table("office") as batch:
        batch.add_column(sa.Column("recovery_public_key", sa.LargeBinary(32), nullable=True))
        batch.add_column(sa.Column("compartments_at", sa.DateTime, nullable=True))
    with op.batch_alter_table("case") as batch:
        batch.add_column(sa.Column("verification", sa.LargeBinary, nullable=True))
    op.create_table(
        "compartment",
        sa.Column("desk_id", sa.String(32), primary_key=True),
        sa.Column("generation", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("public_key", sa.LargeBinary(32), nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
    )
    op.create_table(
        "desk_grant",
        sa.Column("desk_id", sa.String(32), primary_key=True),
        sa.Column("generation", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("holder", sa.String(48), primary_key=True),
        sa.Column("grant", sa.LargeBinary(96), nullable=False),
    )
    op.create_index("ix_desk_grant_holder", "desk_grant", ["holder"])
    op.create_table(
        "desk_member",
        sa.Column("desk_id", sa.String(32), primary_key=True),
        sa.Column("officer_id", sa.Integer, sa.ForeignKey("officer.id"), primary_key=True),
        sa.Column("added_at", sa.DateTime, nullable=False),
    )
    op.create_table(
        "case_key",
        sa.Column("case_id", sa.String(32), sa.ForeignKey("case.id"), primary_key=True),
        sa.Column("generation", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("public_key", sa.LargeBinary(32), nullable=False),
    )
    op.create_table(
        "case_grant",
        sa.Column("case_id", sa.String(32), sa.ForeignKey("case.id"), primary_key=True),
        sa.Column("generation", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("holder", sa.String(80), primary_key=True),
        sa.Column("grant", sa.LargeBinary(96), nullable=False),
    )
    op.create_index("ix_case_grant_holder", "case_grant", ["holder"])
    op.create_table(
        "recusal",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("case_id", sa.String(32), nullable=False),
        sa.Column("officer_id", sa.Integer, sa.ForeignKey("officer.id"), nullable=False),
        sa.Column("by_officer_id", sa.Integer, sa.ForeignKey("officer.id"), nullable=False),
        sa.Column("declared_at", sa.DateTime, nullable=False),
        sa.Column("reason", sa.LargeBinary, nullable=False),
    )
    op.create_index("ix_recusal_case_id", "recusal", ["case_id"])
    op.create_table(
        "desk_search",
        sa.Column("desk_id", sa.String(32), primary_key=True),
        sa.Column("blob", sa.LargeBinary, nullable=False),
    )
    op.create_table(
        "case_search",
        sa.Column("case_id", sa.String(32), sa.ForeignKey("case.id"), primary_key=True),
        sa.Column("built_from", sa.String, nullable=False),
        sa.Column("blob", sa.LargeBinary, nullable=False),
    )


def downgrade() -> None:
    moved = op.get_bind().execute(sa.text("SELECT compartments_at FROM office")).scalar()
    if moved is not None:
        # The content is sealed to case keys whose grants these tables hold: going back
        # would leave it unreadable. Restore the backup made before the move instead.
        raise RuntimeError("this inbox's content is in desk compartments: cannot downgrade")
    for table in ("desk_search", "case_search", "recusal", "case_grant", "case_key", "desk_member"):
        op.drop_table(table)
    op.drop_table("desk_grant")
    op.drop_table("compartment")
    op.drop_index("ix_officer_public_key", "officer")
    # Plain ALTER TABLE (SQLite 3.35+, PostgreSQL): a batch rebuild of a table other rows
    # refer to fails with foreign keys on.
    for table, column in (
        ("case", "verification"),
        ("office", "compartments_at"),
        ("office", "recovery_public_key"),
        ("officer", "public_key"),
    ):
        op.execute(f'ALTER TABLE "{table}" DROP COLUMN {column}')
