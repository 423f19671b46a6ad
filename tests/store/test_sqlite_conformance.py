"""The storage conformance suite on the embedded backends: SQLite (a real file, WAL) and in-process memory."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from fitloop.config import Settings
from fitloop.store import Cache, EventBus, Stores
from fitloop.store.memory import MemoryCache, MemoryEventBus
from fitloop.testing import CacheConformance, EventBusConformance, StoreConformance
from fitloop.wiring import build_stores


class TestSQLite(StoreConformance):
    @pytest.fixture
    def stores(self, tmp_path: Path) -> Iterator[Stores]:
        s = build_stores(Settings(data_dir=tmp_path, demo=True))
        yield s
        s.close()


class TestMemoryCache(CacheConformance):
    @pytest.fixture
    def cache(self) -> Cache:
        return MemoryCache()


class TestMemoryBus(EventBusConformance):
    @pytest.fixture
    def bus(self) -> EventBus:
        return MemoryEventBus()


def test_sqlite_runs_in_wal_mode(tmp_path: Path) -> None:
    s = build_stores(Settings(data_dir=tmp_path, demo=True))
    s.events.count()
    from sqlalchemy import text

    from fitloop.store.sql import make_engine

    engine = make_engine(f"sqlite:///{tmp_path / 'fitloop.db'}")
    with engine.connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
    engine.dispose()
    s.close()
