"""Pseudonymous users and the append-only consent ledger on SQL."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.engine import Engine

from fitloop.data import Consent, User
from fitloop.store.sql import schema
from fitloop.store.sql._util import begin, chunks, connect, upsert

__all__ = ["SqlUserStore"]

_U, _C = schema.users, schema.consents
#: Entries below the last mark that :meth:`SqlUserStore.consent_changes` reports again on PostgreSQL.
PG_RESCAN = 100


class SqlUserStore:
    """:class:`~fitloop.store.protocols.UserStore` on SQLite or PostgreSQL."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._dialect = engine.dialect.name

    def upsert_users(self, users: Sequence[User]) -> None:
        if not users:
            return
        rows = [{"user_id": u.user_id, "created_at": u.created_at, "city": u.city, "traits": dict(u.traits)} for u in users]
        with begin(self._engine) as conn:
            for part in chunks(rows, 1000):
                conn.execute(upsert(_U, self._dialect, ["user_id"], ["city", "traits"]), list(part))

    def get_user(self, user_id: str) -> User | None:
        with connect(self._engine) as conn:
            r = conn.execute(select(_U).where(_U.c.user_id == user_id)).first()
        return User(r.user_id, r.created_at, r.city, r.traits or {}) if r else None

    def count_users(self) -> int:
        with connect(self._engine) as conn:
            return int(conn.execute(select(func.count()).select_from(_U)).scalar_one())

    def iter_user_ids(self) -> Iterator[str]:
        with connect(self._engine) as conn:
            ids = list(conn.execute(select(_U.c.user_id).order_by(_U.c.user_id)).scalars())
        yield from ids

    def append_consents(self, consents: Sequence[Consent]) -> None:
        if not consents:
            return
        rows: list[dict[str, Any]] = [
            {"user_id": c.user_id, "purpose": c.purpose, "version": c.version, "granted": c.granted, "ts": c.ts, "source": c.source}
            for c in consents
        ]
        with begin(self._engine) as conn:
            conn.execute(_C.insert(), rows)

    def consents(self, user_id: str) -> list[Consent]:
        with connect(self._engine) as conn:
            rows = conn.execute(select(_C).where(_C.c.user_id == user_id).order_by(_C.c.seq)).all()
        return [Consent(r.user_id, r.purpose, r.version, r.granted, r.ts, r.source) for r in rows]

    def consent_changes(self, after: int | None = None, *, limit: int = 10_000) -> tuple[int, list[tuple[int, str]] | None]:
        """The ledger's high-water mark (its last ``seq``) and the ``(seq, user_id)`` entries after ``after``.

        ``after=None``: only the mark (and ``[]``). ``None`` instead of the list when more than ``limit``
        entries came in: a reader should then forget every cached ledger. One indexed read either way;
        readers call it once a second to keep consent caches exact across processes.

        SQLite commits one writer at a time, so entries become visible in ``seq`` order. PostgreSQL
        draws ``seq`` before commit, so a slow transaction can show up below a mark already handed
        out: there the last :data:`PG_RESCAN` entries below ``after`` are listed again, and a reader
        skips the ``seq`` values it has already seen (:class:`fitloop.services.privacy.ConsentCache`).
        """
        start = after if after is None or self._dialect == "sqlite" else max(0, after - PG_RESCAN)
        with connect(self._engine) as conn:
            if start is None:
                return int(conn.execute(select(func.max(_C.c.seq))).scalar() or 0), []
            rows = conn.execute(select(_C.c.seq, _C.c.user_id).where(_C.c.seq > start)
                                .order_by(_C.c.seq).limit(limit + 1)).all()
        assert after is not None
        if not rows:
            return after, []
        if len(rows) > limit:
            return int(rows[-1].seq), None
        return max(after, int(rows[-1].seq)), [(int(r.seq), str(r.user_id)) for r in rows]

    def delete_user(self, user_id: str) -> None:
        with begin(self._engine) as conn:
            conn.execute(delete(_U).where(_U.c.user_id == user_id))
            conn.execute(delete(_C).where(_C.c.user_id == user_id))
