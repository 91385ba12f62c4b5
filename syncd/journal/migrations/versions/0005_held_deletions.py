"""Deletions a guard held back (max_delete, an emptied root) while the rest of the pass ran,
for `syncd status` and `syncd approve`: the user approves exactly the held set shown. And what
the last passes left out of the sync (ignored, unreadable, symlinks...), for `syncd status`.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "held_deletions",
        sa.Column("pair_id", sa.Integer, nullable=False),
        sa.Column("kind", sa.Text, nullable=False),  # the op's kind: trash_file, trash_folder, ...
        sa.Column("rel", sa.Text, nullable=False),
        sa.Column("target_id", sa.Integer, nullable=False),  # remote id (or dir id); -1: none
        sa.Column("files", sa.Integer, nullable=False, server_default="1"),
        sa.Column("held_at", sa.Float, nullable=False),
        sa.Column("reason", sa.Text, nullable=False),  # the guard's message
        sa.Column("approved_at", sa.Float, nullable=True),
        sa.PrimaryKeyConstraint("pair_id", "kind", "rel", "target_id"),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "left_out",
        sa.Column("pair_id", sa.Integer, nullable=False),
        sa.Column("path", sa.Text, nullable=False),  # a directory's ends in "/"
        sa.Column("kind", sa.Text, nullable=False),  # "ignored" | "not synced"
        sa.Column("reason", sa.Text, nullable=False),
        sa.PrimaryKeyConstraint("pair_id", "path"),
        sqlite_with_rowid=False,
    )


def downgrade() -> None:
    op.drop_table("left_out")
    op.drop_table("held_deletions")
