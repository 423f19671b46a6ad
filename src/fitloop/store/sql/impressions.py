"""Impression log on SQL: what was shown to whom, by which policy, with which propensities."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.engine import Engine

from fitloop.store.protocols import Impression
from fitloop.store.sql import schema
from fitloop.store.sql._util import begin, connect, insert_ignore

__all__ = ["SqlImpressionLog"]

_T = schema.impressions


class SqlImpressionLog:
    """:class:`~fitloop.store.protocols.ImpressionLog` on SQLite or PostgreSQL (idempotent on request id)."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._dialect = engine.dialect.name

    def log(self, impressions: Sequence[Impression]) -> None:
        if not impressions:
            return
        rows: list[dict[str, Any]] = [
            {"request_id": i.request_id, "user_id": i.user_id, "slot": i.slot, "policy_version": i.policy_version,
             "ts": i.ts, "items": [dict(x) for x in i.items], "context": dict(i.context),
             "experiment_id": i.experiment_id, "arm": i.arm}
            for i in impressions
        ]
        with begin(self._engine) as conn:
            conn.execute(insert_ignore(_T, self._dialect), rows)

    def scan(self, *, user_id: str | None = None, since: datetime | None = None, until: datetime | None = None,
             limit: int | None = None, experiment_id: str | None = None) -> list[Impression]:
        stmt = select(_T)
        if user_id is not None:
            stmt = stmt.where(_T.c.user_id == user_id)
        if experiment_id is not None:
            stmt = stmt.where(_T.c.experiment_id == experiment_id)
        if since is not None:
            stmt = stmt.where(_T.c.ts >= since)
        if until is not None:
            stmt = stmt.where(_T.c.ts < until)
        stmt = stmt.order_by(_T.c.ts, _T.c.request_id)
        if limit is not None:
            stmt = stmt.limit(limit)
        with connect(self._engine) as conn:
            return [Impression(r.request_id, r.user_id, r.slot, r.policy_version, r.ts, tuple(r.items), r.context,
                               r.experiment_id, r.arm)
                    for r in conn.execute(stmt)]

    def count(self) -> int:
        with connect(self._engine) as conn:
            return int(conn.execute(select(func.count()).select_from(_T)).scalar_one())

    def delete_user(self, user_id: str) -> int:
        with begin(self._engine) as conn:
            return int(conn.execute(delete(_T).where(_T.c.user_id == user_id)).rowcount or 0)
