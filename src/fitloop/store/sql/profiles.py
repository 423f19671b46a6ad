"""Derived per-shopper profiles as JSON documents on SQL."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.engine import Engine

from fitloop.store.sql import schema
from fitloop.store.sql._util import begin, chunks, connect, upsert

__all__ = ["SqlProfileStore"]

_P = schema.profiles


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
        rows = [{"user_id": u, "data": dict(p), "updated_at": now} for u, p in profiles.items()]
        with begin(self._engine) as conn:
            for part in chunks(rows, 1000):
                conn.execute(upsert(_P, self._dialect, ["user_id"], ["data", "updated_at"]), list(part))

    def get(self, user_id: str) -> dict[str, Any] | None:
        with connect(self._engine) as conn:
            r = conn.execute(select(_P.c.data).where(_P.c.user_id == user_id)).first()
        return dict(r.data) if r else None

    def get_many(self, user_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        out: dict[str, dict[str, Any]] = {}
        ids = list(dict.fromkeys(user_ids))
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
