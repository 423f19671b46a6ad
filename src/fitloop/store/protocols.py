"""Storage roles, each behind a small protocol (gorse's registry idea, without its 30-method interface).

Services depend on these protocols only; :mod:`fitloop.wiring` picks the
concrete adapter from the settings' URLs (SQLite or PostgreSQL for the
system of record, Redis or in-process memory for cache and event stream).
Methods that change state return ``None`` or a small result record.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol, runtime_checkable

import pandas as pd

from fitloop.data import Consent, Event, Item, User

__all__ = [
    "AppendResult",
    "EventStore",
    "CatalogStore",
    "UserStore",
    "ProfileStore",
    "ModelRecord",
    "ModelRegistry",
    "Cache",
    "EventBus",
    "StoreHealth",
    "Impression",
    "ImpressionLog",
]


@dataclass(frozen=True, slots=True)
class AppendResult:
    """What an append did: new rows and ids that were already stored (dropped as duplicates)."""

    inserted: int
    duplicates: int


@dataclass(frozen=True, slots=True)
class StoreHealth:
    """Readiness of one store for ``/readyz``."""

    name: str
    ok: bool
    detail: str = ""
    latency_ms: float = 0.0


@runtime_checkable
class EventStore(Protocol):
    """Append-only behaviour log, idempotent on ``event_id``."""

    def append(self, events: Sequence[Event], *, received_at: datetime | None = None) -> AppendResult: ...

    def get(self, event_id: str) -> Event | None: ...

    def scan(
        self,
        *,
        user_id: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        types: Iterable[str] | None = None,
        after_seq: int | None = None,
        limit: int | None = None,
    ) -> list[Event]: ...

    def count(self, *, type: str | None = None, source: str | None = None) -> int: ...

    def counts(self) -> list[tuple[str, str, int]]:
        """``(type, source, n)`` for every combination stored."""
        ...

    def frame(
        self, *, since: datetime | None = None, until: datetime | None = None, types: Iterable[str] | None = None
    ) -> pd.DataFrame:
        """Events as the standard interactions frame (see :mod:`fitloop.data.interactions`)."""
        ...

    def relink_user(self, anonymous_id: str, user_id: str) -> int:
        """Move an anonymous history onto a known user id; returns rows moved."""
        ...

    def delete_user(self, user_id: str) -> int: ...


@runtime_checkable
class CatalogStore(Protocol):
    """Items and their per-size stock."""

    def upsert_items(self, items: Sequence[Item]) -> None: ...

    def get_item(self, item_id: str) -> Item | None: ...

    def get_items(self, item_ids: Sequence[str]) -> dict[str, Item]: ...

    def iter_items(self, *, batch_size: int = 1000) -> Iterator[Item]: ...

    def count_items(self) -> int: ...

    def set_stock(self, item_id: str, size: str, stock: int) -> None: ...


@runtime_checkable
class UserStore(Protocol):
    """Pseudonymous users and the append-only consent ledger."""

    def upsert_users(self, users: Sequence[User]) -> None: ...

    def get_user(self, user_id: str) -> User | None: ...

    def count_users(self) -> int: ...

    def iter_user_ids(self) -> Iterator[str]: ...

    def append_consents(self, consents: Sequence[Consent]) -> None: ...

    def consents(self, user_id: str) -> list[Consent]:
        """The user's ledger, oldest first."""
        ...

    def delete_user(self, user_id: str) -> None: ...


@runtime_checkable
class ProfileStore(Protocol):
    """Derived per-shopper state as JSON documents."""

    def put(self, user_id: str, profile: Mapping[str, Any]) -> None: ...

    def put_many(self, profiles: Mapping[str, Mapping[str, Any]]) -> None: ...

    def get(self, user_id: str) -> dict[str, Any] | None: ...

    def delete(self, user_id: str) -> None: ...

    def iter_profiles(self) -> Iterator[tuple[str, dict[str, Any]]]: ...


@dataclass(frozen=True, slots=True)
class ModelRecord:
    """A registered model bundle (the files live in a versioned folder)."""

    name: str
    version: str
    path: str
    created_at: datetime
    metadata: Mapping[str, Any]
    active: bool


@runtime_checkable
class ModelRegistry(Protocol):
    """Which model bundles exist and which one serves."""

    def register(self, name: str, version: str, path: str, metadata: Mapping[str, Any], *, activate: bool = True) -> None: ...

    def active(self, name: str) -> ModelRecord | None: ...

    def list(self, name: str) -> list[ModelRecord]: ...

    def activate(self, name: str, version: str) -> None: ...


@runtime_checkable
class Cache(Protocol):
    """Small shared online state with expiry (profiles cache, rate limits, bandit parameters)."""

    def get(self, key: str) -> bytes | None: ...

    def set(self, key: str, value: bytes, *, ttl_s: float | None = None) -> None: ...

    def delete(self, *keys: str) -> None: ...

    def incr(self, key: str, amount: int = 1, *, ttl_s: float | None = None) -> int: ...

    def scan_keys(self, prefix: str) -> list[str]: ...

    def ping(self) -> None: ...


@runtime_checkable
class EventBus(Protocol):
    """A stream of accepted events for real-time consumers (profiles, trends, monitor)."""

    def publish(self, topic: str, message: Mapping[str, Any]) -> str: ...

    def read(self, topic: str, *, after: str = "0", count: int = 100) -> list[tuple[str, dict[str, Any]]]: ...

    def subscribe(self, topic: str, handler: Callable[[dict[str, Any]], None]) -> None:
        """In-process delivery to ``handler`` for each message published from this process."""
        ...

    def ping(self) -> None: ...


@dataclass(frozen=True, slots=True)
class Impression:
    """One served list: ``items`` holds ``{"item_id", "position", "score", "propensity", "source"}`` dicts."""

    request_id: str
    user_id: str
    slot: str
    policy_version: str
    ts: datetime
    items: tuple[Mapping[str, Any], ...]
    context: Mapping[str, Any]


@runtime_checkable
class ImpressionLog(Protocol):
    """Every served recommendation list, for off-policy evaluation and attribution."""

    def log(self, impressions: Sequence[Impression]) -> None: ...

    def scan(self, *, user_id: str | None = None, since: datetime | None = None, until: datetime | None = None,
             limit: int | None = None) -> list[Impression]: ...

    def count(self) -> int: ...

    def delete_user(self, user_id: str) -> int: ...
