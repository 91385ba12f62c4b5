"""A small cache of host answers that rarely change (the account's package limits), so a
one-shot `syncd reconcile` with nothing to do costs only the listings and one authorize.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "host_cache",
        sa.Column("api_url", sa.Text, nullable=False),
        sa.Column("key", sa.Text, nullable=False),
        sa.Column("fetched_at", sa.Float, nullable=False),  # wall clock, seconds
        sa.Column("value", sa.Text, nullable=False),  # JSON
        sa.PrimaryKeyConstraint("api_url", "key"),
    )


def downgrade() -> None:
    op.drop_table("host_cache")
