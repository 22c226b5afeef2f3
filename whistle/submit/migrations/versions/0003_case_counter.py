"""Each case's login row carries the next record position (the case lock and counter).

Positions used to be max(position) + 1 over the case's records, which races when
two records arrive for one case at once, and restarts at 0 once the inbox has
acknowledged (and the server deleted) every record of a case. The counter on the
login row is incremented with one UPDATE … RETURNING, which also locks the row.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("logins") as batch:
        batch.add_column(
            sa.Column("next_position", sa.Integer, nullable=False, server_default=sa.text("1"))
        )
    op.execute(
        "UPDATE logins SET next_position = COALESCE("
        "(SELECT max(records.position) + 1 FROM records WHERE records.case_id = logins.case_id), 1)"
    )


def downgrade() -> None:
    with op.batch_alter_table("logins") as batch:
        batch.drop_column("next_position")
