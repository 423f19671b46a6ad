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
    # Live A/B split of recommendation strategies (migration 0006): which experiment and arm served the list.
    Column("experiment_id", String(32)),
    Column("arm", String(8)),
    Index("ix_impressions_user_ts", "user_id", "ts"),
    Index("ix_impressions_ts", "ts"),
    Index("ix_impressions_experiment_ts", "experiment_id", "ts"),
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

# ---------------------------------------------------------------- console (migration 0004)
console_users = Table(
    "console_users",
    metadata,
    Column("email", String(254), primary_key=True),
    Column("role", String(32), nullable=False),
    Column("password_hash", String(255), nullable=False),  # scrypt with a per-user salt, never the password
    Column("created_at", UTCDateTime(), nullable=False),
    Column("disabled", Boolean, nullable=False, default=False),
)

console_sessions = Table(
    "console_sessions",
    metadata,
    Column("token_hash", String(64), primary_key=True),  # SHA-256 of the cookie token
    Column("email", String(254), nullable=False),
    Column("csrf_token", String(64), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("expires_at", UTCDateTime(), nullable=False),
    Index("ix_console_sessions_expires", "expires_at"),
)

console_audit = Table(
    "console_audit",
    metadata,
    Column("seq", _SeqType, primary_key=True, autoincrement=True),
    Column("ts", UTCDateTime(), nullable=False),
    Column("actor", String(254), nullable=False),
    Column("role", String(32), nullable=False),
    Column("action", String(64), nullable=False),
    Column("target", String(255), nullable=False),
    Column("allowed", Boolean, nullable=False),
    Column("detail", Text, nullable=False),
)

merch_rules = Table(
    "merch_rules",
    metadata,
    Column("rule_id", String(32), primary_key=True),
    Column("action", String(16), nullable=False),
    Column("item_id", String(128), nullable=False),
    Column("slot", String(32), nullable=False),
    Column("segment", String(64), nullable=False),
    Column("created_by", String(254), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("note", Text, nullable=False),
    Column("days", Integer, nullable=False),
    Column("expires_at", UTCDateTime()),
    Column("anchor", String(128), nullable=False),  # outfit rules: the item whose page shows item_id
)

console_documents = Table(
    "console_documents",
    metadata,
    Column("doc_id", String(32), primary_key=True),
    Column("kind", String(16), nullable=False),
    Column("name", String(200), nullable=False),
    Column("status", String(32), nullable=False),
    Column("created_by", String(254), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
    Column("data", JSONDoc, nullable=False),
    Index("ix_console_documents_kind_created", "kind", "created_at"),
)

__all__ += ["console_users", "console_sessions", "console_audit", "merch_rules", "console_documents"]

# ---------------------------------------------------------------- privacy (migration 0005)
data_keys = Table(
    "data_keys",
    metadata,
    Column("person_id", String(128), primary_key=True),
    Column("master_version", Integer, nullable=False),
    Column("wrapped", LargeBinary, nullable=False),  # the person's AES key, wrapped under the master key
    Column("created_at", UTCDateTime(), nullable=False),
)

identity_vault = Table(
    "identity_vault",
    metadata,
    Column("person_id", String(128), nullable=False),
    Column("field", String(64), nullable=False),
    Column("ciphertext", LargeBinary, nullable=False),  # AES-256-GCM, bound to (person, table, field, person)
    Column("updated_at", UTCDateTime(), nullable=False),
    PrimaryKeyConstraint("person_id", "field", name="pk_identity_vault"),
)

privacy_quarantine = Table(
    "privacy_quarantine",
    metadata,
    Column("quarantine_id", String(32), primary_key=True),
    Column("person_id", String(128), nullable=False),
    Column("source", String(64), nullable=False),
    Column("event_id", String(128), nullable=False),
    Column("event_type", String(64), nullable=False),
    Column("field", String(64), nullable=False),
    Column("ciphertext", LargeBinary),  # the stripped value under the person's data key; NULL when unknown
    Column("received_at", UTCDateTime(), nullable=False),
    Column("status", String(16), nullable=False),
    Index("ix_privacy_quarantine_person", "person_id"),
)

compliance_alerts = Table(
    "compliance_alerts",
    metadata,
    Column("alert_id", String(64), primary_key=True),
    Column("rule", String(64), nullable=False),
    Column("pause_key", String(200), nullable=False),
    Column("message", Text, nullable=False),
    Column("owner", String(254), nullable=False),
    Column("first_ts", UTCDateTime(), nullable=False),
    Column("last_ts", UTCDateTime(), nullable=False),
    Column("count", Integer, nullable=False),
    Column("status", String(16), nullable=False),
    Column("data", JSONDoc, nullable=False),  # Alert.to_dict(): notification, resumption, details
)

compliance_audit = Table(
    "compliance_audit",
    metadata,
    Column("seq", _SeqType, primary_key=True, autoincrement=True),
    Column("ts", UTCDateTime(), nullable=False),
    Column("action", String(32), nullable=False),
    Column("pause_key", String(200)),
    Column("actor", String(254), nullable=False),
    Column("alert_id", String(64)),
    Column("detail", JSONDoc, nullable=False),
)

dp_budgets = Table(
    "dp_budgets",
    metadata,
    Column("period", String(32), primary_key=True),
    Column("epsilon_total", Float, nullable=False),
    Column("spent", Float, nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
)

privacy_erasures = Table(
    "privacy_erasures",
    metadata,
    Column("subject_hash", String(64), primary_key=True),  # HMAC of the erased id, never the id itself
    Column("erased_at", UTCDateTime(), nullable=False),
    Column("summary", JSONDoc, nullable=False),  # rows removed per store, consent history without the id
)

__all__ += ["data_keys", "identity_vault", "privacy_quarantine", "compliance_alerts", "compliance_audit",
            "dp_budgets", "privacy_erasures"]
