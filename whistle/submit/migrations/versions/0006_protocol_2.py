"""Protocol 2: each case remembers the protocol it was opened with and counts its follow-ups.

``protocol`` (1 for every case opened before this revision) tells a source whose own
submission the server has already deleted (acknowledged) how to write a follow-up:
signed and sealed (2) or boxed from the reply key (1). ``followups`` proposes the next
follow-up's number. Both are hints: a server that lies makes the inbox show a gap, a
repeated number or a refused follow-up, never a forged one (docs/protocol.md §7).

Revision ID: 0006_protocol_2
Revises: 0005_epochs
"""

import sqlalchemy as sa
from alembic import op

revision = "0006_protocol_2"
down_revision = "0005_epochs"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("logins") as batch:
        batch.add_column(
            sa.Column("protocol", sa.Integer, nullable=False, server_default=sa.text("1"))
        )
        batch.add_column(
            sa.Column("followups", sa.Integer, nullable=False, server_default=sa.text("0"))
        )


def downgrade() -> None:
    with op.batch_alter_table("logins") as batch:
        batch.drop_column("followups")
        batch.drop_column("protocol")
