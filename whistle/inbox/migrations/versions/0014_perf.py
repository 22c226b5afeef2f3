"""Indexes the case list, search and the dashboard read at 10,000 cases.

``case_grant (holder, case_id)`` replaces the index on ``holder`` alone: the grants an
officer's keys open are then read from the index without visiting the table (the case list
filters on them, and every list, search and dashboard asks which cases they open).
``record (kind, case_id, imported_at)`` lets the dashboard count follow-ups without reading
every record row (each carries its sealed summary).

Revision ID: 0014_perf
Revises: 0013_desk_admin
"""

from alembic import op

revision = "0014_perf"
down_revision = "0013_desk_admin"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_case_grant_holder_case", "case_grant", ["holder", "case_id"])
    op.drop_index("ix_case_grant_holder", "case_grant")
    op.create_index("ix_record_kind_case", "record", ["kind", "case_id", "imported_at"])


def downgrade() -> None:
    op.drop_index("ix_record_kind_case", "record")
    op.create_index("ix_case_grant_holder", "case_grant", ["holder"])
    op.drop_index("ix_case_grant_holder_case", "case_grant")
