"""Real PostgreSQL and Redis on 127.0.0.1 for integration tests.

A throwaway database is created for the session and dropped afterwards. When a
service is unreachable the tests skip with the reason, except in CI
(``FITLOOP_REQUIRE_SERVICES=1``, set by ``.ci/run``), where they fail.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import create_engine, text

PG_ADMIN_URL = os.environ.get("FITLOOP_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("FITLOOP_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
REQUIRED = os.environ.get("FITLOOP_REQUIRE_SERVICES") == "1"


def _unavailable(what: str, exc: Exception) -> None:
    msg = f"{what} is not reachable ({type(exc).__name__}: {str(exc).splitlines()[0][:120]})"
    if REQUIRED:
        pytest.fail(msg + "; CI requires it (FITLOOP_REQUIRE_SERVICES=1)")
    pytest.skip(msg + "; start it to run the integration tests")


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """URL of a fresh PostgreSQL database for this test session."""
    name = f"fitloop_test_{uuid.uuid4().hex[:8]}"
    try:
        admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:  # noqa: BLE001
        _unavailable("PostgreSQL", exc)
    base = PG_ADMIN_URL.rsplit("/", 1)[0]
    yield f"{base}/{name}"
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(scope="session")
def redis_url() -> str:
    import redis

    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping()
    except Exception as exc:  # noqa: BLE001
        _unavailable("Redis", exc)
    return REDIS_URL


@pytest.fixture
def redis_prefix(redis_url: str) -> Iterator[str]:
    """A key namespace unique to one test, removed afterwards."""
    import redis

    prefix = f"fitloop-test:{uuid.uuid4().hex[:8]}:"
    yield prefix
    client = redis.Redis.from_url(redis_url)
    keys = list(client.scan_iter(match=prefix + "*"))
    if keys:
        client.delete(*keys)
    client.close()
