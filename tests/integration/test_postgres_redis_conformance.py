"""The same storage conformance suite on the real PostgreSQL and Redis of this machine."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import text

from fitloop.config import Settings
from fitloop.store import Cache, EventBus, Stores
from fitloop.store.redis_store import RedisCache, RedisEventBus, connect_redis
from fitloop.store.sql.schema import metadata
from fitloop.testing import CacheConformance, EventBusConformance, StoreConformance
from fitloop.wiring import build_stores

pytestmark = pytest.mark.integration


def _truncate(stores_url: str) -> None:
    from fitloop.store.sql import make_engine

    engine = make_engine(stores_url)
    with engine.begin() as conn:
        names = ", ".join(t.name for t in metadata.sorted_tables)
        conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY"))
    engine.dispose()


class TestPostgresWithRedis(StoreConformance):
    @pytest.fixture
    def stores(self, pg_url: str, redis_url: str, redis_prefix: str) -> Iterator[Stores]:
        s = build_stores(Settings(database_url=pg_url, redis_url=redis_url, redis_prefix=redis_prefix, demo=True))
        _truncate(pg_url)
        yield s
        s.close()

    def test_health_names_both_services(self, stores: Stores) -> None:
        names = {h.name: h for h in stores.health()}
        assert set(names) == {"database", "redis"}
        assert "postgresql" in names["database"].detail


class TestRedisCache(CacheConformance):
    @pytest.fixture
    def cache(self, redis_url: str, redis_prefix: str) -> Iterator[Cache]:
        client = connect_redis(redis_url)
        yield RedisCache(client, prefix=redis_prefix)
        client.close()


class TestRedisBus(EventBusConformance):
    @pytest.fixture
    def bus(self, redis_url: str, redis_prefix: str) -> Iterator[EventBus]:
        client = connect_redis(redis_url)
        yield RedisEventBus(client, prefix=redis_prefix + "stream:")
        client.close()


def test_readiness_fails_when_redis_is_down(pg_url: str) -> None:
    s = build_stores(Settings(database_url=pg_url, redis_url="redis://127.0.0.1:1/0", demo=True))
    health = {h.name: h for h in s.health()}
    assert health["database"].ok and not health["redis"].ok
    assert "Redis is unavailable" in health["redis"].detail
    s.close()
