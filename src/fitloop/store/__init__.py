"""Storage roles behind small protocols; concrete adapters live in ``sql/``, ``redis_store`` and ``memory``.

Only :mod:`fitloop.wiring` picks an adapter; services see the protocols.
"""

from fitloop.store.bundle import HealthCheck, Stores
from fitloop.store.protocols import (
    AppendResult,
    Cache,
    CatalogStore,
    CommitResult,
    EventBus,
    EventStore,
    Impression,
    ImpressionLog,
    IngestLog,
    IngestStat,
    ModelRecord,
    ModelRegistry,
    ProfileStore,
    QuarantineStore,
    Source,
    SourceStore,
    StoreHealth,
    UserStore,
)

__all__ = [
    "AppendResult",
    "Cache",
    "CommitResult",
    "CatalogStore",
    "EventBus",
    "EventStore",
    "HealthCheck",
    "Impression",
    "ImpressionLog",
    "IngestLog",
    "IngestStat",
    "ModelRecord",
    "ModelRegistry",
    "ProfileStore",
    "QuarantineStore",
    "Source",
    "SourceStore",
    "StoreHealth",
    "Stores",
    "UserStore",
]
