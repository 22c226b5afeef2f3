"""Key epochs: office cards a rotation brought, and the epoch each record was encrypted to.

Revision ID: 0005_epochs
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005_epochs"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "office_cards",
        sa.Column("epoch", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("card", sa.LargeBinary, nullable=False),
        sa.Column("applied", sa.Date, nullable=False),
    )
    with op.batch_alter_table("records") as batch:
        batch.add_column(sa.Column("epoch", sa.Integer, nullable=True))


def downgrade() -> None:
    if op.get_bind().execute(sa.text("SELECT count(*) FROM office_cards")).scalar():
        # Without them the site would go back to the pinned card, whose keys the office
        # may have destroyed: reports would be encrypted to keys nobody has.
        raise RuntimeError(
            "refusing to downgrade below 0005_epochs: the office has rotated its keys "
            "(office_cards holds the current card)"
        )
    with op.batch_alter_table("records") as batch:
        batch.drop_column("epoch")
    op.drop_table("office_cards")
