"""Key epochs: each card with its desk and bundle keys sealed to the storage key; the
rotation reminder.

Existing offices start with empty tables: their desk and bundle keys are inside the
officers' version 1 keyrings, which only a password opens, so the first sign-in after
this revision moves them here (``whistle.inbox.epochs.adopt_legacy``).

Revision ID: 0005_epochs
Revises: 0004_backups
"""

import sqlalchemy as sa
from alembic import op

revision = "0005_epochs"
down_revision = "0004_backups"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "key_epoch",
        sa.Column("epoch", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("card", sa.LargeBinary, nullable=False),
        sa.Column("bundle_public", sa.LargeBinary(32), nullable=False),
        sa.Column("bundle_secret", sa.LargeBinary, nullable=True),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("confirmed_at", sa.DateTime, nullable=True),
        sa.Column("destroyed_at", sa.DateTime, nullable=True),
    )
    op.create_table(
        "desk_key",
        sa.Column(
            "epoch",
            sa.Integer,
            sa.ForeignKey("key_epoch.epoch"),
            primary_key=True,
            autoincrement=False,
        ),
        sa.Column("desk_id", sa.String(32), primary_key=True),
        sa.Column("public_key", sa.LargeBinary(32), nullable=False),
        sa.Column("sealed_secret", sa.LargeBinary, nullable=True),
    )
    op.create_table(
        "key_policy",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("reminder_days", sa.Integer, nullable=True),
    )


def downgrade() -> None:
    held = op.get_bind().execute(sa.text("SELECT count(*) FROM key_epoch")).scalar()
    if held:
        # Keyrings of version 2 hold no desk keys: these rows are the only copy.
        raise RuntimeError(
            "refusing to downgrade below 0005_epochs: the key_epoch table holds the office's "
            "desk and bundle keys, and no keyring has another copy of them"
        )
    op.drop_table("key_policy")
    op.drop_table("desk_key")
    op.drop_table("key_epoch")
