"""The keyed audit chain (review finding L6): ``audit_event.chain`` (1 for every event written
before this revision) and ``audit_event.seal`` (HMAC with the office's audit key, see
``whistle/inbox/audit.py``). Existing events are not rewritten (the table refuses UPDATE):
they stay version 1, are verified the first time an officer's key is at hand, and the result
is recorded in the first sealed event.

Plain ADD COLUMN, not a batch copy: a copied table would lose the triggers that refuse
UPDATE and DELETE. Downgrading is refused once sealed events exist: version 1 cannot verify
them.

Revision ID: 0010_law2
Revises: 0007_desks
"""

import sqlalchemy as sa
from alembic import op

revision = "0010_law2"
down_revision = "0008_second_factor"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("audit_event", sa.Column("chain", sa.Integer, nullable=False, server_default="1"))
    op.add_column("audit_event", sa.Column("seal", sa.LargeBinary, nullable=True))


def downgrade() -> None:
    keyed = op.get_bind().execute(sa.text("SELECT count(*) FROM audit_event WHERE chain = 2"))
    if keyed.scalar():
        raise RuntimeError("the audit log has keyed entries: version 0006 cannot verify them")
    op.drop_column("audit_event", "seal")
    op.drop_column("audit_event", "chain")
