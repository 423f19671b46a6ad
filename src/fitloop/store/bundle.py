"""The set of stores one installation uses, as protocols only."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from fitloop.errors import FitloopError
from fitloop.privacy.vault import DataKeyStore
from fitloop.store.protocols import (
    AuditLog,
    Cache,
    CatalogStore,
    ConsoleSessionStore,
    ConsoleUserStore,
    DocumentStore,
    EventBus,
    EventStore,
    ImpressionLog,
    IngestLog,
    MerchandisingStore,
    ModelRegistry,
    OnlineEraser,
    PrivacyStore,
    ProfileStore,
    QuarantineStore,
    SourceStore,
    StoreHealth,
    UserStore,
)

__all__ = ["Stores", "HealthCheck"]

HealthCheck = Callable[[], str]
"""Raises when unhealthy; returns a short detail string otherwise."""


@dataclass
class Stores:
    """Every storage role, chosen by :func:`fitloop.wiring.build_stores`."""

    events: EventStore
    catalog: CatalogStore
    users: UserStore
    profiles: ProfileStore
    models: ModelRegistry
    impressions: ImpressionLog
    cache: Cache
    bus: EventBus
    checks: dict[str, HealthCheck] = field(default_factory=dict)
    closers: list[Callable[[], None]] = field(default_factory=list)
    # Collection (issue 3); None only in hand-built bundles that do not ingest.
    sources: SourceStore | None = None
    ingest: IngestLog | None = None
    quarantine: QuarantineStore | None = None
    # Console (issue 8); None only in hand-built bundles without the web console.
    console_users: ConsoleUserStore | None = None
    console_sessions: ConsoleSessionStore | None = None
    audit: AuditLog | None = None
    merchandising: MerchandisingStore | None = None
    documents: DocumentStore | None = None
    # Privacy (issue 4): vault, stripped fields, compliance, DP budgets; data keys (a privacy.vault.DataKeyStore);
    # erasers that remove a person from the online stores (Redis keys, values and streams).
    privacy: PrivacyStore | None = None
    data_keys: DataKeyStore | None = None
    erasers: list[OnlineEraser] = field(default_factory=list)

    def health(self) -> list[StoreHealth]:
        """Run every readiness check; never raises."""
        out: list[StoreHealth] = []
        for name, check in self.checks.items():
            t0 = time.perf_counter()
            try:
                detail = check()
                ok = True
            except FitloopError as exc:
                detail, ok = exc.message, False
            except Exception as exc:  # noqa: BLE001 - readiness must report, not crash
                detail, ok = f"{type(exc).__name__}: {exc}", False
            out.append(StoreHealth(name, ok, detail, round((time.perf_counter() - t0) * 1000, 2)))
        return out

    def close(self) -> None:
        for c in reversed(self.closers):
            c()
