"""Each login row records which pepper its lookup was made with (pepper rotation).

``pepper_id`` is the first 8 bytes of BLAKE2b keyed with the pepper of
``whistle/pepper-id/v1`` (``whistle.submit.pepper.pepper_id``): it names a pepper without
revealing it. NULL on rows from before this revision: they were made with the pepper in use
now, and ``whistle server rotate-pepper`` fills them in before it rotates.

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("logins") as batch:
        batch.add_column(sa.Column("pepper_id", sa.LargeBinary(8), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("logins") as batch:
        batch.drop_column("pepper_id")
