"""Console storage on SQL: logins, sessions, the audit log, merchandising rules and campaign/experiment documents."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from fitloop.errors import Conflict, NotFound
from fitloop.store.protocols import AuditRecord, ConsoleDocument, ConsoleSession, ConsoleUser, MerchRule
from fitloop.store.sql import schema
from fitloop.store.sql._util import begin, connect, upsert

__all__ = ["SqlConsoleUserStore", "SqlConsoleSessionStore", "SqlAuditLog", "SqlMerchandisingStore", "SqlDocumentStore"]

_U, _S, _A, _M, _D = (schema.console_users, schema.console_sessions, schema.console_audit, schema.merch_rules,
                      schema.console_documents)


def _user(r: Any) -> ConsoleUser:
    return ConsoleUser(r.email, r.role, r.password_hash, r.created_at, bool(r.disabled))


class SqlConsoleUserStore:
    """:class:`~fitloop.store.protocols.ConsoleUserStore` on SQLite or PostgreSQL."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def add(self, user: ConsoleUser) -> None:
        try:
            with begin(self._engine) as conn:
                conn.execute(_U.insert().values(email=user.email, role=user.role, password_hash=user.password_hash,
                                                created_at=user.created_at, disabled=user.disabled))
        except IntegrityError:
            raise Conflict(f"a console user {user.email!r} already exists; use `fitloop users passwd` to change "
                           "the password", code="user_exists") from None

    def get(self, email: str) -> ConsoleUser | None:
        with connect(self._engine) as conn:
            r = conn.execute(select(_U).where(_U.c.email == email)).first()
        return _user(r) if r else None

    def list(self) -> list[ConsoleUser]:
        with connect(self._engine) as conn:
            return [_user(r) for r in conn.execute(select(_U).order_by(_U.c.email))]

    def update(self, email: str, *, password_hash: str | None = None, role: str | None = None,
               disabled: bool | None = None) -> None:
        values: dict[str, Any] = {k: v for k, v in (("password_hash", password_hash), ("role", role),
                                                    ("disabled", disabled)) if v is not None}
        with begin(self._engine) as conn:
            n = conn.execute(update(_U).where(_U.c.email == email).values(**values)).rowcount if values else \
                len(conn.execute(select(_U.c.email).where(_U.c.email == email)).all())
        if not n:
            raise NotFound(f"no console user {email!r}; `fitloop users list` shows them")


class SqlConsoleSessionStore:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def put(self, session: ConsoleSession) -> None:
        with begin(self._engine) as conn:
            conn.execute(upsert(_S, self._engine.dialect.name, ["token_hash"],
                                ["email", "csrf_token", "created_at", "expires_at"]).values(
                token_hash=session.token_hash, email=session.email, csrf_token=session.csrf_token,
                created_at=session.created_at, expires_at=session.expires_at))

    def get(self, token_hash: str) -> ConsoleSession | None:
        with connect(self._engine) as conn:
            r = conn.execute(select(_S).where(_S.c.token_hash == token_hash)).first()
        return ConsoleSession(r.token_hash, r.email, r.csrf_token, r.created_at, r.expires_at) if r else None

    def delete(self, token_hash: str) -> None:
        with begin(self._engine) as conn:
            conn.execute(delete(_S).where(_S.c.token_hash == token_hash))

    def purge(self, now: datetime) -> int:
        with begin(self._engine) as conn:
            return int(conn.execute(delete(_S).where(_S.c.expires_at <= now)).rowcount or 0)


class SqlAuditLog:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def append(self, record: AuditRecord) -> None:
        with begin(self._engine) as conn:
            conn.execute(_A.insert().values(ts=record.ts, actor=record.actor[:254], role=record.role[:32],
                                            action=record.action[:64], target=record.target[:255],
                                            allowed=record.allowed, detail=record.detail))

    def list(self, *, limit: int = 100, allowed: bool | None = None) -> list[AuditRecord]:
        q = select(_A).order_by(_A.c.seq.desc()).limit(limit)
        if allowed is not None:
            q = q.where(_A.c.allowed == allowed)
        with connect(self._engine) as conn:
            return [AuditRecord(r.ts, r.actor, r.role, r.action, r.target, bool(r.allowed), r.detail)
                    for r in conn.execute(q)]


class SqlMerchandisingStore:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def add(self, rule: MerchRule) -> None:
        try:
            with begin(self._engine) as conn:
                conn.execute(_M.insert().values(rule_id=rule.rule_id, action=rule.action, item_id=rule.item_id,
                                                slot=rule.slot, segment=rule.segment, created_by=rule.created_by,
                                                created_at=rule.created_at, note=rule.note, days=rule.days,
                                                expires_at=rule.expires_at, anchor=rule.anchor))
        except IntegrityError:
            raise Conflict(f"a rule {rule.rule_id!r} already exists", code="rule_exists") from None

    def list(self) -> list[MerchRule]:
        with connect(self._engine) as conn:
            rows = conn.execute(select(_M).order_by(_M.c.created_at, _M.c.rule_id)).all()
        return [MerchRule(r.rule_id, r.action, r.item_id, r.slot, r.segment, r.created_by, r.created_at, r.note,
                          int(r.days), r.expires_at, r.anchor) for r in rows]

    def delete(self, rule_id: str) -> None:
        with begin(self._engine) as conn:
            n = conn.execute(delete(_M).where(_M.c.rule_id == rule_id)).rowcount
        if not n:
            raise NotFound(f"no merchandising rule {rule_id!r}")


def _doc(r: Any) -> ConsoleDocument:
    return ConsoleDocument(r.doc_id, r.kind, r.name, r.status, r.created_by, r.created_at, r.updated_at, dict(r.data))


class SqlDocumentStore:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def put(self, doc: ConsoleDocument) -> None:
        with begin(self._engine) as conn:
            conn.execute(upsert(_D, self._engine.dialect.name, ["doc_id"],
                                ["kind", "name", "status", "created_by", "created_at", "updated_at", "data"]).values(
                doc_id=doc.doc_id, kind=doc.kind, name=doc.name, status=doc.status, created_by=doc.created_by,
                created_at=doc.created_at, updated_at=doc.updated_at, data=dict(doc.data)))

    def get(self, doc_id: str) -> ConsoleDocument | None:
        with connect(self._engine) as conn:
            r = conn.execute(select(_D).where(_D.c.doc_id == doc_id)).first()
        return _doc(r) if r else None

    def list(self, kind: str, *, limit: int = 200) -> list[ConsoleDocument]:
        with connect(self._engine) as conn:
            rows = conn.execute(select(_D).where(_D.c.kind == kind)
                                .order_by(_D.c.created_at.desc(), _D.c.doc_id).limit(limit)).all()
        return [_doc(r) for r in rows]
