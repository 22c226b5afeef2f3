"""Keys for records in transit under each desk's compartment, and records held back.

``desk_key.generation``: the desk's compartment key generation a key epoch's desk secret is
granted to (None: still sealed to the storage key, as before). The move itself needs the
storage secret key, which a migration does not have: it happens at the first sign-in after
this revision (``epochs.seal_wire_keys``), and ``desks migrate`` does it at once.

``held_record``: records of a bundle that the officer who imported it could not file (a desk
they are not in), kept exactly as they arrived until a member of that desk files them.

Revision ID: 0012_wire
Revises: 0011_case_refs
"""

import sqlalchemy as sa
from alembic import op

revision = "0012_wire"
down_revision = "0011_case_refs"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("desk_key") as batch:
        batch.add_column(sa.Column("generation", sa.Integer, nullable=True))
    op.create_table(
        "held_record",
        sa.Column("record_id", sa.String(64), primary_key=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("case_id", sa.String(32), nullable=False, index=True),
        sa.Column("received_day", sa.Date, nullable=False),
        sa.Column("epoch", sa.Integer, nullable=True),
        sa.Column("envelope", sa.LargeBinary, nullable=False),
        sa.Column("desk_id", sa.String(32), nullable=True),
        sa.Column("tried", sa.String(1024), nullable=False, server_default=""),
        sa.Column("held_at", sa.DateTime, nullable=False),
    )


def downgrade() -> None:
    connection = op.get_bind()
    moved = connection.execute(
        sa.text(
            "SELECT count(*) FROM desk_key"
            " WHERE generation IS NOT NULL AND sealed_secret IS NOT NULL"
        )
    ).scalar()
    held = connection.execute(sa.text("SELECT count(*) FROM held_record")).scalar()
    if moved or held:
        # The older code would read the grants as storage-key copies (and fail), and would
        # not know the held records exist: nothing it could do would be safe.
        raise RuntimeError(
            "Cannot go back before 0012_wire: desk keys are sealed to desk compartments "
            f"({moved}) or records are held back ({held})."
        )
    op.drop_table("held_record")
    with op.batch_alter_table("desk_key") as batch:
        batch.drop_column("generation")
