"""Event sources on SQL. Write keys are stored as SHA-256 only; HMAC secrets only sealed."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from fitloop.errors import Conflict, NotFound
from fitloop.store.protocols import Source
from fitloop.store.sql import schema
from fitloop.store.sql._util import begin, connect

__all__ = ["SqlSourceStore"]

_T = schema.sources


def _source(r: Any) -> Source:
    return Source(name=r.name, owner=r.owner, write_key_hash=r.write_key_hash, created_at=r.created_at,
                  hmac_secret=bytes(r.hmac_secret) if r.hmac_secret is not None else None, revoked_at=r.revoked_at)


class SqlSourceStore:
    """:class:`~fitloop.store.protocols.SourceStore` on SQLite or PostgreSQL."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def add(self, source: Source) -> None:
        try:
            with begin(self._engine) as conn:
                conn.execute(_T.insert().values(name=source.name, owner=source.owner,
                                                write_key_hash=source.write_key_hash, hmac_secret=source.hmac_secret,
                                                created_at=source.created_at, revoked_at=source.revoked_at))
        except IntegrityError:
            raise Conflict(f"a source named {source.name!r} already exists; pick another name",
                           code="source_exists") from None

    def get(self, name: str) -> Source | None:
        with connect(self._engine) as conn:
            r = conn.execute(select(_T).where(_T.c.name == name)).first()
        return _source(r) if r else None

    def by_key_hash(self, write_key_hash: str) -> Source | None:
        with connect(self._engine) as conn:
            r = conn.execute(select(_T).where(_T.c.write_key_hash == write_key_hash)).first()
        return _source(r) if r else None

    def list(self) -> list[Source]:
        with connect(self._engine) as conn:
            return [_source(r) for r in conn.execute(select(_T).order_by(_T.c.name))]

    def revoke(self, name: str, at: datetime) -> None:
        with begin(self._engine) as conn:
            n = conn.execute(update(_T).where(_T.c.name == name).values(revoked_at=at)).rowcount
        if not n:
            raise NotFound(f"no source named {name!r}; `fitloop sources list` shows them")
