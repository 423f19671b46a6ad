"""Initial tables: events, catalog, users and consent ledger, profiles, model registry.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

from fitloop.store.sql.schema import JSONDoc, UTCDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

_Seq = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "events",
        sa.Column("seq", _Seq, primary_key=True, autoincrement=True),
        sa.Column("event_id", sa.String(128), nullable=False, unique=True),
        sa.Column("type", sa.String(40), nullable=False),
        sa.Column("user_id", sa.String(128), nullable=False),
        sa.Column("anonymous_id", sa.String(128)),
        sa.Column("ts", UTCDateTime(), nullable=False),
        sa.Column("received_at", UTCDateTime(), nullable=False),
        sa.Column("item_id", sa.String(128)),
        sa.Column("size", sa.String(32)),
        sa.Column("quantity", sa.Integer, nullable=False),
        sa.Column("price", sa.Float),
        sa.Column("source", sa.String(64), nullable=False),
        sa.Column("properties", JSONDoc, nullable=False),
    )
    op.create_index("ix_events_user_ts", "events", ["user_id", "ts"])
    op.create_index("ix_events_ts", "events", ["ts"])
    op.create_index("ix_events_anonymous_id", "events", ["anonymous_id"])
    op.create_table(
        "items",
        sa.Column("item_id", sa.String(128), primary_key=True),
        sa.Column("title", sa.Text, nullable=False),
        sa.Column("category", sa.String(64), nullable=False),
        sa.Column("article_type", sa.String(64), nullable=False),
        sa.Column("price", sa.Float, nullable=False),
        sa.Column("colour", sa.String(64), nullable=False),
        sa.Column("pattern", sa.String(64), nullable=False),
        sa.Column("material", sa.String(64), nullable=False),
        sa.Column("style", sa.String(64), nullable=False),
        sa.Column("occasion", sa.String(64), nullable=False),
        sa.Column("eco", sa.Boolean, nullable=False),
        sa.Column("seasons", JSONDoc, nullable=False),
        sa.Column("product_code", sa.String(128), nullable=False),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("created_at", UTCDateTime()),
        sa.Column("attributes", JSONDoc, nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
    )
    op.create_table(
        "variants",
        sa.Column("item_id", sa.String(128), nullable=False),
        sa.Column("size", sa.String(32), nullable=False),
        sa.Column("stock", sa.Integer, nullable=False),
        sa.Column("position", sa.Integer, nullable=False),
        sa.PrimaryKeyConstraint("item_id", "size", name="pk_variants"),
    )
    op.create_table(
        "users",
        sa.Column("user_id", sa.String(128), primary_key=True),
        sa.Column("created_at", UTCDateTime()),
        sa.Column("city", sa.String(64)),
        sa.Column("traits", JSONDoc, nullable=False),
    )
    op.create_table(
        "consents",
        sa.Column("seq", _Seq, primary_key=True, autoincrement=True),
        sa.Column("user_id", sa.String(128), nullable=False),
        sa.Column("purpose", sa.String(64), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("granted", sa.Boolean, nullable=False),
        sa.Column("ts", UTCDateTime(), nullable=False),
        sa.Column("source", sa.String(64), nullable=False),
    )
    op.create_index("ix_consents_user", "consents", ["user_id", "seq"])
    op.create_table(
        "profiles",
        sa.Column("user_id", sa.String(128), primary_key=True),
        sa.Column("data", JSONDoc, nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
    )
    op.create_table(
        "models",
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("version", sa.String(64), nullable=False),
        sa.Column("path", sa.Text, nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("metadata", JSONDoc, nullable=False),
        sa.Column("active", sa.Boolean, nullable=False),
        sa.PrimaryKeyConstraint("name", "version", name="pk_models"),
    )


def downgrade() -> None:
    for name in ("models", "profiles", "consents", "users", "variants", "items", "events"):
        op.drop_table(name)
