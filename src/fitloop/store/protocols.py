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

from fitloop.collect.quarantine import QuarantineRecord
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
    "Source",
    "SourceStore",
    "CommitResult",
    "IngestStat",
    "IngestLog",
    "QuarantineStore",
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

    def tail(self, after_seq: int = 0, *, limit: int = 1000) -> list[tuple[int, Event]]:
        """Events in storage order after sequence number ``after_seq``, with their sequence numbers."""
        ...

    def max_seq(self) -> int:
        """The highest sequence number stored (0 when empty)."""
        ...

    def count(self, *, type: str | None = None, source: str | None = None) -> int: ...

    def counts(self) -> list[tuple[str, str, int]]:
        """``(type, source, n)`` for every combination stored."""
        ...

    def frame(
        self, *, since: datetime | None = None, until: datetime | None = None, types: Iterable[str] | None = None,
        purpose: str | None = None,
    ) -> pd.DataFrame:
        """Events as the standard interactions frame (see :mod:`fitloop.data.interactions`).

        With ``purpose``, only events usable for it: those tagged by the privacy gate with that purpose,
        and untagged ones (stored before the gate, e.g. imports).
        """
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

    def stock_snapshot(self) -> dict[str, frozenset[str]]:
        """Every item id with its sizes in stock (``{"*"}`` for an item sold without sizes); one cheap read."""
        ...


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

    def consent_changes(self, after: int | None = None, *, limit: int = 10_000) -> tuple[int, list[tuple[int, str]] | None]:
        """The ledger's high-water mark and the ``(seq, user_id)`` entries after ``after`` (``None``: over ``limit``).

        May list entries at or below ``after`` again (PostgreSQL, late commits); readers skip seen ``seq`` values."""
        ...

    def delete_user(self, user_id: str) -> None: ...


@runtime_checkable
class ProfileStore(Protocol):
    """Derived per-shopper state as JSON documents."""

    def put(self, user_id: str, profile: Mapping[str, Any]) -> None: ...

    def put_many(self, profiles: Mapping[str, Mapping[str, Any]]) -> None: ...

    def get(self, user_id: str) -> dict[str, Any] | None: ...

    def get_many(self, user_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        """The stored profiles among ``user_ids`` (absent ones are left out), in one round trip."""
        ...

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

    def add(self, key: str, value: bytes, *, ttl_s: float | None = None) -> bool:
        """Set ``key`` only if absent (a lease or lock); True when this call set it."""
        ...

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
    """One served list: ``items`` holds ``{"item_id", "position", "score", "propensity", "source"}`` dicts.

    ``experiment_id`` and ``arm`` are set when the list was served under a live A/B split of
    recommendation strategies (the arm's strategy chose it); ``None`` otherwise.
    """

    request_id: str
    user_id: str
    slot: str
    policy_version: str
    ts: datetime
    items: tuple[Mapping[str, Any], ...]
    context: Mapping[str, Any]
    experiment_id: str | None = None
    arm: str | None = None


@runtime_checkable
class ImpressionLog(Protocol):
    """Every served recommendation list, for off-policy evaluation and attribution."""

    def log(self, impressions: Sequence[Impression]) -> None: ...

    def scan(self, *, user_id: str | None = None, since: datetime | None = None, until: datetime | None = None,
             limit: int | None = None, experiment_id: str | None = None) -> list[Impression]:
        """Oldest first; ``experiment_id`` keeps only the lists served under that live split."""
        ...

    def count(self) -> int: ...

    def delete_user(self, user_id: str) -> int: ...


# ---------------------------------------------------------------------------------------------- collection
@dataclass(frozen=True, slots=True)
class Source:
    """A sender of events (a shop's website, its order system). The write key is kept only as its SHA-256;
    ``hmac_secret`` is sealed (encrypted) when set and then every request must be signed with it."""

    name: str
    owner: str
    write_key_hash: str
    created_at: datetime
    hmac_secret: bytes | None = None
    revoked_at: datetime | None = None


@runtime_checkable
class SourceStore(Protocol):
    """Registered event sources."""

    def add(self, source: Source) -> None:
        """Raises :class:`~fitloop.errors.Conflict` when the name or key hash exists."""
        ...

    def get(self, name: str) -> Source | None: ...

    def by_key_hash(self, write_key_hash: str) -> Source | None:
        """The source with this key hash, revoked or not (callers check ``revoked_at``)."""
        ...

    def list(self) -> list[Source]: ...

    def revoke(self, name: str, at: datetime) -> None:
        """Raises :class:`~fitloop.errors.NotFound` for an unknown name."""
        ...


@dataclass(frozen=True, slots=True)
class CommitResult:
    """What one group commit stored: the new events (after identity stitching) and the ids already stored."""

    inserted: tuple[Event, ...]
    duplicate_ids: frozenset[str]
    quarantined: int
    links: int


@dataclass(frozen=True, slots=True)
class IngestStat:
    source: str
    type: str
    stored: int
    duplicates: int
    quarantined: int


@runtime_checkable
class IngestLog(Protocol):
    """The durable side of ingestion: one transaction stores events, quarantine records, identity links
    and counters together, so an acknowledged request is all-or-nothing."""

    def commit(self, events: Sequence[Event], quarantine: Sequence[QuarantineRecord],
               links: Sequence[tuple[str, str, str]], *, received_at: datetime) -> CommitResult:
        """Store in one transaction. ``links`` are ``(anonymous_id, user_id, source)``: a new link moves the
        anonymous history onto the user (rows are updated, never copied, so nothing is counted twice) and
        later anonymous-only events of that id are stored under the user."""
        ...

    def stats(self) -> list[IngestStat]: ...

    def user_for(self, anonymous_id: str) -> str | None: ...


@runtime_checkable
class QuarantineStore(Protocol):
    """Quarantined messages with their reasons (payloads sealed)."""

    def list(self, *, source: str | None = None, code: str | None = None, status: str | None = "open",
             limit: int = 100, offset: int = 0) -> list[QuarantineRecord]: ...

    def get(self, quarantine_id: str) -> QuarantineRecord | None: ...

    def resolve(self, quarantine_id: str, *, status: str, code: str, reason: str, at: datetime) -> None:
        """Record a replay attempt: ``status`` ``replayed`` (stored) or ``open`` (still failing, new reason)."""
        ...

    def count(self, *, status: str | None = "open") -> int: ...

    def delete_user(self, user_id: str) -> int: ...


# ---------------------------------------------------------------------------------------------- console (issue 8)
@dataclass(frozen=True, slots=True)
class ConsoleUser:
    """A console login. ``password_hash`` is ``scrypt$n$r$p$salt$hash`` (never the password)."""

    email: str
    role: str
    password_hash: str
    created_at: datetime
    disabled: bool = False


@dataclass(frozen=True, slots=True)
class ConsoleSession:
    """A server-side session; the browser holds only the random token (its SHA-256 is the key here)."""

    token_hash: str
    email: str
    csrf_token: str
    created_at: datetime
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class AuditRecord:
    """One console action (allowed or refused), append-only."""

    ts: datetime
    actor: str
    role: str
    action: str
    target: str
    allowed: bool
    detail: str = ""


@dataclass(frozen=True, slots=True)
class MerchRule:
    """A merchandising rule: ``action`` pin | bury | block | boost_new | pair, scoped to a ``slot`` and/or
    ``segment`` (``"*"`` = everywhere). ``item_id`` is empty for ``boost_new`` (which uses ``days``); an outfit
    rule (``pair``) shows ``item_id`` first next to the ``anchor`` item (product and cart pages)."""

    rule_id: str
    action: str
    item_id: str
    slot: str
    segment: str
    created_by: str
    created_at: datetime
    note: str = ""
    days: int = 0
    expires_at: datetime | None = None
    anchor: str = ""


@dataclass(frozen=True, slots=True)
class ConsoleDocument:
    """A campaign or experiment as a JSON document (``kind``: ``campaign`` | ``experiment``)."""

    doc_id: str
    kind: str
    name: str
    status: str
    created_by: str
    created_at: datetime
    updated_at: datetime
    data: Mapping[str, Any]


@runtime_checkable
class ConsoleUserStore(Protocol):
    def add(self, user: ConsoleUser) -> None:
        """Raises :class:`~fitloop.errors.Conflict` when the e-mail exists."""
        ...

    def get(self, email: str) -> ConsoleUser | None: ...

    def list(self) -> list[ConsoleUser]: ...

    def update(self, email: str, *, password_hash: str | None = None, role: str | None = None,
               disabled: bool | None = None) -> None:
        """Raises :class:`~fitloop.errors.NotFound` for an unknown e-mail."""
        ...


@runtime_checkable
class ConsoleSessionStore(Protocol):
    def put(self, session: ConsoleSession) -> None: ...

    def get(self, token_hash: str) -> ConsoleSession | None: ...

    def delete(self, token_hash: str) -> None: ...

    def purge(self, now: datetime) -> int:
        """Delete expired sessions; returns how many."""
        ...


@runtime_checkable
class AuditLog(Protocol):
    def append(self, record: AuditRecord) -> None: ...

    def list(self, *, limit: int = 100, allowed: bool | None = None) -> list[AuditRecord]:
        """Newest first."""
        ...


@runtime_checkable
class MerchandisingStore(Protocol):
    def add(self, rule: MerchRule) -> None: ...

    def list(self) -> list[MerchRule]:
        """Oldest first."""
        ...

    def delete(self, rule_id: str) -> None:
        """Raises :class:`~fitloop.errors.NotFound` for an unknown id."""
        ...


@runtime_checkable
class DocumentStore(Protocol):
    def put(self, doc: ConsoleDocument) -> None:
        """Insert or replace by ``doc_id``."""
        ...

    def get(self, doc_id: str) -> ConsoleDocument | None: ...

    def list(self, kind: str, *, limit: int = 200) -> list[ConsoleDocument]:
        """Newest first."""
        ...


__all__ += ["ConsoleUser", "ConsoleSession", "AuditRecord", "MerchRule", "ConsoleDocument", "ConsoleUserStore",
            "ConsoleSessionStore", "AuditLog", "MerchandisingStore", "DocumentStore"]


# ---------------------------------------------------------------------------------------------- privacy (issue 4)
@dataclass(frozen=True, slots=True)
class StrippedField:
    """A field the privacy gate removed from an event (outside the manifest), its value encrypted under the
    person's data key (``ciphertext`` None when the collector had already dropped the value)."""

    quarantine_id: str
    person_id: str
    source: str
    event_id: str
    event_type: str
    field: str
    ciphertext: bytes | None
    received_at: datetime
    status: str = "open"


@runtime_checkable
class PrivacyStore(Protocol):
    """Identity vault (L1 ciphertexts), stripped fields, compliance alerts and audit, DP budgets, erasure records."""

    def put_identity(self, person_id: str, ciphertexts: Mapping[str, bytes], at: datetime) -> None: ...

    def identity(self, person_id: str) -> dict[str, bytes]: ...

    def delete_identity(self, person_id: str) -> int: ...

    def add_stripped(self, rows: Sequence[StrippedField]) -> None: ...

    def stripped(self, *, person_id: str | None = None, limit: int = 100) -> list[StrippedField]: ...

    def delete_stripped(self, person_id: str) -> int: ...

    def save_alert(self, alert: Mapping[str, Any]) -> None:
        """Insert or replace one alert (``Alert.to_dict()``)."""
        ...

    def alerts(self, *, active_only: bool = False, limit: int = 200) -> list[dict[str, Any]]:
        """Newest first."""
        ...

    def append_audit(self, entry: Mapping[str, Any]) -> None: ...

    def audit(self, *, limit: int = 200) -> list[dict[str, Any]]:
        """Newest first."""
        ...

    def reserve_budget(self, period: str, epsilon: float, epsilon_total: float) -> float | None:
        """Atomically add ``epsilon`` to the period's spend if it stays within ``epsilon_total``; returns the
        remaining budget, or None (nothing spent) when it would not fit."""
        ...

    def budget(self, period: str) -> tuple[float, float] | None:
        """``(epsilon_total, spent)`` of a period, or None when nothing was released in it."""
        ...

    def linked_ids(self, user_id: str) -> list[str]:
        """Anonymous ids linked to ``user_id`` by identity stitching."""
        ...

    def delete_links(self, user_id: str) -> int: ...

    def delete_events(self, event_ids: Sequence[str]) -> int: ...

    def set_event_properties(self, event_id: str, properties: Mapping[str, Any]) -> None: ...

    def delete_impressions_before(self, ts: datetime) -> int: ...

    def record_erasure(self, subject_hash: str, at: datetime, summary: Mapping[str, Any]) -> None: ...

    def erased_hashes(self) -> set[str]: ...


@runtime_checkable
class OnlineEraser(Protocol):
    """Removes every trace of some ids from an online store (cache keys and values, stream entries)."""

    def erase(self, needles: Sequence[str]) -> int:
        """Delete keys naming any needle and entries whose value contains one; returns how many went."""
        ...


__all__ += ["StrippedField", "PrivacyStore", "OnlineEraser"]
