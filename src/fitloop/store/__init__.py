"""Storage roles behind small protocols; concrete adapters live in ``sql/``, ``redis_store`` and ``memory``.

Only :mod:`fitloop.wiring` picks an adapter; services see the protocols.
"""

from fitloop.store.bundle import HealthCheck, Stores
from fitloop.store.protocols import (
    AppendResult,
    Cache,
    CatalogStore,
    EventBus,
    EventStore,
    Impression,
    ImpressionLog,
    ModelRecord,
    ModelRegistry,
    ProfileStore,
    StoreHealth,
    UserStore,
)

__all__ = [
    "AppendResult",
    "Cache",
    "CatalogStore",
    "EventBus",
    "EventStore",
    "HealthCheck",
    "Impression",
    "ImpressionLog",
    "ModelRecord",
    "ModelRegistry",
    "ProfileStore",
    "StoreHealth",
    "Stores",
    "UserStore",
]
