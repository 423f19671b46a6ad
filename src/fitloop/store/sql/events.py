"""Event log on SQL: idempotent append on ``event_id``, scans, counts and training frames."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

import pandas as pd
from sqlalchemy import Text, cast, delete, func, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError

from fitloop.data import Event, EventType, fastjson
from fitloop.store.protocols import AppendResult
from fitloop.store.sql import schema
from fitloop.store.sql._util import begin, chunks, connect, insert_ignore

__all__ = ["SqlEventStore"]

_T = schema.events
_SQLITE_TAIL = ("SELECT seq, event_id, type, user_id, anonymous_id, ts, item_id, size, quantity, price, source, properties "
                "FROM events WHERE seq > ? ORDER BY seq LIMIT ?")


def _row(ev: Event, received_at: datetime) -> dict[str, Any]:
    return {
        "event_id": ev.event_id,
        "type": ev.type.value,
        "user_id": ev.user_id,
        "anonymous_id": ev.anonymous_id,
        "ts": ev.ts,
        "received_at": received_at,
        "item_id": ev.item_id,
        "size": ev.size,
        "quantity": ev.quantity,
        "price": ev.price,
        "source": ev.source,
        "properties": dict(ev.properties),
    }


def _event(r: Any) -> Event:
    return Event(
        event_id=r.event_id,
        type=EventType(r.type),
        user_id=r.user_id,
        ts=r.ts,
        item_id=r.item_id,
        size=r.size,
        quantity=r.quantity,
        price=r.price,
        properties=r.properties or {},
        source=r.source,
        anonymous_id=r.anonymous_id,
    )


class SqlEventStore:
    """:class:`~fitloop.store.protocols.EventStore` on SQLite or PostgreSQL."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._dialect = engine.dialect.name

    def append(self, events: Sequence[Event], *, received_at: datetime | None = None) -> AppendResult:
        if not events:
            return AppendResult(0, 0)
        received_at = received_at or datetime.now(UTC)
        # Duplicates inside the batch count as duplicates too: keep the first.
        unique: dict[str, Event] = {}
        for ev in events:
            unique.setdefault(ev.event_id, ev)
        in_batch_dupes = len(events) - len(unique)
        ids = list(unique)
        with begin(self._engine) as conn:
            existing: set[str] = set()
            for part in chunks(ids):
                existing.update(conn.execute(select(_T.c.event_id).where(_T.c.event_id.in_(part))).scalars())
            rows = [_row(ev, received_at) for eid, ev in unique.items() if eid not in existing]
            if rows:
                # ON CONFLICT DO NOTHING covers a concurrent writer racing us between the check and the insert.
                conn.execute(insert_ignore(_T, self._dialect), rows)
        return AppendResult(inserted=len(rows), duplicates=in_batch_dupes + len(existing))

    def get(self, event_id: str) -> Event | None:
        with connect(self._engine) as conn:
            r = conn.execute(select(_T).where(_T.c.event_id == event_id)).first()
        return _event(r) if r else None

    def _filtered(self, stmt: Any, user_id: str | None, since: datetime | None, until: datetime | None,
                  types: Iterable[str] | None) -> Any:
        if user_id is not None:
            stmt = stmt.where(_T.c.user_id == user_id)
        if since is not None:
            stmt = stmt.where(_T.c.ts >= since)
        if until is not None:
            stmt = stmt.where(_T.c.ts < until)
        if types is not None:
            stmt = stmt.where(_T.c.type.in_([t.value if isinstance(t, EventType) else t for t in types]))
        return stmt

    def scan(
        self,
        *,
        user_id: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        types: Iterable[str] | None = None,
        after_seq: int | None = None,
        limit: int | None = None,
    ) -> list[Event]:
        stmt = self._filtered(select(_T), user_id, since, until, types)
        if after_seq is not None:
            stmt = stmt.where(_T.c.seq > after_seq)
        stmt = stmt.order_by(_T.c.ts, _T.c.seq)
        if limit is not None:
            stmt = stmt.limit(limit)
        with connect(self._engine) as conn:
            return [_event(r) for r in conn.execute(stmt)]

    def tail(self, after_seq: int = 0, *, limit: int = 1000) -> list[tuple[int, Event]]:
        if self._dialect == "sqlite":
            return self._sqlite_tail(after_seq, limit)
        stmt = select(_T).where(_T.c.seq > after_seq).order_by(_T.c.seq).limit(limit)
        with connect(self._engine) as conn:
            return [(int(r.seq), _event(r)) for r in conn.execute(stmt)]

    def _sqlite_tail(self, after_seq: int, limit: int) -> list[tuple[int, Event]]:
        """:meth:`tail` on the raw driver: the real-time consumers (profiles, re-ranking feedback) read every
        event once more, and SQLAlchemy's per-row result processing (two datetimes, JSON) cost them more than
        building the events. Same values as the SQLAlchemy path (UTC-aware times, parsed properties)."""
        with connect(self._engine) as conn:
            cur = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
            try:
                rows = cur.execute(_SQLITE_TAIL, (after_seq, limit)).fetchall()
            except sqlite3.OperationalError as exc:  # like SQLAlchemy's, so `connect` makes it a StoreUnavailable
                raise OperationalError("SELECT FROM events (tail)", None, exc) from exc
            finally:
                cur.close()
        loads, fromiso = fastjson.loads, datetime.fromisoformat
        return [(seq, Event(eid, EventType(typ), uid, fromiso(ts).replace(tzinfo=UTC), item, size, qty, price,
                            (loads(props) if props else None) or {}, src, anon))
                for seq, eid, typ, uid, anon, ts, item, size, qty, price, src, props in rows]

    def max_seq(self) -> int:
        with connect(self._engine) as conn:
            return int(conn.execute(select(func.coalesce(func.max(_T.c.seq), 0))).scalar_one())

    def count(self, *, type: str | None = None, source: str | None = None) -> int:
        stmt = select(func.count()).select_from(_T)
        if type is not None:
            stmt = stmt.where(_T.c.type == type)
        if source is not None:
            stmt = stmt.where(_T.c.source == source)
        with connect(self._engine) as conn:
            return int(conn.execute(stmt).scalar_one())

    def counts(self) -> list[tuple[str, str, int]]:
        stmt = select(_T.c.type, _T.c.source, func.count()).group_by(_T.c.type, _T.c.source).order_by(_T.c.type, _T.c.source)
        with connect(self._engine) as conn:
            return [(t, s, int(n)) for t, s, n in conn.execute(stmt)]

    def frame(
        self, *, since: datetime | None = None, until: datetime | None = None, types: Iterable[str] | None = None,
        purpose: str | None = None,
    ) -> pd.DataFrame:
        cols = [_T.c.user_id, _T.c.item_id, _T.c.ts, _T.c.type.label("kind"), _T.c.quantity, _T.c.price]
        stmt = self._filtered(select(*cols), None, since, until, types).where(_T.c.item_id.is_not(None)).order_by(_T.c.seq)
        if purpose is not None:
            # Events the privacy gate tagged with purposes are usable only for those purposes; untagged
            # rows (imports, the demo's simulated shop) are usable for what their event type serves.
            text = cast(_T.c.properties, Text)
            stmt = stmt.where(~(text.like('%"_purposes"%') & ~text.like(f'%"{purpose}"%')))
        with connect(self._engine) as conn:
            rows = conn.execute(stmt).all()
        df = pd.DataFrame(rows, columns=["user_id", "item_id", "ts", "kind", "value", "price"])
        if df.empty:
            df = df.astype({"user_id": str, "item_id": str, "kind": str, "value": float, "price": float})
            df["ts"] = pd.to_datetime(df["ts"])
            return df
        df["ts"] = pd.to_datetime(df["ts"], utc=True).dt.tz_localize(None)
        df["value"] = df["value"].astype(float)
        df["price"] = df["price"].astype(float)
        return df

    def relink_user(self, anonymous_id: str, user_id: str) -> int:
        with begin(self._engine) as conn:
            res = conn.execute(
                update(_T).where(_T.c.user_id == anonymous_id).values(user_id=user_id, anonymous_id=anonymous_id)
            )
            return int(res.rowcount or 0)

    def delete_user(self, user_id: str) -> int:
        with begin(self._engine) as conn:
            res = conn.execute(delete(_T).where((_T.c.user_id == user_id) | (_T.c.anonymous_id == user_id)))
            return int(res.rowcount or 0)
