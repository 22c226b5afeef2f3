"""Officers' security keys (WebAuthn with PRF): one row per key, with the officer's second
factor wrapped under the key's PRF output. Existing officers have none and sign in as before.

Revision ID: 0008_second_factor
Revises: 0007_desks
"""

import sqlalchemy as sa
from alembic import op

revision = "0008_second_factor"
down_revision = "0007_desks"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "security_key",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("officer_id", sa.Integer, sa.ForeignKey("officer.id"), nullable=False),
        sa.Column("label", sa.String(64), nullable=False),
        sa.Column("credential_id", sa.LargeBinary, nullable=False, unique=True),
        sa.Column("public_key", sa.LargeBinary, nullable=False),
        sa.Column("sign_count", sa.Integer, nullable=False),
        sa.Column("prf_salt", sa.LargeBinary, nullable=False),
        sa.Column("wrapped_factor", sa.LargeBinary, nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("last_used_at", sa.DateTime, nullable=True),
    )
    op.create_index("ix_security_key_officer_id", "security_key", ["officer_id"])


def downgrade() -> None:
    # An officer with a key has keyrings that open only with it: going back would strand them.
    if op.get_bind().execute(sa.text("SELECT count(*) FROM security_key")).scalar():
        raise RuntimeError(
            "Officers have security keys: reset their passwords with the recovery key "
            "(which removes the keys) before going back to revision 0007_desks."
        )
    op.drop_index("ix_security_key_officer_id", "security_key")
    op.drop_table("security_key")
