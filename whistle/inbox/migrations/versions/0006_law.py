"""Ley 2/2023 in full: delivery and read days of replies and the clocks they meet, the
withheld acknowledgement, the extension's day, the deletion postponement, categories, the
identified flag, the purged case's whole register line (sealed), the Responsable's steps on a
case (person concerned, referral, disclosure to third parties, measures), and the list of
deletions.

Existing cases keep their dates: an acknowledgement or feedback queued before this revision
counts as delivered on the day it was queued (the server did not report delivery then), and
a case that was only closed gets no feedback day (closing no longer counts as feedback).

Revision ID: 0006_law
Revises: 0005_epochs
"""

import sqlalchemy as sa
from alembic import op

revision = "0006_law"
down_revision = "0005_epochs"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("case") as batch:
        batch.add_column(sa.Column("ack_delivered_day", sa.Date, nullable=True))
        batch.add_column(sa.Column("ack_read_day", sa.Date, nullable=True))
        batch.add_column(sa.Column("ack_withheld_day", sa.Date, nullable=True))
        batch.add_column(sa.Column("feedback_delivered_day", sa.Date, nullable=True))
        batch.add_column(sa.Column("feedback_read_day", sa.Date, nullable=True))
        batch.add_column(sa.Column("extended_day", sa.Date, nullable=True))
        batch.add_column(sa.Column("deletion_postponed_to", sa.Date, nullable=True))
        batch.add_column(sa.Column("meeting_requested_day", sa.Date, nullable=True))
        batch.add_column(sa.Column("meeting_offered_day", sa.Date, nullable=True))
        batch.add_column(sa.Column("category", sa.String(64), nullable=True))
        batch.add_column(sa.Column("identified", sa.Boolean, nullable=True))
    op.execute('UPDATE "case" SET ack_delivered_day = acknowledged_day')
    op.execute('UPDATE "case" SET feedback_delivered_day = feedback_day')
    with op.batch_alter_table("reply") as batch:
        batch.add_column(sa.Column("delivered_day", sa.Date, nullable=True))
        batch.add_column(sa.Column("read_day", sa.Date, nullable=True))
    with op.batch_alter_table("purged_case") as batch:
        batch.add_column(sa.Column("register", sa.LargeBinary, nullable=True))
        batch.alter_column("officer_id", existing_type=sa.Integer, nullable=True)
    op.create_table(
        "step",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("case_id", sa.String(32), sa.ForeignKey("case.id"), nullable=False, index=True),
        sa.Column("officer_id", sa.Integer, sa.ForeignKey("officer.id"), nullable=False),
        sa.Column("at", sa.DateTime, nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("day", sa.Date, nullable=False),
        sa.Column("recipient", sa.String(200), nullable=True),
        sa.Column("immediate", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("reporter_told_day", sa.Date, nullable=True),
        sa.Column("exception", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("note", sa.LargeBinary, nullable=False),
    )
    op.create_table(
        "deletion",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("at", sa.DateTime, nullable=False),
        sa.Column("officer_id", sa.Integer, nullable=True),
        sa.Column("case_id", sa.String(32), nullable=False, index=True),
        sa.Column("target", sa.String(16), nullable=False),
        sa.Column("item", sa.String(400), nullable=False),
        sa.Column("grounds", sa.String(32), nullable=False),
        sa.Column("reason", sa.LargeBinary, nullable=True),
    )


def downgrade() -> None:
    op.drop_table("deletion")
    op.drop_table("step")
    with op.batch_alter_table("purged_case") as batch:
        batch.drop_column("register")
        batch.alter_column("officer_id", existing_type=sa.Integer, nullable=False)
    with op.batch_alter_table("reply") as batch:
        batch.drop_column("read_day")
        batch.drop_column("delivered_day")
    with op.batch_alter_table("case") as batch:
        for column in (
            "identified",
            "category",
            "meeting_offered_day",
            "meeting_requested_day",
            "deletion_postponed_to",
            "extended_day",
            "feedback_read_day",
            "feedback_delivered_day",
            "ack_withheld_day",
            "ack_read_day",
            "ack_delivered_day",
        ):
            batch.drop_column(column)
