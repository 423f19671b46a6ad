"""The one place that picks concrete adapters: settings in, stores and services out.

>>> from fitloop.config import Settings
>>> stores = build_stores(Settings(database_url="sqlite:///:memory:", demo=True))
>>> [h.name for h in stores.health()]
['database']
>>> stores.close()
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import text

from fitloop.config import Settings
from fitloop.errors import StoreUnavailable
from fitloop.services.recommend import RecommendationService, Recommender
from fitloop.store import Stores
from fitloop.store.memory import MemoryCache, MemoryEventBus
from fitloop.store.sql import (
    SqlCatalogStore,
    SqlEventStore,
    SqlImpressionLog,
    SqlModelRegistry,
    SqlProfileStore,
    SqlUserStore,
    current_revision,
    head_revision,
    make_engine,
    upgrade,
)

__all__ = ["Container", "build", "build_stores"]

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
        impressions=SqlImpressionLog(engine),
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


def load_recommender(path: str) -> Recommender:
    """Load a recommender bundle folder (format checked, no pickles)."""
    from fitloop.recommend.bundle import load_bundle

    return load_bundle(path)  # type: ignore[no-any-return]


@dataclass
class Container:
    """Everything one process needs: settings, stores and the services built on them."""

    settings: Settings
    stores: Stores
    recommendations: RecommendationService
    _started: list[Callable[[], None]] = field(default_factory=list)

    def start(self) -> None:
        """Start background workers (model reloader, batch writers)."""
        self.recommendations.start()
        self._started.append(self.recommendations.stop)

    def stop(self) -> None:
        while self._started:
            self._started.pop()()

    def close(self) -> None:
        self.stop()
        self.stores.close()


def build(settings: Settings) -> Container:
    """Settings in, a ready container out. Secrets are checked here (weak ones refused outside demo mode)."""
    settings = settings.with_secrets()
    stores = build_stores(settings)
    return Container(
        settings=settings,
        stores=stores,
        recommendations=RecommendationService(stores, load_recommender),
    )
