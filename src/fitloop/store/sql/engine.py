"""Engine creation for SQLite (embedded default) and PostgreSQL (production)."""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError
from sqlalchemy.pool import NullPool

from fitloop.data import fastjson
from fitloop.errors import StoreUnavailable

__all__ = ["make_engine", "translate_operational_error", "SQLITE_AUTOCHECKPOINT_PAGES"]

log = logging.getLogger(__name__)

#: WAL pages after which a committing connection checkpoints by itself (SQLite's default: 1,000). Higher,
#: because a process that ingests runs the checkpoints in the background
#: (:class:`~fitloop.store.sql.checkpoint.WalCheckpointer`); this remains the safety net that bounds the WAL.
SQLITE_AUTOCHECKPOINT_PAGES = 8000
#: Page cache per SQLite connection, in KiB (SQLite's default: 2,000 KiB). The event log's indexes have
#: random keys (message and shopper ids): with the default cache a group commit of 400 events on a table
#: of 150,000 spent about twice the CPU re-reading and spilling index pages.
SQLITE_CACHE_KIB = 32 * 1024


def make_engine(url: str, *, sqlite_synchronous: str = "FULL", echo: bool = False) -> Engine:
    """An engine tuned for the backend the URL names.

    SQLite runs in WAL mode (readers never block the writer) with a busy
    timeout so concurrent writers queue instead of failing; its folder is
    created if missing, so ``fitloop demo`` works on a fresh machine. JSON
    columns are parsed with orjson (:mod:`fitloop.data.fastjson`: same results
    as :func:`json.loads`, a fraction of the time for profile documents).

    >>> e = make_engine("sqlite:///:memory:")
    >>> e.dialect.name
    'sqlite'
    """
    if url.startswith("sqlite"):
        path = url.split("///", 1)[1] if "///" in url else ""
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        kwargs: dict[str, Any] = {"connect_args": {"check_same_thread": False, "timeout": 30},
                                  "json_deserializer": fastjson.loads}
        if path and path != ":memory:":
            kwargs["pool_use_lifo"] = True  # the group committer gets back the connection whose cache it warmed
        engine = create_engine(url, echo=echo, **kwargs)

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn: sqlite3.Connection, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            if path != ":memory:":
                cur.execute("PRAGMA journal_mode=WAL")
            cur.execute(f"PRAGMA synchronous={sqlite_synchronous}")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.execute(f"PRAGMA wal_autocheckpoint={SQLITE_AUTOCHECKPOINT_PAGES}")
            cur.execute(f"PRAGMA cache_size=-{SQLITE_CACHE_KIB}")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.close()

        return engine
    if url.startswith("postgresql"):
        return create_engine(url, echo=echo, pool_pre_ping=True, pool_size=10, max_overflow=10,
                             json_deserializer=fastjson.loads)
    return create_engine(url, echo=echo, poolclass=NullPool)


def translate_operational_error(exc: OperationalError) -> StoreUnavailable:
    """Turn a driver-level failure (down, locked, disk full) into a retryable :class:`StoreUnavailable`."""
    text = str(exc.orig) if exc.orig is not None else str(exc)
    if "disk" in text.lower() and "full" in text.lower():
        return StoreUnavailable("the database disk is full; free space and retry", code="store_disk_full", retry_after_s=30)
    if "locked" in text.lower():
        return StoreUnavailable("the database is busy; retry shortly", code="store_busy", retry_after_s=1)
    return StoreUnavailable(f"the database is unavailable: {text.splitlines()[0][:200]}", retry_after_s=5)
