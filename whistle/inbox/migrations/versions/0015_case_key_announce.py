"""Case key announcements (docs/protocol.md §17).

``case_key.backed_up_at``: when a backup's snapshot first held the key; the server is told of
it only then. Existing keys get NULL: they are announced after the next backup (the safe
side). ``held_record.case_key``: the case key (public, 32 bytes) a held-back follow-up was
sealed to, as the server said. The outgoing queue takes a new kind, ``case-key``, in its
existing columns, and an index on (kind, case, record id): every export asks which cases'
newest generation has no announcement yet.

Revision ID: 0015_case_key_announce
Revises: 0014_perf
"""

import sqlalchemy as sa
from alembic import op

revision = "0015_case_key_announce"
down_revision = "0014_perf"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("case_key") as batch:
        batch.add_column(sa.Column("backed_up_at", sa.DateTime, nullable=True))
    with op.batch_alter_table("held_record") as batch:
        batch.add_column(sa.Column("case_key", sa.LargeBinary(32), nullable=True))
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
    sent = connection.execute(
        sa.text(
            "SELECT count(*) FROM outgoing WHERE kind = 'case-key' "
            "AND (bundle_sequence IS NOT NULL OR confirmed IS NOT NULL)"
        )
    ).scalar()
    if sent:
        # The server may hold them and seal follow-ups to those keys, which the older code
        # would refuse to it (the server then deletes them).
        raise RuntimeError(
            "Cannot go back before 0015_case_key_announce: "
            f"{sent} case key announcement(s) went to the server, which seals follow-ups "
            "to them."
        )
    # The older code knows no "case-key" rows; they are made again from the case keys.
    connection.execute(sa.text("DELETE FROM outgoing WHERE kind = 'case-key'"))
    op.drop_index("ix_outgoing_kind_case_record", "outgoing")
    with op.batch_alter_table("held_record") as batch:
        batch.drop_column("case_key")
    with op.batch_alter_table("case_key") as batch:
        batch.drop_column("backed_up_at")
