"""Privacy on SQL: wrapped data keys, the identity vault, stripped fields, compliance alerts and audit,
DP budgets and erasure records (migration 0005).

>>> from datetime import datetime, timezone
>>> from fitloop.privacy.vault import WrappedKey
>>> from fitloop.store.sql import make_engine, upgrade
>>> e = make_engine("sqlite:///:memory:"); upgrade(e)
>>> keys = SqlDataKeyStore(e)
>>> keys.add(WrappedKey("p1", 1, b"a")).wrapped, keys.add(WrappedKey("p1", 1, b"b")).wrapped
(b'a', b'a')
>>> SqlPrivacyStore(e).reserve_budget("2026-01", 0.4, 1.0), SqlPrivacyStore(e).reserve_budget("2026-01", 0.7, 1.0)
(0.6, None)
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.engine import Engine

from fitloop.privacy.vault import WrappedKey
from fitloop.store.protocols import StrippedField
from fitloop.store.sql import schema
from fitloop.store.sql._util import begin, chunks, connect, insert_ignore, upsert

__all__ = ["SqlDataKeyStore", "SqlPrivacyStore"]

_K = schema.data_keys
_V = schema.identity_vault
_Q = schema.privacy_quarantine
_A = schema.compliance_alerts
_AU = schema.compliance_audit
_B = schema.dp_budgets
_E = schema.privacy_erasures


def _wk(r: Any) -> WrappedKey:
    return WrappedKey(r.person_id, int(r.master_version), bytes(r.wrapped))


class SqlDataKeyStore:
    """A :class:`fitloop.privacy.vault.DataKeyStore` on SQL; ``add`` is atomic across processes
    (INSERT … ON CONFLICT DO NOTHING, then read back the winner)."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._dialect = engine.dialect.name

    def get(self, person_id: str) -> WrappedKey | None:
        with connect(self._engine) as conn:
            r = conn.execute(select(_K).where(_K.c.person_id == person_id)).first()
        return _wk(r) if r is not None else None

    def add(self, key: WrappedKey) -> WrappedKey:
        with begin(self._engine) as conn:
            conn.execute(insert_ignore(_K, self._dialect).values(
                person_id=key.person_id, master_version=key.master_version, wrapped=key.wrapped,
                created_at=datetime.now(UTC)))
            r = conn.execute(select(_K).where(_K.c.person_id == key.person_id)).one()
        return _wk(r)

    def put(self, key: WrappedKey) -> None:
        """Replace an existing key's wrapping. A key erased meanwhile is *not* inserted again: a rewrap racing
        an erasure must never bring a shredded key back (new keys come through :meth:`add`)."""
        with begin(self._engine) as conn:
            conn.execute(update(_K).where(_K.c.person_id == key.person_id).values(
                master_version=key.master_version, wrapped=key.wrapped))

    def delete(self, person_id: str) -> bool:
        with begin(self._engine) as conn:
            return bool(conn.execute(delete(_K).where(_K.c.person_id == person_id)).rowcount)

    def iter(self) -> Iterator[WrappedKey]:
        last = ""
        while True:  # keyset pagination: rewrap can update rows while we walk
            with connect(self._engine) as conn:
                rows = conn.execute(select(_K).where(_K.c.person_id > last).order_by(_K.c.person_id).limit(500)).all()
            if not rows:
                return
            for r in rows:
                yield _wk(r)
            last = rows[-1].person_id


def _stripped(r: Any) -> StrippedField:
    return StrippedField(r.quarantine_id, r.person_id, r.source, r.event_id, r.event_type, r.field,
                         bytes(r.ciphertext) if r.ciphertext is not None else None, r.received_at, r.status)


def _iso(v: Any) -> Any:
    return v.isoformat() if isinstance(v, datetime) else v


class SqlPrivacyStore:
    """A :class:`fitloop.store.protocols.PrivacyStore` on SQL."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._dialect = engine.dialect.name

    # ------------------------------------------------------------------ identity vault
    def put_identity(self, person_id: str, ciphertexts: Mapping[str, bytes], at: datetime) -> None:
        if not ciphertexts:
            return
        rows = [{"person_id": person_id, "field": f, "ciphertext": c, "updated_at": at} for f, c in ciphertexts.items()]
        with begin(self._engine) as conn:
            conn.execute(upsert(_V, self._dialect, ["person_id", "field"], ["ciphertext", "updated_at"]), rows)

    def identity(self, person_id: str) -> dict[str, bytes]:
        with connect(self._engine) as conn:
            rows = conn.execute(select(_V.c.field, _V.c.ciphertext).where(_V.c.person_id == person_id)).all()
        return {r.field: bytes(r.ciphertext) for r in rows}

    def delete_identity(self, person_id: str) -> int:
        with begin(self._engine) as conn:
            return int(conn.execute(delete(_V).where(_V.c.person_id == person_id)).rowcount or 0)

    # ------------------------------------------------------------------ stripped fields
    def add_stripped(self, rows: Sequence[StrippedField]) -> None:
        if not rows:
            return
        with begin(self._engine) as conn:
            conn.execute(insert_ignore(_Q, self._dialect), [
                {"quarantine_id": r.quarantine_id, "person_id": r.person_id, "source": r.source, "event_id": r.event_id,
                 "event_type": r.event_type, "field": r.field, "ciphertext": r.ciphertext,
                 "received_at": r.received_at, "status": r.status} for r in rows])

    def stripped(self, *, person_id: str | None = None, limit: int = 100) -> list[StrippedField]:
        q = select(_Q).order_by(_Q.c.received_at.desc()).limit(limit)
        if person_id is not None:
            q = q.where(_Q.c.person_id == person_id)
        with connect(self._engine) as conn:
            return [_stripped(r) for r in conn.execute(q)]

    def delete_stripped(self, person_id: str) -> int:
        with begin(self._engine) as conn:
            return int(conn.execute(delete(_Q).where(_Q.c.person_id == person_id)).rowcount or 0)

    # ------------------------------------------------------------------ compliance
    def save_alert(self, alert: Mapping[str, Any]) -> None:
        data = {k: _iso(v) for k, v in alert.items()}
        row = {"alert_id": alert["alert_id"], "rule": alert["rule"], "pause_key": str(alert["pause_key"]),
               "message": alert["message"], "owner": str(alert.get("owner") or "dpo")[:254],
               "first_ts": _dt(alert["first_ts"]), "last_ts": _dt(alert["last_ts"]), "count": int(alert["count"]),
               "status": alert["status"], "data": data}
        with begin(self._engine) as conn:
            conn.execute(upsert(_A, self._dialect, ["alert_id"],
                                ["rule", "pause_key", "message", "owner", "first_ts", "last_ts", "count", "status",
                                 "data"]), [row])

    def alerts(self, *, active_only: bool = False, limit: int = 200) -> list[dict[str, Any]]:
        q = select(_A.c.data).order_by(_A.c.first_ts.desc(), _A.c.alert_id.desc()).limit(limit)
        if active_only:
            q = q.where(_A.c.status == "active")
        with connect(self._engine) as conn:
            return [dict(r.data) for r in conn.execute(q)]

    def append_audit(self, entry: Mapping[str, Any]) -> None:
        with begin(self._engine) as conn:
            conn.execute(_AU.insert().values(ts=_dt(entry["ts"]), action=str(entry["action"])[:32],
                                             pause_key=entry.get("pause_key"), actor=str(entry["actor"])[:254],
                                             alert_id=entry.get("alert_id"), detail=dict(entry.get("detail") or {})))

    def audit(self, *, limit: int = 200) -> list[dict[str, Any]]:
        with connect(self._engine) as conn:
            rows = conn.execute(select(_AU).order_by(_AU.c.seq.desc()).limit(limit)).all()
        return [{"ts": r.ts.isoformat(), "action": r.action, "pause_key": r.pause_key, "actor": r.actor,
                 "alert_id": r.alert_id, "detail": dict(r.detail)} for r in rows]

    # ------------------------------------------------------------------ DP budgets
    def reserve_budget(self, period: str, epsilon: float, epsilon_total: float) -> float | None:
        now = datetime.now(UTC)
        with begin(self._engine) as conn:
            conn.execute(insert_ignore(_B, self._dialect).values(period=period, epsilon_total=epsilon_total, spent=0.0,
                                                                 updated_at=now))
            # One conditional UPDATE: two processes can never both spend the last of the budget.
            res = conn.execute(update(_B).where((_B.c.period == period)
                                                & (_B.c.spent + epsilon <= _B.c.epsilon_total + 1e-9))
                               .values(spent=_B.c.spent + epsilon, updated_at=now))
            if not res.rowcount:
                return None
            r = conn.execute(select(_B).where(_B.c.period == period)).one()
        return round(max(0.0, float(r.epsilon_total) - float(r.spent)), 12)

    def budget(self, period: str) -> tuple[float, float] | None:
        with connect(self._engine) as conn:
            r = conn.execute(select(_B).where(_B.c.period == period)).first()
        return (float(r.epsilon_total), float(r.spent)) if r is not None else None

    # ------------------------------------------------------------------ erasure and retention helpers
    def linked_ids(self, user_id: str) -> list[str]:
        L = schema.identity_links
        with connect(self._engine) as conn:
            return [r.anonymous_id for r in conn.execute(select(L.c.anonymous_id).where(L.c.user_id == user_id))]

    def delete_links(self, user_id: str) -> int:
        L = schema.identity_links
        with begin(self._engine) as conn:
            return int(conn.execute(delete(L).where((L.c.user_id == user_id) | (L.c.anonymous_id == user_id)))
                       .rowcount or 0)

    def delete_events(self, event_ids: Sequence[str]) -> int:
        T = schema.events
        n = 0
        with begin(self._engine) as conn:
            for part in chunks(list(event_ids)):
                n += int(conn.execute(delete(T).where(T.c.event_id.in_(part))).rowcount or 0)
        return n

    def set_event_properties(self, event_id: str, properties: Mapping[str, Any]) -> None:
        T = schema.events
        with begin(self._engine) as conn:
            conn.execute(update(T).where(T.c.event_id == event_id).values(properties=dict(properties)))

    def delete_impressions_before(self, ts: datetime) -> int:
        T = schema.impressions
        with begin(self._engine) as conn:
            return int(conn.execute(delete(T).where(T.c.ts < ts)).rowcount or 0)

    def record_erasure(self, subject_hash: str, at: datetime, summary: Mapping[str, Any]) -> None:
        with begin(self._engine) as conn:
            conn.execute(upsert(_E, self._dialect, ["subject_hash"], ["erased_at", "summary"]),
                         [{"subject_hash": subject_hash, "erased_at": at, "summary": dict(summary)}])

    def erased_hashes(self) -> set[str]:
        with connect(self._engine) as conn:
            return {r.subject_hash for r in conn.execute(select(_E.c.subject_hash))}


def _dt(v: Any) -> datetime:
    if isinstance(v, datetime):
        return v
    dt = datetime.fromisoformat(str(v))
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)
