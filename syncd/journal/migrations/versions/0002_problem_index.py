"""Partial index on the rows `syncd status` lists (skipped and failed), so it stays fast on
trees of millions of files without growing the index by one entry per synced file.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("files_problems", "files", ["status"], sqlite_where=sa.text("status != 0"))
    op.create_index("dirs_problems", "dirs", ["status"], sqlite_where=sa.text("status != 0"))


def downgrade() -> None:
    op.drop_index("dirs_problems", "dirs")
    op.drop_index("files_problems", "files")
