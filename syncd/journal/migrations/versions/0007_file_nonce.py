"""An encrypted pair's upload records the nonce it was sealed with, and the MD5 of its
ciphertext (what the host's `hash` holds) instead of the plaintext's: the upload then hashes
its bytes once, not twice. Checks of a local file against such a row seal it again under that
nonce (rclone crypt's own way of comparing a local file with a stored one). Rows without a
nonce keep the plaintext's MD5, as before.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("files", sa.Column("nonce", sa.LargeBinary, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("files") as batch:
        batch.drop_column("nonce")
