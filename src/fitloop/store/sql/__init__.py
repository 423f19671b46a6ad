"""SQL adapters (SQLAlchemy 2 Core) for SQLite and PostgreSQL, plus Alembic migrations."""

from fitloop.store.sql.catalog import SqlCatalogStore
from fitloop.store.sql.engine import make_engine
from fitloop.store.sql.events import SqlEventStore
from fitloop.store.sql.impressions import SqlImpressionLog
from fitloop.store.sql.ingest_log import SqlIngestLog
from fitloop.store.sql.migrate import current_revision, head_revision, upgrade
from fitloop.store.sql.models import SqlModelRegistry
from fitloop.store.sql.privacy import SqlDataKeyStore, SqlPrivacyStore
from fitloop.store.sql.profiles import SqlProfileStore
from fitloop.store.sql.quarantine import SqlQuarantineStore
from fitloop.store.sql.sources import SqlSourceStore
from fitloop.store.sql.users import SqlUserStore

__all__ = [
    "SqlCatalogStore",
    "SqlEventStore",
    "SqlImpressionLog",
    "SqlIngestLog",
    "SqlModelRegistry",
    "SqlDataKeyStore",
    "SqlPrivacyStore",
    "SqlProfileStore",
    "SqlQuarantineStore",
    "SqlSourceStore",
    "SqlUserStore",
    "current_revision",
    "head_revision",
    "make_engine",
    "upgrade",
]
