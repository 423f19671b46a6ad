"""The quarantine on SQL: refused messages with code and reason, payloads sealed by the caller."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.engine import Connection, Engine

from fitloop.collect.quarantine import QuarantineRecord
from fitloop.errors import NotFound
from fitloop.store.sql import schema
from fitloop.store.sql._util import begin, connect

__all__ = ["SqlQuarantineStore", "quarantine_rows", "insert_quarantine"]

_T = schema.quarantine


def quarantine_rows(records: Sequence[QuarantineRecord]) -> list[dict[str, Any]]:
    return [{"quarantine_id": r.quarantine_id, "source": r.source, "code": r.code, "reason": r.reason,
             "payload": r.payload, "received_at": r.received_at, "message_id": r.message_id,
             "event_type": r.event_type, "user_ref": r.user_ref, "status": r.status, "attempts": r.attempts,
             "resolved_at": r.resolved_at} for r in records]


def insert_quarantine(conn: Connection, records: Sequence[QuarantineRecord]) -> None:
    if records:
        conn.execute(_T.insert(), quarantine_rows(records))


def _record(r: Any) -> QuarantineRecord:
    return QuarantineRecord(quarantine_id=r.quarantine_id, source=r.source, code=r.code, reason=r.reason,
                            payload=bytes(r.payload), received_at=r.received_at, message_id=r.message_id,
                            event_type=r.event_type, status=r.status, attempts=r.attempts, resolved_at=r.resolved_at,
                            user_ref=r.user_ref)


class SqlQuarantineStore:
    """:class:`~fitloop.store.protocols.QuarantineStore` on SQLite or PostgreSQL."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def list(self, *, source: str | None = None, code: str | None = None, status: str | None = "open",
             limit: int = 100, offset: int = 0) -> list[QuarantineRecord]:
        stmt = select(_T)
        if source is not None:
            stmt = stmt.where(_T.c.source == source)
        if code is not None:
            stmt = stmt.where(_T.c.code == code)
        if status is not None:
            stmt = stmt.where(_T.c.status == status)
        stmt = stmt.order_by(_T.c.received_at, _T.c.quarantine_id).limit(limit).offset(offset)
        with connect(self._engine) as conn:
            return [_record(r) for r in conn.execute(stmt)]

    def get(self, quarantine_id: str) -> QuarantineRecord | None:
        with connect(self._engine) as conn:
            r = conn.execute(select(_T).where(_T.c.quarantine_id == quarantine_id)).first()
        return _record(r) if r else None

    def resolve(self, quarantine_id: str, *, status: str, code: str, reason: str, at: datetime) -> None:
        with begin(self._engine) as conn:
            n = conn.execute(update(_T).where(_T.c.quarantine_id == quarantine_id).values(
                status=status, code=code, reason=reason[:1000], attempts=_T.c.attempts + 1,
                resolved_at=at if status != "open" else None)).rowcount
        if not n:
            raise NotFound(f"no quarantined event {quarantine_id!r}")

    def count(self, *, status: str | None = "open") -> int:
        stmt = select(func.count()).select_from(_T)
        if status is not None:
            stmt = stmt.where(_T.c.status == status)
        with connect(self._engine) as conn:
            return int(conn.execute(stmt).scalar_one())

    def delete_user(self, user_id: str) -> int:
        with begin(self._engine) as conn:
            return int(conn.execute(delete(_T).where(_T.c.user_ref == user_id)).rowcount or 0)
