"""The one place that picks concrete adapters: settings in, stores and services out.

>>> from fitloop.config import Settings
>>> stores = build_stores(Settings(database_url="sqlite:///:memory:", demo=True))
>>> [h.name for h in stores.health()]
['database']
>>> stores.close()
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import text
from sqlalchemy.engine import Engine

from fitloop.config import Settings
from fitloop.errors import StoreUnavailable
from fitloop.services.console_segments import SegmentService
from fitloop.services.erasure import DataSubjectService
from fitloop.services.ingest import IngestService
from fitloop.services.merchandising import MerchandisingService
from fitloop.services.privacy import PrivacyCollectionGate, PrivacyConfig, PrivacyService, usable_for
from fitloop.services.profiles import ProfileService
from fitloop.services.recommend import RecommendationService, Recommender
from fitloop.services.reranking import RerankConfig, ServingPolicies
from fitloop.services.traffic_split import TrafficSplitService
from fitloop.store import Stores
from fitloop.store.memory import MemoryCache, MemoryEventBus
from fitloop.store.sql import (
    SqlCatalogStore,
    SqlEventStore,
    SqlImpressionLog,
    SqlIngestLog,
    SqlModelRegistry,
    SqlProfileStore,
    SqlQuarantineStore,
    SqlSourceStore,
    SqlUserStore,
    current_revision,
    head_revision,
    make_engine,
    upgrade,
)

__all__ = ["Container", "build", "build_stores"]

log = logging.getLogger(__name__)


def build_stores(settings: Settings) -> Stores:
    """Stores for ``settings``: SQLite or PostgreSQL by URL, Redis when ``redis_url`` is set."""
    engine = make_engine(settings.database_url, sqlite_synchronous=settings.sqlite_synchronous)
    if settings.auto_migrate:
        upgrade(engine)
    head = head_revision()

    def check_database() -> str:
        try:
            with engine.connect() as conn:
                conn.execute(text("SELECT 1"))
        except Exception as exc:  # noqa: BLE001 - any driver failure means "not ready"
            raise StoreUnavailable(f"database unreachable: {str(exc).splitlines()[0][:200]}") from exc
        rev = current_revision(engine)
        if rev != head:
            raise StoreUnavailable(f"database schema is at {rev}, code expects {head}; run `fitloop db upgrade`")
        return f"{engine.dialect.name} schema {rev}"

    stores = Stores(
        events=SqlEventStore(engine),
        catalog=SqlCatalogStore(engine),
        users=SqlUserStore(engine),
        profiles=SqlProfileStore(engine),
        models=SqlModelRegistry(engine),
        impressions=SqlImpressionLog(engine),
        cache=MemoryCache(),
        bus=MemoryEventBus(),
        checks={"database": check_database},
        closers=[engine.dispose],
        sources=SqlSourceStore(engine),
        ingest=SqlIngestLog(engine),
        quarantine=SqlQuarantineStore(engine),
    )
    _add_console_stores(stores, engine)
    if settings.redis_url:
        from fitloop.store.redis_store import RedisCache, RedisEventBus, connect_redis

        client = connect_redis(settings.redis_url)
        stores.cache = RedisCache(client, prefix=settings.redis_prefix)
        stores.bus = RedisEventBus(client, prefix=settings.redis_prefix + "stream:")

        def check_redis() -> str:
            stores.cache.ping()
            return "redis ok"

        stores.checks["redis"] = check_redis
        stores.closers.append(client.close)
        from fitloop.store.redis_privacy import RedisEraser

        stores.erasers.append(RedisEraser(client, prefix=settings.redis_prefix))
    _add_privacy_stores(stores, engine)
    return stores


def _add_privacy_stores(stores: Stores, engine: Engine) -> None:
    """Privacy (issue 4): data keys, identity vault, compliance, DP budgets; erasers for in-process caches."""
    from fitloop.store.memory_privacy import MemoryEraser
    from fitloop.store.sql import SqlDataKeyStore, SqlPrivacyStore

    stores.privacy = SqlPrivacyStore(engine)
    stores.data_keys = SqlDataKeyStore(engine)
    cache = stores.cache if isinstance(stores.cache, MemoryCache) else None
    bus = stores.bus if isinstance(stores.bus, MemoryEventBus) else None
    if cache is not None or bus is not None:
        stores.erasers.append(MemoryEraser(cache, bus))


def _add_console_stores(stores: Stores, engine: Engine) -> None:
    """The web console's stores (issue 8): logins, sessions, audit log, merchandising rules, documents."""
    from fitloop.store.sql.console import (
        SqlAuditLog,
        SqlConsoleSessionStore,
        SqlConsoleUserStore,
        SqlDocumentStore,
        SqlMerchandisingStore,
    )

    stores.console_users = SqlConsoleUserStore(engine)
    stores.console_sessions = SqlConsoleSessionStore(engine)
    stores.audit = SqlAuditLog(engine)
    stores.merchandising = SqlMerchandisingStore(engine)
    stores.documents = SqlDocumentStore(engine)


def load_recommender(path: str) -> Recommender:
    """Load a recommender bundle folder (format checked, no pickles)."""
    from fitloop.recommend.bundle import load_bundle

    return load_bundle(path)


@dataclass
class Container:
    """Everything one process needs: settings, stores and the services built on them."""

    settings: Settings
    stores: Stores
    recommendations: RecommendationService
    _started: list[Callable[[], None]] = field(default_factory=list)
    ingest: IngestService | None = None
    # Console (issue 8): segments and merchandising rules; the rules apply in serving within a second.
    segments: SegmentService | None = None
    merchandising: MerchandisingService | None = None
    # Privacy (issue 4): consent, vault, compliance monitor, DP; data-subject rights; retention.
    privacy: PrivacyService | None = None
    subjects: DataSubjectService | None = None
    # Shopper understanding (issue 5): profiles follow the event log in real time.
    profiles: ProfileService | None = None
    # Live A/B split of recommendation strategies (console experiments); read by every served list.
    splits: TrafficSplitService | None = None

    def start(self) -> None:
        """Start background workers (model reloader, batch writers, the event group committer)."""
        self.recommendations.start()
        self._started.append(self.recommendations.stop)
        if self.profiles is not None and self.settings.profile_updates:
            self.profiles.start()
            self._started.append(self.profiles.stop)
        if self.ingest is not None:
            self.ingest.start()
            self._started.append(self.ingest.stop)
            if self.settings.is_production and isinstance(self.ingest.gate, PrivacyCollectionGate):
                self.ingest.gate.warm()  # build the PII scrubber (≈10 s) now, not on the first search event

    def stop(self) -> None:
        while self._started:
            self._started.pop()()

    def close(self) -> None:
        self.stop()
        self.stores.close()


def build(settings: Settings) -> Container:
    """Settings in, a ready container out. Secrets are checked here (weak ones refused outside demo mode)."""
    settings = settings.with_secrets()
    stores = build_stores(settings)
    segments = SegmentService(stores, settings.model_path())
    merchandising = MerchandisingService(stores, segment_of=segments.segment_of)
    privacy = build_privacy(settings, stores)
    recommendations = RecommendationService(stores, load_recommender, rules_provider=merchandising.current)
    recommendations.personalised = privacy.personalised
    splits = TrafficSplitService(stores)
    recommendations.split = splits.assignment
    if settings.rerank:
        recommendations.policies = ServingPolicies(
            stores, settings.model_path() / "bandit",
            RerankConfig(weather_url=settings.weather_url, weather_budget_ms=settings.weather_budget_ms),
        )
    gate = PrivacyCollectionGate(privacy) if settings.privacy_gate else None
    return Container(
        settings=settings,
        stores=stores,
        recommendations=recommendations,
        segments=segments,
        merchandising=merchandising,
        ingest=IngestService(stores, master_key=settings.secret("master_key"), gate=gate, pseudonymise=privacy.ids),
        privacy=privacy,
        subjects=DataSubjectService(stores, privacy, model_dirs=[settings.model_path()],
                                    segment_of=segments.segment_of),
        profiles=ProfileService(
            stores, usable=lambda ev: usable_for(ev.type, ev.properties, "personalisation", privacy.manifest)),
        splits=splits,
    )


def build_privacy(settings: Settings, stores: Stores) -> PrivacyService:
    """The privacy service for ``settings`` (secrets already checked): manifest, notifier, DP budget."""
    from fitloop.privacy import (
        LogNotifier,
        MultiNotifier,
        Notifier,
        SmtpNotifier,
        ThreadedNotifier,
        WebhookNotifier,
        default_manifest,
        load_manifest,
    )

    manifest = load_manifest(settings.privacy_manifest) if settings.privacy_manifest else default_manifest()
    channels: list[Notifier] = []
    if settings.compliance_webhook_url:
        channels.append(WebhookNotifier(settings.compliance_webhook_url, secret=settings.secret("secret_key")))
    if settings.smtp_host:
        channels.append(SmtpNotifier(settings.smtp_host, settings.smtp_port, settings.smtp_sender))
    # Ingest never waits for SMTP or a slow webhook: those run on a background thread.
    notifier: Notifier = ThreadedNotifier(MultiNotifier(channels)) if channels else LogNotifier()
    config = PrivacyConfig(dp_epsilon_total=settings.dp_epsilon_per_month, dp_min_group_size=settings.dp_min_group_size)
    privacy = PrivacyService(stores, secret_key=settings.secret("secret_key"), master_key=settings.secret("master_key"),
                             pseudonym_key=settings.secret("pseudonym_key"), manifest=manifest, notifier=notifier,
                             config=config, demo=settings.demo)
    if isinstance(notifier, ThreadedNotifier):
        notifier.on_error = privacy.notify_failed  # failed deliveries reach the audit trail
        stores.closers.append(notifier.close)
    return privacy
