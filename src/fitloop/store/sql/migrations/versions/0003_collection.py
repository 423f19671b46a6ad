"""Collection: sources (hashed write keys), quarantine (sealed payloads), identity links, ingest counters.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

from fitloop.store.sql.schema import UTCDateTime

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sources",
        sa.Column("name", sa.String(20), primary_key=True),
        sa.Column("owner", sa.String(254), nullable=False),
        sa.Column("write_key_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("hmac_secret", sa.LargeBinary),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("revoked_at", UTCDateTime()),
    )
    op.create_table(
        "quarantine",
        sa.Column("quarantine_id", sa.String(32), primary_key=True),
        sa.Column("source", sa.String(20), nullable=False),
        sa.Column("code", sa.String(40), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("payload", sa.LargeBinary, nullable=False),
        sa.Column("received_at", UTCDateTime(), nullable=False),
        sa.Column("message_id", sa.String(128)),
        sa.Column("event_type", sa.String(64)),
        sa.Column("user_ref", sa.String(128)),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("resolved_at", UTCDateTime()),
    )
    op.create_index("ix_quarantine_status_received", "quarantine", ["status", "received_at"])
    op.create_index("ix_quarantine_user_ref", "quarantine", ["user_ref"])
    op.create_table(
        "identity_links",
        sa.Column("anonymous_id", sa.String(128), primary_key=True),
        sa.Column("user_id", sa.String(128), nullable=False),
        sa.Column("source", sa.String(20), nullable=False),
        sa.Column("linked_at", UTCDateTime(), nullable=False),
    )
    op.create_index("ix_identity_links_user", "identity_links", ["user_id"])
    op.create_table(
        "ingest_counters",
        sa.Column("source", sa.String(20), nullable=False),
        sa.Column("type", sa.String(64), nullable=False),
        sa.Column("stored", sa.BigInteger, nullable=False),
        sa.Column("duplicates", sa.BigInteger, nullable=False),
        sa.Column("quarantined", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("source", "type", name="pk_ingest_counters"),
    )


def downgrade() -> None:
    op.drop_table("ingest_counters")
    op.drop_table("identity_links")
    op.drop_table("quarantine")
    op.drop_table("sources")
