"""Small helpers shared by the SQL adapters."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import OperationalError

from fitloop.store.sql.engine import translate_operational_error

IN_CHUNK = 500  # SQLite limits bound parameters; stay well below it.


def insert_ignore(table: Table, dialect_name: str) -> Any:
    """INSERT … ON CONFLICT DO NOTHING for either backend."""
    if dialect_name == "postgresql":
        return postgresql.insert(table).on_conflict_do_nothing()
    return sqlite.insert(table).on_conflict_do_nothing()


def upsert(table: Table, dialect_name: str, keys: Sequence[str], columns: Sequence[str]) -> Any:
    """INSERT … ON CONFLICT (keys) DO UPDATE SET columns = excluded.columns."""
    mod = postgresql if dialect_name == "postgresql" else sqlite
    stmt = mod.insert(table)
    return stmt.on_conflict_do_update(index_elements=list(keys), set_={c: stmt.excluded[c] for c in columns})


def chunks(seq: Sequence[Any], n: int = IN_CHUNK) -> Iterator[Sequence[Any]]:
    for i in range(0, len(seq), n):
        yield seq[i : i + n]


@contextmanager
def begin(engine: Engine) -> Iterator[Connection]:
    """A transaction whose driver failures surface as :class:`~fitloop.errors.StoreUnavailable`."""
    try:
        with engine.begin() as conn:
            yield conn
    except OperationalError as exc:
        raise translate_operational_error(exc) from exc


@contextmanager
def connect(engine: Engine) -> Iterator[Connection]:
    try:
        with engine.connect() as conn:
            yield conn
    except OperationalError as exc:
        raise translate_operational_error(exc) from exc
