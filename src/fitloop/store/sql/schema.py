"""Table definitions (SQLAlchemy Core), shared by SQLite and PostgreSQL.

The Alembic migrations in ``migrations/versions`` create exactly these tables;
``tests/store/test_migrations.py`` proves the two never drift apart.
Timestamps are stored as naive UTC (:class:`UTCDateTime`) so that SQLite and
PostgreSQL round-trip the same values.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Float,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    TypeDecorator,
)
from sqlalchemy.dialects.postgresql import JSONB

__all__ = ["metadata", "UTCDateTime", "JSONDoc", "events", "items", "variants", "users", "consents", "profiles", "models", "impressions",
           "sources", "quarantine", "identity_links", "ingest_counters"]

metadata = MetaData()


class UTCDateTime(TypeDecorator[datetime]):
    """Aware datetimes in, aware UTC datetimes out; stored naive UTC."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is not None:
            value = value.astimezone(UTC).replace(tzinfo=None)
        return value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC)


# JSONB on PostgreSQL (indexable, compact), JSON text elsewhere.
JSONDoc = JSON().with_variant(JSONB(), "postgresql")

# BigInteger autoincrement needs the Integer variant on SQLite to become the rowid alias.
_SeqType = BigInteger().with_variant(Integer(), "sqlite")

events = Table(
    "events",
    metadata,
    Column("seq", _SeqType, primary_key=True, autoincrement=True),
    Column("event_id", String(128), nullable=False, unique=True),
    Column("type", String(40), nullable=False),
    Column("user_id", String(128), nullable=False),
    Column("anonymous_id", String(128)),
    Column("ts", UTCDateTime(), nullable=False),
    Column("received_at", UTCDateTime(), nullable=False),
    Column("item_id", String(128)),
    Column("size", String(32)),
    Column("quantity", Integer, nullable=False, default=1),
    Column("price", Float),
    Column("source", String(64), nullable=False),
    Column("properties", JSONDoc, nullable=False),
    Index("ix_events_user_ts", "user_id", "ts"),
    Index("ix_events_ts", "ts"),
    Index("ix_events_anonymous_id", "anonymous_id"),
)

items = Table(
    "items",
    metadata,
    Column("item_id", String(128), primary_key=True),
    Column("title", Text, nullable=False),
    Column("category", String(64), nullable=False),
    Column("article_type", String(64), nullable=False),
    Column("price", Float, nullable=False),
    Column("colour", String(64), nullable=False, default=""),
    Column("pattern", String(64), nullable=False, default=""),
    Column("material", String(64), nullable=False, default=""),
    Column("style", String(64), nullable=False, default=""),
    Column("occasion", String(64), nullable=False, default=""),
    Column("eco", Boolean, nullable=False, default=False),
    Column("seasons", JSONDoc, nullable=False),
    Column("product_code", String(128), nullable=False, default=""),
    Column("description", Text, nullable=False, default=""),
    Column("created_at", UTCDateTime()),
    Column("attributes", JSONDoc, nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
)

variants = Table(
    "variants",
    metadata,
    Column("item_id", String(128), nullable=False),
    Column("size", String(32), nullable=False),
    Column("stock", Integer, nullable=False),
    Column("position", Integer, nullable=False, default=0),
    PrimaryKeyConstraint("item_id", "size", name="pk_variants"),
)

users = Table(
    "users",
    metadata,
    Column("user_id", String(128), primary_key=True),
    Column("created_at", UTCDateTime()),
    Column("city", String(64)),
    Column("traits", JSONDoc, nullable=False),
)

consents = Table(
    "consents",
    metadata,
    Column("seq", _SeqType, primary_key=True, autoincrement=True),
    Column("user_id", String(128), nullable=False),
    Column("purpose", String(64), nullable=False),
    Column("version", Integer, nullable=False),
    Column("granted", Boolean, nullable=False),
    Column("ts", UTCDateTime(), nullable=False),
    Column("source", String(64), nullable=False),
    Index("ix_consents_user", "user_id", "seq"),
)

profiles = Table(
    "profiles",
    metadata,
    Column("user_id", String(128), primary_key=True),
    Column("data", JSONDoc, nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
)

models = Table(
    "models",
    metadata,
    Column("name", String(64), nullable=False),
    Column("version", String(64), nullable=False),
    Column("path", Text, nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("metadata", JSONDoc, nullable=False),
    Column("active", Boolean, nullable=False, default=False),
    PrimaryKeyConstraint("name", "version", name="pk_models"),
)

impressions = Table(
    "impressions",
    metadata,
    Column("request_id", String(64), primary_key=True),
    Column("user_id", String(128), nullable=False),
    Column("slot", String(32), nullable=False),
    Column("policy_version", String(64), nullable=False),
    Column("ts", UTCDateTime(), nullable=False),
    Column("items", JSONDoc, nullable=False),
    Column("context", JSONDoc, nullable=False),
    Index("ix_impressions_user_ts", "user_id", "ts"),
    Index("ix_impressions_ts", "ts"),
)

# ---------------------------------------------------------------- collection (migration 0003)
sources = Table(
    "sources",
    metadata,
    Column("name", String(20), primary_key=True),
    Column("owner", String(254), nullable=False),
    Column("write_key_hash", String(64), nullable=False, unique=True),
    Column("hmac_secret", LargeBinary),  # sealed (AES-GCM), never plain
    Column("created_at", UTCDateTime(), nullable=False),
    Column("revoked_at", UTCDateTime()),
)

quarantine = Table(
    "quarantine",
    metadata,
    Column("quarantine_id", String(32), primary_key=True),
    Column("source", String(20), nullable=False),
    Column("code", String(40), nullable=False),
    Column("reason", Text, nullable=False),
    Column("payload", LargeBinary, nullable=False),  # sealed raw message: may hold personal data
    Column("received_at", UTCDateTime(), nullable=False),
    Column("message_id", String(128)),
    Column("event_type", String(64)),
    Column("user_ref", String(128)),  # userId or anonymousId when readable, for erasure
    Column("status", String(16), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("resolved_at", UTCDateTime()),
    Index("ix_quarantine_status_received", "status", "received_at"),
    Index("ix_quarantine_user_ref", "user_ref"),
)

identity_links = Table(
    "identity_links",
    metadata,
    Column("anonymous_id", String(128), primary_key=True),
    Column("user_id", String(128), nullable=False),
    Column("source", String(20), nullable=False),
    Column("linked_at", UTCDateTime(), nullable=False),
    Index("ix_identity_links_user", "user_id"),
)

ingest_counters = Table(
    "ingest_counters",
    metadata,
    Column("source", String(20), nullable=False),
    Column("type", String(64), nullable=False),
    Column("stored", BigInteger, nullable=False),
    Column("duplicates", BigInteger, nullable=False),
    Column("quarantined", BigInteger, nullable=False),
    PrimaryKeyConstraint("source", "type", name="pk_ingest_counters"),
)

# Keep LargeBinary importable for later migrations (vault ciphertexts, quarantine payloads).
_ = LargeBinary
