"""An upload's intent names the local file it sends by inode: after a crash, the interrupted
upload is adopted only for that file, not for another file of the same name and size renamed
onto the path since (`mv b.txt c; mv a.txt b.txt`).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("intents", sa.Column("inode", sa.Integer, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("intents") as batch:
        batch.drop_column("inode")
