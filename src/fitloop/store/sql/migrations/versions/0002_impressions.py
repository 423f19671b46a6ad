"""Impression log: every served list with policy version and per-item propensity.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

from fitloop.store.sql.schema import JSONDoc, UTCDateTime

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "impressions",
        sa.Column("request_id", sa.String(64), primary_key=True),
        sa.Column("user_id", sa.String(128), nullable=False),
        sa.Column("slot", sa.String(32), nullable=False),
        sa.Column("policy_version", sa.String(64), nullable=False),
        sa.Column("ts", UTCDateTime(), nullable=False),
        sa.Column("items", JSONDoc, nullable=False),
        sa.Column("context", JSONDoc, nullable=False),
    )
    op.create_index("ix_impressions_user_ts", "impressions", ["user_id", "ts"])
    op.create_index("ix_impressions_ts", "impressions", ["ts"])


def downgrade() -> None:
    op.drop_table("impressions")
