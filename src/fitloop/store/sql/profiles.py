"""Derived per-shopper profiles as JSON documents on SQL.

On SQLite, :meth:`SqlProfileStore.put_many` and :meth:`SqlProfileStore.get_many` (what the real-time
profile updater calls for every batch, with thousands of documents of a few KB each) go through the raw
driver with orjson instead of SQLAlchemy's per-row bind and result processing: several times less CPU
per document, on a thread that shares the API process with ingestion.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import OperationalError

from fitloop.data import fastjson
from fitloop.store.sql import schema
from fitloop.store.sql._util import begin, begin_bulk_write, chunks, connect, row_chunk_sizes, upsert

__all__ = ["SqlProfileStore"]

_P = schema.profiles

_SQLITE_GET = "SELECT user_id, data FROM profiles WHERE user_id IN (SELECT value FROM json_each(?))"


@lru_cache(maxsize=16)
def _sqlite_upsert(n: int) -> str:
    return ("INSERT INTO profiles (user_id, data, updated_at) VALUES " + ",".join(["(?,?,?)"] * n)
            + " ON CONFLICT (user_id) DO UPDATE SET data = excluded.data, updated_at = excluded.updated_at")


def _raw(conn: Connection) -> Any:
    return conn.connection.driver_connection.cursor()  # type: ignore[union-attr]


def _sqlite_text_ts(dt: datetime) -> str:
    # The text SQLAlchemy's SQLite DateTime writes (naive UTC, microseconds), so both paths read alike.
    return dt.astimezone(UTC).replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")


class SqlProfileStore:
    """:class:`~fitloop.store.protocols.ProfileStore` on SQLite or PostgreSQL."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._dialect = engine.dialect.name

    def put(self, user_id: str, profile: Mapping[str, Any]) -> None:
        self.put_many({user_id: profile})

    def put_many(self, profiles: Mapping[str, Mapping[str, Any]]) -> None:
        if not profiles:
            return
        now = datetime.now(UTC)
        if self._dialect == "sqlite":
            self._sqlite_put_many(profiles, now)
            return
        rows = [{"user_id": u, "data": dict(p), "updated_at": now} for u, p in profiles.items()]
        with begin(self._engine) as conn:
            for part in chunks(rows, 1000):
                conn.execute(upsert(_P, self._dialect, ["user_id"], ["data", "updated_at"]), list(part))

    def _sqlite_put_many(self, profiles: Mapping[str, Mapping[str, Any]], now: datetime) -> None:
        ts = _sqlite_text_ts(now)
        flat: list[Any] = []
        for u, p in profiles.items():
            flat.extend((u, fastjson.dumps(dict(p)), ts))
        with begin_bulk_write(self._engine) as conn:
            cur = _raw(conn)
            try:
                i = 0
                # Multi-row statements: one SQLite step (and one GIL hand-over) per 256 documents, not per document.
                for n in row_chunk_sizes(len(profiles)):
                    cur.execute(_sqlite_upsert(n), flat[i:i + 3 * n])
                    i += 3 * n
            except sqlite3.OperationalError as exc:  # like SQLAlchemy's, so `begin` makes it a StoreUnavailable
                raise OperationalError("UPSERT profiles", None, exc) from exc
            finally:
                cur.close()

    def get(self, user_id: str) -> dict[str, Any] | None:
        with connect(self._engine) as conn:
            r = conn.execute(select(_P.c.data).where(_P.c.user_id == user_id)).first()
        return dict(r.data) if r else None

    def get_many(self, user_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        out: dict[str, dict[str, Any]] = {}
        ids = list(dict.fromkeys(user_ids))
        if self._dialect == "sqlite" and ids:
            with connect(self._engine) as conn:
                cur = _raw(conn)
                try:
                    rows = cur.execute(_SQLITE_GET, (fastjson.dumps(ids),)).fetchall()
                except sqlite3.OperationalError as exc:
                    raise OperationalError("SELECT FROM profiles", None, exc) from exc
                finally:
                    cur.close()
            return {u: fastjson.loads(d) for u, d in rows}
        with connect(self._engine) as conn:
            for part in chunks(ids):
                for r in conn.execute(select(_P.c.user_id, _P.c.data).where(_P.c.user_id.in_(part))):
                    out[r.user_id] = dict(r.data)
        return out

    def delete(self, user_id: str) -> None:
        with begin(self._engine) as conn:
            conn.execute(delete(_P).where(_P.c.user_id == user_id))

    def iter_profiles(self) -> Iterator[tuple[str, dict[str, Any]]]:
        last = ""
        while True:
            with connect(self._engine) as conn:
                rows = conn.execute(select(_P.c.user_id, _P.c.data).where(_P.c.user_id > last).order_by(_P.c.user_id).limit(1000)).all()
            if not rows:
                return
            for r in rows:
                if not r.user_id.startswith("__"):  # reserved bookkeeping documents (stream offsets)
                    yield r.user_id, dict(r.data)
            last = rows[-1].user_id
