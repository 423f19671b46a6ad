"""Small helpers shared by the SQL adapters."""

from __future__ import annotations

import threading
import weakref
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


def row_chunk_sizes(n: int, max_rows: int = 256) -> list[int]:
    """How many rows each multi-row ``INSERT … VALUES (…), (…)`` takes: full chunks of ``max_rows`` (a power of
    two), then the rest as powers of two, so that few statement texts ever exist (each compiled once and
    kept in the driver's statement cache).

    >>> row_chunk_sizes(700), row_chunk_sizes(5), row_chunk_sizes(0)
    ([256, 256, 128, 32, 16, 8, 4], [4, 1], [])
    """
    sizes = [max_rows] * (n // max_rows)
    rest = n % max_rows
    bit = max_rows // 2
    while rest:
        if rest >= bit:
            sizes.append(bit)
            rest -= bit
        bit //= 2
    return sizes


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


_WRITE_LOCKS: weakref.WeakKeyDictionary[Engine, threading.Lock] = weakref.WeakKeyDictionary()
_WRITE_LOCKS_GUARD = threading.Lock()


def _write_lock(engine: Engine) -> threading.Lock:
    with _WRITE_LOCKS_GUARD:
        lock = _WRITE_LOCKS.get(engine)
        if lock is None:
            lock = _WRITE_LOCKS[engine] = threading.Lock()
        return lock


@contextmanager
def begin_bulk_write(engine: Engine) -> Iterator[Connection]:
    """:func:`begin` for the large, frequent write transactions of one process on SQLite (the event group
    commit, the profile updater), taken one after the other through an in-process lock.

    SQLite has one writer at a time; a second one waits in SQLite's busy handler, which *sleeps* 1, 2, 5, 10 …
    ms between attempts and so oversleeps the moment the lock frees. Waiting on a Python lock instead wakes
    the next writer as soon as the other commits. (Other processes and other writes still meet at SQLite's
    lock, as before.) On PostgreSQL this is plain :func:`begin`: it has row locks, not one write lock.
    """
    if engine.dialect.name != "sqlite":
        with begin(engine) as conn:
            yield conn
        return
    with _write_lock(engine), begin(engine) as conn:
        yield conn


@contextmanager
def connect(engine: Engine) -> Iterator[Connection]:
    try:
        with engine.connect() as conn:
            yield conn
    except OperationalError as exc:
        raise translate_operational_error(exc) from exc
