"""The one place that picks concrete adapters: settings in, stores and services out.

>>> from fitloop.config import Settings
>>> stores = build_stores(Settings(database_url="sqlite:///:memory:", demo=True))
>>> [h.name for h in stores.health()]
['database']
>>> stores.close()
"""

from __future__ import annotations

import logging

from sqlalchemy import text

from fitloop.config import Settings
from fitloop.errors import StoreUnavailable
from fitloop.store import Stores
from fitloop.store.memory import MemoryCache, MemoryEventBus
from fitloop.store.sql import (
    SqlCatalogStore,
    SqlEventStore,
    SqlModelRegistry,
    SqlProfileStore,
    SqlUserStore,
    current_revision,
    head_revision,
    make_engine,
    upgrade,
)

__all__ = ["build_stores"]

log = logging.getLogger(__name__)


def build_stores(settings: Settings) -> Stores:
    """Stores for ``settings``: SQLite or PostgreSQL by URL, Redis when ``redis_url`` is set."""
    engine = make_engine(settings.database_url, sqlite_synchronous=settings.sqlite_synchronous)
    if settings.auto_migrate:
        upgrade(engine)
    head = head_revision()

    def check_database() -> str:
        try:
            with engine.connect() as conn:
                conn.execute(text("SELECT 1"))
        except Exception as exc:  # noqa: BLE001 - any driver failure means "not ready"
            raise StoreUnavailable(f"database unreachable: {str(exc).splitlines()[0][:200]}") from exc
        rev = current_revision(engine)
        if rev != head:
            raise StoreUnavailable(f"database schema is at {rev}, code expects {head}; run `fitloop db upgrade`")
        return f"{engine.dialect.name} schema {rev}"

    stores = Stores(
        events=SqlEventStore(engine),
        catalog=SqlCatalogStore(engine),
        users=SqlUserStore(engine),
        profiles=SqlProfileStore(engine),
        models=SqlModelRegistry(engine),
        cache=MemoryCache(),
        bus=MemoryEventBus(),
        checks={"database": check_database},
        closers=[engine.dispose],
    )
    if settings.redis_url:
        from fitloop.store.redis_store import RedisCache, RedisEventBus, connect_redis

        client = connect_redis(settings.redis_url)
        stores.cache = RedisCache(client, prefix=settings.redis_prefix)
        stores.bus = RedisEventBus(client, prefix=settings.redis_prefix + "stream:")

        def check_redis() -> str:
            stores.cache.ping()
            return "redis ok"

        stores.checks["redis"] = check_redis
        stores.closers.append(client.close)
    return stores
