"""Registry of model bundles on SQL: which versions exist and which one serves."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.engine import Engine

from fitloop.errors import NotFound
from fitloop.store.protocols import ModelRecord
from fitloop.store.sql import schema
from fitloop.store.sql._util import begin, connect, upsert

__all__ = ["SqlModelRegistry"]

_M = schema.models


def _rec(r: Any) -> ModelRecord:
    return ModelRecord(r.name, r.version, r.path, r.created_at, r.metadata or {}, bool(r.active))


class SqlModelRegistry:
    """:class:`~fitloop.store.protocols.ModelRegistry` on SQLite or PostgreSQL."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._dialect = engine.dialect.name

    def register(self, name: str, version: str, path: str, metadata: Mapping[str, Any], *, activate: bool = True) -> None:
        row = {"name": name, "version": version, "path": path, "created_at": datetime.now(UTC),
               "metadata": dict(metadata), "active": False}
        with begin(self._engine) as conn:
            conn.execute(upsert(_M, self._dialect, ["name", "version"], ["path", "metadata"]), [row])
            if activate:
                self._activate(conn, name, version)

    @staticmethod
    def _activate(conn: Any, name: str, version: str) -> None:
        # One transaction: readers see either the old or the new active version, never none.
        conn.execute(update(_M).where((_M.c.name == name) & (_M.c.version != version)).values(active=False))
        res = conn.execute(update(_M).where((_M.c.name == name) & (_M.c.version == version)).values(active=True))
        if not res.rowcount:
            raise NotFound(f"model {name!r} has no version {version!r}; see `fitloop models list`")

    def activate(self, name: str, version: str) -> None:
        with begin(self._engine) as conn:
            self._activate(conn, name, version)

    def active(self, name: str) -> ModelRecord | None:
        with connect(self._engine) as conn:
            r = conn.execute(select(_M).where((_M.c.name == name) & (_M.c.active.is_(True)))).first()
        return _rec(r) if r else None

    def list(self, name: str) -> list[ModelRecord]:
        with connect(self._engine) as conn:
            rows = conn.execute(select(_M).where(_M.c.name == name).order_by(_M.c.created_at, _M.c.version)).all()
        return [_rec(r) for r in rows]
