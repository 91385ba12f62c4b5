"""The history of versioned pairs: when each upload became live (a version's FROM time), the
versions area's folder ids (so moving a file into it costs one call), and what it holds (for
`syncd status`).

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "uploads",
        sa.Column("pair_id", sa.Integer, nullable=False),
        sa.Column("file_id", sa.Integer, nullable=False),
        sa.Column("live_from_ns", sa.Integer, nullable=False),  # UTC, ns since the epoch
        sa.PrimaryKeyConstraint("pair_id", "file_id"),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "version_folders",
        sa.Column("pair_id", sa.Integer, nullable=False),
        sa.Column("rel", sa.Text, nullable=False),  # "" = the versions area itself
        sa.Column("folder_id", sa.Integer, nullable=False),
        sa.PrimaryKeyConstraint("pair_id", "rel"),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "history",
        sa.Column("pair_id", sa.Integer, primary_key=True),
        sa.Column("versions", sa.Integer, nullable=False),
        sa.Column("bytes", sa.Integer, nullable=False),
        sa.Column("counted_at", sa.Float, nullable=True),  # last full count (None: only added)
        sa.Column("upgraded", sa.Integer, nullable=False, server_default="0"),
    )


def downgrade() -> None:
    op.drop_table("history")
    op.drop_table("version_folders")
    op.drop_table("uploads")
