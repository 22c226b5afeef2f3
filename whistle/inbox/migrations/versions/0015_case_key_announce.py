"""Case key announcements (docs/protocol.md §17).

``case_key.created_at``: when a generation was made; the server is told of it only once a
backup made after that holds it. Existing generations get this migration's time, so they
are announced after the next backup. ``held_record.case_key``: the case key generation a
held-back follow-up was sealed to, as the server said. The outgoing queue takes a new kind,
``case-key``, in its existing columns, and an index on (kind, case, record id): every export
asks which cases' newest generation has no announcement yet.

Revision ID: 0015_case_key_announce
Revises: 0014_perf
"""

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision = "0015_case_key_announce"
down_revision = "0014_perf"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("case_key") as batch:
        batch.add_column(sa.Column("created_at", sa.DateTime, nullable=True))
    op.get_bind().execute(
        sa.text("UPDATE case_key SET created_at = :now WHERE created_at IS NULL"),
        {"now": datetime.now(UTC).replace(tzinfo=None, microsecond=0)},
    )
    with op.batch_alter_table("case_key") as batch:
        batch.alter_column("created_at", existing_type=sa.DateTime, nullable=False)
    with op.batch_alter_table("held_record") as batch:
        batch.add_column(sa.Column("case_key", sa.Integer, nullable=True))
    op.create_index("ix_outgoing_kind_case_record", "outgoing", ["kind", "case_id", "record_id"])


def downgrade() -> None:
    connection = op.get_bind()
    held = connection.execute(
        sa.text("SELECT count(*) FROM held_record WHERE case_key IS NOT NULL")
    ).scalar()
    if held:
        # The older code would try them with the desks' keys only and refuse them to the
        # server, which would delete them.
        raise RuntimeError(
            "Cannot go back before 0015_case_key_announce: "
            f"{held} follow-up(s) sealed to a case key are held back."
        )
    # The older code knows no "case-key" rows; they are made again from the case keys.
    connection.execute(sa.text("DELETE FROM outgoing WHERE kind = 'case-key'"))
    op.drop_index("ix_outgoing_kind_case_record", "outgoing")
    with op.batch_alter_table("held_record") as batch:
        batch.drop_column("case_key")
    with op.batch_alter_table("case_key") as batch:
        batch.drop_column("created_at")
