"""Initial journal schema: pairs, dirs, files, intents, runs, daemon status.

Revision ID: 0001
Revises:
Create Date: 2026-11-23

Files are keyed by (dir_id, name) in a WITHOUT ROWID table: the name is stored once, children of
a directory are one range scan, and a directory move or rename is one row update of ``dirs``.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "pairs",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.Text, nullable=False, unique=True),
        sa.Column("local_root", sa.Text, nullable=False),
        sa.Column("remote_path", sa.Text, nullable=False),
        sa.Column("device", sa.Integer),
        sa.Column("created_at", sa.Float, nullable=False),
    )
    op.create_table(
        "dirs",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("pair_id", sa.Integer, nullable=False),
        sa.Column("parent_id", sa.Integer),  # NULL only for a pair's root
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("inode", sa.Integer),
        sa.Column("folder_id", sa.Integer),  # 0 = the account root
        sa.Column("remote_name", sa.Text),  # NULL when equal to name
        sa.Column("status", sa.Integer, nullable=False, server_default="0"),
        sa.Column("reason", sa.Text),
    )
    op.create_index("dirs_by_parent", "dirs", ["parent_id", "name"], unique=True)
    op.create_index("dirs_by_inode", "dirs", ["pair_id", "inode"])
    op.create_index("dirs_by_folder", "dirs", ["pair_id", "folder_id"])
    op.create_table(
        "files",
        sa.Column("dir_id", sa.Integer, nullable=False),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("size", sa.Integer, nullable=False),
        sa.Column("mtime_ns", sa.Integer, nullable=False),
        sa.Column("inode", sa.Integer, nullable=False),
        sa.Column("md5", sa.LargeBinary),  # 16 raw bytes
        sa.Column("file_id", sa.Integer),
        sa.Column("remote_name", sa.Text),  # NULL when equal to name
        sa.Column("remote_size", sa.Integer),
        sa.Column("status", sa.Integer, nullable=False, server_default="0"),
        sa.Column("reason", sa.Text),
        sa.PrimaryKeyConstraint("dir_id", "name"),
        sqlite_with_rowid=False,
    )
    op.create_index("files_by_inode", "files", ["inode"])
    op.create_index(
        "files_by_file_id", "files", ["file_id"], sqlite_where=sa.text("file_id IS NOT NULL")
    )
    op.create_table(
        "intents",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("pair_id", sa.Integer, nullable=False),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("folder_id", sa.Integer),
        sa.Column("name", sa.Text),
        sa.Column("size", sa.Integer),
        sa.Column("target_id", sa.Integer),
        sa.Column("created_at", sa.Float, nullable=False),
    )
    op.create_index("intents_by_pair", "intents", ["pair_id"])
    op.create_table(
        "runs",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("pair_id", sa.Integer, nullable=False),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("started_at", sa.Float, nullable=False),
        sa.Column("ended_at", sa.Float),
        sa.Column("result", sa.Text),
        sa.Column("dry_run", sa.Integer, nullable=False, server_default="0"),
        sa.Column("counts", sa.Text),  # JSON
        sa.Column("error", sa.Text),
    )
    op.create_index("runs_by_pair", "runs", ["pair_id", "id"])
    op.create_table(
        "daemon_status",
        sa.Column("pair_name", sa.Text, primary_key=True),
        sa.Column("updated_at", sa.Float, nullable=False),
        sa.Column("state", sa.Text, nullable=False),  # JSON
    )


def downgrade() -> None:
    for table in ("daemon_status", "runs", "intents", "files", "dirs", "pairs"):
        op.drop_table(table)
