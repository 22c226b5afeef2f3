"""Cases people can name, and what each officer has already seen.

``case.ref_year`` and ``case.ref_number`` make the office's own reference (``2026-0042``):
numbered in the inbox in arrival order within the year the server received the case, never
sent to the server. Existing cases are numbered here in the same order new ones get theirs
(received day, then import time, then id).

``case_seen`` keeps when each officer last opened each case, so the dashboard and the case
list can say what is new for that officer: follow-ups imported since, and replies the source
has read since (counted, because the server reports a read as a day, not a time).

``backup.directory`` keeps where each backup was written, so the Backup page can say where the
last one went (None for backups made before this revision, and for restored ones).

Revision ID: 0011_case_refs
Revises: 0007_desks
"""

import sqlalchemy as sa
from alembic import op

revision = "0011_case_refs"
down_revision = "0010_law2"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("case") as batch:
        batch.add_column(sa.Column("ref_year", sa.Integer, nullable=True))
        batch.add_column(sa.Column("ref_number", sa.Integer, nullable=True))
    connection = op.get_bind()
    rows = connection.execute(
        sa.text('SELECT id, received_day FROM "case" ORDER BY received_day, imported_at, id')
    ).all()
    counters: dict[int, int] = {}
    for case_id, received in rows:
        year = int(str(received)[:4])
        counters[year] = counters.get(year, 0) + 1
        connection.execute(
            sa.text('UPDATE "case" SET ref_year = :y, ref_number = :n WHERE id = :id'),
            {"y": year, "n": counters[year], "id": case_id},
        )
    # A unique index, not NOT NULL columns and a constraint: those would make SQLite rebuild
    # the case table, which every other table's foreign keys point to.
    op.create_index("uq_case_ref", "case", ["ref_year", "ref_number"], unique=True)
    op.create_table(
        "case_seen",
        sa.Column("officer_id", sa.Integer, sa.ForeignKey("officer.id"), primary_key=True),
        sa.Column("case_id", sa.String(32), sa.ForeignKey("case.id"), primary_key=True),
        sa.Column("seen_at", sa.DateTime, nullable=False),
        sa.Column("replies_read", sa.Integer, nullable=False, server_default="0"),
    )
    with op.batch_alter_table("backup") as batch:
        batch.add_column(sa.Column("directory", sa.String(4096), nullable=True))


def downgrade() -> None:
    # Plain DROP COLUMN (SQLite 3.35+), not a batch rebuild: rebuilding "case" would break
    # the foreign keys of every row that points to it.
    op.execute('ALTER TABLE "backup" DROP COLUMN directory')
    op.drop_table("case_seen")
    op.drop_index("uq_case_ref", "case")
    op.execute('ALTER TABLE "case" DROP COLUMN ref_number')
    op.execute('ALTER TABLE "case" DROP COLUMN ref_year')
