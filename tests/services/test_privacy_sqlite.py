"""The privacy proofs on the embedded default: SQLite with the in-process cache and bus."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from fitloop.config import Settings
from fitloop.store.memory import MemoryCache, MemoryEventBus
from fitloop.wiring import Container
from tests.services.privacy_cases import PrivacyCases, build_started


class TestPrivacyOnSqlite(PrivacyCases):
    @pytest.fixture
    def ctr(self, tmp_path: Path) -> Iterator[Container]:
        c = build_started(Settings(data_dir=tmp_path, demo=True, log_json=False))
        yield c
        c.close()

    def scan_online(self, ctr: Container) -> bytes:
        cache, bus = ctr.stores.cache, ctr.stores.bus
        assert isinstance(cache, MemoryCache) and isinstance(bus, MemoryEventBus)
        out = [k.encode() + b"=" + (cache.get(k) or b"") for k in cache.scan_keys("")]
        for topic in list(bus._streams):  # noqa: SLF001 - the test looks at everything the bus holds
            out += [json.dumps(m, default=str).encode() for _, m in bus.read(topic, count=10**9)]
        return b"\n".join(out)
