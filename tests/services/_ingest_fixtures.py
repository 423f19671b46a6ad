"""Helpers shared by the ingest service tests: a real SQLite store, and a real "disk full" on it."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.engine import Engine

from fitloop.store import Stores

MASTER = "m" * 40


def engine_of(stores: Stores) -> Engine:
    return stores.ingest._engine  # type: ignore[union-attr,attr-defined,no-any-return]


@contextmanager
def disk_full(stores: Stores) -> Iterator[None]:
    """Cap the SQLite file at its current size (``max_page_count``): every write that grows it fails
    with SQLite's own "database or disk is full", exactly as on a full disk."""
    engine = engine_of(stores)
    with engine.connect() as conn:
        pages = conn.execute(text("PRAGMA page_count")).scalar()
    engine.dispose()

    def cap(dbapi_conn: Any, _rec: Any) -> None:
        dbapi_conn.execute(f"PRAGMA max_page_count={pages}")

    event.listen(engine, "connect", cap)
    try:
        yield
    finally:
        event.remove(engine, "connect", cap)
        engine.dispose()
