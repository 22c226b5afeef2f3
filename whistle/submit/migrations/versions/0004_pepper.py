"""Each login row carries a tag saying which pepper made its lookup (pepper rotation).

``pepper_tag`` = the first 8 bytes of BLAKE2b keyed with the pepper of
``whistle/pepper-tag/v1`` ‖ lookup (``whistle.submit.pepper.pepper_tag``). Without the
pepper files the tags look random: a copy of the database alone does not show which logins
moved to a new pepper. NULL on rows from before this revision: they were made with the
pepper in use now, and ``whistle server rotate-pepper`` tags them before it rotates.

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
        batch.add_column(sa.Column("pepper_tag", sa.LargeBinary(8), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("logins") as batch:
        batch.drop_column("pepper_tag")
