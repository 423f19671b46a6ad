"""The raw-driver fast paths on SQLite give exactly what the SQLAlchemy paths give.

The group commit (multi-row INSERT, existing ids and identity links through ``json_each``), the event log
tail and the profile documents bypass SQLAlchemy on SQLite for speed (docs/benchmarks/ingest.md). These
tests pin their results to the portable SQLAlchemy code they replace, on a real SQLite file.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import text

from fitloop.config import Settings
from fitloop.data import Event, EventType
from fitloop.store import Stores
from fitloop.store.sql import SqlEventStore, SqlIngestLog, SqlProfileStore
from fitloop.store.sql._util import begin_bulk_write, row_chunk_sizes
from fitloop.store.sql.checkpoint import WalCheckpointer
from fitloop.wiring import build_stores

T0 = datetime(2025, 3, 1, 8, 30, tzinfo=UTC)


@pytest.fixture
def stores(tmp_path: Path) -> Iterator[Stores]:
    s = build_stores(Settings(data_dir=tmp_path, demo=True))
    yield s
    s.close()


def _events(n: int, prefix: str = "web:m") -> list[Event]:
    out = []
    for i in range(n):
        order = i % 3 == 0
        out.append(Event(
            f"{prefix}{i}", EventType.ORDER_COMPLETED if order else EventType.PRODUCT_VIEWED, f"u{i % 7}",
            T0 + timedelta(seconds=i, microseconds=(i * 7919) % 1_000_000 if i % 2 else 0),
            item_id=f"sku-{i}" if i % 5 else None, size="M" if order else None, quantity=1 + i % 3,
            price=19.99 + i / 7 if order else None,
            properties={"line": 0, "discount": 0.1 * (i % 4), "tags": ["a", "é"], "context": {"gpc": True}}
            if order else {}, source="web", anonymous_id=f"u{i % 7}" if i % 2 else None))
    return out


def _sqlalchemy_tail(store: SqlEventStore, after: int = 0, limit: int = 10_000) -> list[tuple[int, Event]]:
    store._dialect = "portable"  # type: ignore[attr-defined]  # take the SQLAlchemy branch
    try:
        return store.tail(after, limit=limit)
    finally:
        store._dialect = "sqlite"  # type: ignore[attr-defined]


def test_tail_on_the_raw_driver_equals_the_sqlalchemy_tail(stores: Stores) -> None:
    events = _events(40)
    stores.events.append(events[:20])  # written by SQLAlchemy
    assert stores.ingest is not None
    stores.ingest.commit(events[20:], [], [], received_at=T0)  # written by the raw group commit
    assert isinstance(stores.events, SqlEventStore)
    raw = stores.events.tail(0, limit=100)
    assert [e for _, e in raw] == events
    assert raw == _sqlalchemy_tail(stores.events)
    assert stores.events.tail(raw[9][0], limit=5) == raw[10:15]
    assert all(e.ts.tzinfo is UTC for _, e in raw)


def test_group_commit_of_many_rows_counts_every_duplicate_exactly(stores: Stores) -> None:
    log = stores.ingest
    assert isinstance(log, SqlIngestLog)
    first = _events(300)
    r1 = log.commit(first, [], [], received_at=T0)
    assert len(r1.inserted) == 300 and not r1.duplicate_ids
    # 700 events over several multi-row statements: 300 already stored, 5 repeated inside the group.
    again = first + _events(400, prefix="web:n") + _events(5, prefix="web:n")
    r2 = log.commit(again, [], [], received_at=T0)
    assert len(r2.inserted) == 400
    assert r2.duplicate_ids == {e.event_id for e in first} | {f"web:n{i}" for i in range(5)}
    assert stores.events.count() == 700
    stats = {(s.source, s.type): (s.stored, s.duplicates) for s in log.stats()}
    n_orders = sum(1 for e in first if e.type is EventType.ORDER_COMPLETED)
    n_orders_new = sum(1 for e in _events(400, "web:n") if e.type is EventType.ORDER_COMPLETED)
    assert stats[("web", "order_completed")][0] == n_orders + n_orders_new
    assert sum(d for _, d in stats.values()) == 305
    assert [e for _, e in stores.events.tail(0, limit=1000)] == first + _events(400, prefix="web:n")


def test_group_commit_moves_events_of_linked_anonymous_ids(stores: Stores) -> None:
    log = stores.ingest
    assert log is not None
    log.commit([], [], [("anon-1", "user-1", "web")], received_at=T0)
    ev = Event("web:x", EventType.PRODUCT_VIEWED, "anon-1", T0, item_id="i", source="web", anonymous_id="anon-1")
    other = Event("web:y", EventType.PRODUCT_VIEWED, "anon-2", T0, item_id="i", source="web", anonymous_id="anon-2")
    r = log.commit([ev, other], [], [], received_at=T0)
    assert {e.user_id for e in r.inserted} == {"user-1", "anon-2"}
    assert {e.user_id for _, e in stores.events.tail(0)} == {"user-1", "anon-2"}


def test_profile_documents_round_trip_through_the_raw_paths(stores: Stores) -> None:
    assert isinstance(stores.profiles, SqlProfileStore)
    docs = {f"u{i}": {"n": i, "f": 0.1 * i, "nested": {"k": [1, "x", None]}, "ü": True} for i in range(600)}
    stores.profiles.put_many(docs)
    got = stores.profiles.get_many([f"u{i}" for i in range(0, 600, 7)] + ["nobody"])
    assert got == {f"u{i}": docs[f"u{i}"] for i in range(0, 600, 7)}
    assert stores.profiles.get("u5") == docs["u5"]  # read back by SQLAlchemy
    stores.profiles.put_many({"u5": {"n": -1}})  # upsert replaces the document
    assert stores.profiles.get_many(["u5"]) == {"u5": {"n": -1}}
    assert dict(stores.profiles.iter_profiles())["u599"] == docs["u599"]


def test_row_chunk_sizes_cover_every_row_with_few_statement_shapes() -> None:
    shapes: set[int] = set()
    for n in range(0, 2000, 13):
        sizes = row_chunk_sizes(n)
        assert sum(sizes) == n and all(s & (s - 1) == 0 and s <= 256 for s in sizes)
        shapes.update(sizes)
    assert len(shapes) <= 9


def test_background_checkpoints_copy_the_wal_and_stop_with_the_engine(stores: Stores) -> None:
    log = stores.ingest
    assert isinstance(log, SqlIngestLog)
    log.commit(_events(200), [], [], received_at=T0)
    ckpt = log._checkpointer
    assert isinstance(ckpt, WalCheckpointer) and ckpt.running
    busy, frames, copied = ckpt.checkpoint()
    assert busy == 0 and frames == copied > 0
    engine = log._engine
    with engine.connect() as conn:
        assert conn.execute(text("PRAGMA wal_autocheckpoint")).scalar() == 8000
    engine.dispose()
    assert not ckpt.running and log._checkpointer is None
    log.commit(_events(3, prefix="web:z"), [], [], received_at=T0)  # the next commit starts them again
    assert log._checkpointer is not None and log._checkpointer.running


def test_bulk_writers_of_one_process_take_turns(stores: Stores) -> None:
    engine = stores.ingest._engine  # type: ignore[union-attr]
    inside: list[str] = []
    overlap = threading.Event()

    def writer(name: str) -> None:
        for _ in range(5):
            with begin_bulk_write(engine) as conn:
                inside.append(name)
                if len(inside) > 1:
                    overlap.set()
                conn.execute(text("UPDATE ingest_counters SET stored = stored WHERE 0"))
                time.sleep(0.002)
                inside.remove(name)

    threads = [threading.Thread(target=writer, args=(n,)) for n in ("a", "b", "c")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not overlap.is_set()
