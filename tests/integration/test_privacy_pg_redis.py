"""The privacy proofs (tests/services/privacy_cases.py) on the real PostgreSQL and Redis of this machine."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from sqlalchemy import text

from fitloop.config import Settings
from fitloop.store.sql import make_engine, upgrade
from fitloop.store.sql.schema import metadata
from fitloop.wiring import Container
from tests.services.privacy_cases import PrivacyCases, build_started

pytestmark = pytest.mark.integration


def _truncate(url: str) -> None:
    engine = make_engine(url)
    upgrade(engine)
    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {', '.join(t.name for t in metadata.sorted_tables)} RESTART IDENTITY"))
    engine.dispose()


class TestPrivacyOnPostgresWithRedis(PrivacyCases):
    @pytest.fixture
    def ctr(self, pg_url: str, redis_url: str, redis_prefix: str, tmp_path: Path) -> Iterator[Container]:
        settings = Settings(data_dir=tmp_path, database_url=pg_url, redis_url=redis_url, redis_prefix=redis_prefix,
                            demo=True, log_json=False)
        _truncate(settings.database_url)  # before building: pauses persisted by an earlier test must not load
        c = build_started(settings)
        self._redis = redis.Redis.from_url(redis_url)
        self._prefix = redis_prefix
        yield c
        c.close()
        self._redis.close()

    def scan_online(self, ctr: Container) -> bytes:
        r, out = self._redis, []
        for key in r.scan_iter(match=f"{self._prefix}*"):
            kind = r.type(key).decode()
            out.append(key)
            if kind == "string":
                out.append(r.get(key) or b"")
            elif kind == "stream":
                out += [repr(fields).encode() for _, fields in r.xrange(key)]
            elif kind == "hash":
                out += [k + b"=" + v for k, v in r.hgetall(key).items()]
            elif kind in ("list",):
                out += r.lrange(key, 0, -1)
            elif kind in ("set",):
                out += list(r.smembers(key))
        return b"\n".join(out)
