"""The serving re-ranking chain and its feedback loop.

For each request the recommender proposes ``candidates_factor × k`` items; this chain re-ranks them:

1. :class:`~fitloop.rerank.ContextBoost` — weather (Open-Meteo when configured, else climate
   normals; season defaults for an unknown city or a slow provider), trends and the fashion calendar;
2. :class:`~fitloop.rerank.ExposureMemory` — items shown repeatedly without engagement sink;
3. :class:`~fitloop.rerank.MMRDiversifier` — no ten copies of the last thing viewed;
4. :class:`~fitloop.rerank.LinUCBBandit` — last, because it writes the exact propensity of each
   shown item (exploration probabilities are logged with every impression).

The feedback loop follows the event log (like the profile updater): every event updates exposure
memory and trends; clicks, carts, orders and returns on an item recently shown to that shopper
become bandit feedback (reward: clicks + carts + orders − returns, weights configurable) within
milliseconds of being stored. The bandit state is saved to ``models_dir/bandit`` periodically
and on stop; a state that cannot be loaded falls back to a fresh bandit, and any failure while
re-ranking falls back to the plain ranking — never to an error for the shopper.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from fitloop.catalog import ItemFeatures, SuitabilityModel
from fitloop.context import ClimateNormalsProvider, FallbackWeather, FashionCalendar, OpenMeteoProvider, TrendTracker
from fitloop.data import Context, Event, EventType, Item, ScoredItem
from fitloop.rerank import (
    BanditConfig,
    Chain,
    ContextBoost,
    ExposureMemory,
    Feedback,
    GuardedPolicy,
    LinUCBBandit,
    MMRDiversifier,
    PlainPolicy,
    RewardWeights,
    item_tags,
)
from fitloop.store import Stores

__all__ = ["RerankConfig", "ServingPolicies", "STAGES"]

log = logging.getLogger(__name__)

#: Re-ranking stages by name; a live A/B arm may serve without some of them (``rerank(…, without=…)``).
STAGES: dict[str, type] = {"context": ContextBoost, "exposure": ExposureMemory, "diversity": MMRDiversifier,
                           "bandit": LinUCBBandit}

_FEEDBACK_KINDS = {
    EventType.PRODUCT_CLICKED, EventType.CART_ADDED, EventType.ORDER_COMPLETED, EventType.PRODUCT_RETURNED,
    EventType.FAVOURITED,
}


@dataclass(frozen=True, slots=True)
class RerankConfig:
    """Which stages run, and their knobs."""

    candidates_factor: int = 2
    context: bool = True
    exposure: bool = True
    diversity_lambda: float | None = 0.8
    bandit: bool = True
    bandit_epsilon: float = 0.05
    reward: RewardWeights = field(default_factory=RewardWeights)
    weather_url: str | None = None
    weather_budget_ms: int = 150
    attribution_window_s: float = 24 * 3600
    save_every_s: float = 60.0
    rng: int = 0


class ServingPolicies:
    """Holds the re-ranking chain for the current catalog and learns from the event log."""

    def __init__(self, stores: Stores, state_dir: Path, config: RerankConfig | None = None) -> None:
        self._stores = stores
        self._state_dir = Path(state_dir)
        self.config = config or RerankConfig()
        self._catalog: dict[str, Item] = {}
        self._chain: GuardedPolicy | None = None
        self._bandit: LinUCBBandit | None = None
        self._exposure: ExposureMemory | None = None
        self.trends = TrendTracker()
        # Bumped after every batch that taught ``trends``: ContextBoost reuses tag velocities until then.
        # Call :meth:`trends_changed` after feeding ``trends`` directly (e.g. ``add_feed_tags``).
        self._trends_version = 0
        # (user, item) → (context, request id, shown at): what a follow-up event is attributed to.
        self._shown: OrderedDict[tuple[str, str], tuple[Context, str, float]] = OrderedDict()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._position = 0
        self._saved_at = time.monotonic()
        # Chains without some stages, for live A/B arms: names → (the chain they derive from, the variant).
        self._variants: dict[frozenset[str], tuple[GuardedPolicy, GuardedPolicy]] = {}

    # ------------------------------------------------------------------ building
    def refresh(self) -> None:
        """(Re)build the chain for the current catalog; keeps what the bandit has learned."""
        catalog = {it.item_id: it for it in self._stores.catalog.iter_items(batch_size=5000)}
        cfg = self.config
        stages: list[object] = []
        if cfg.context:
            primary = (OpenMeteoProvider(cfg.weather_url, timeout_s=cfg.weather_budget_ms / 1000)
                       if cfg.weather_url else ClimateNormalsProvider())
            weather = FallbackWeather(primary, ClimateNormalsProvider() if cfg.weather_url else None,
                                      budget_ms=cfg.weather_budget_ms)
            stages.append(ContextBoost(catalog, SuitabilityModel.default(), weather=weather, trends=self.trends,
                                       calendar=FashionCalendar(), trends_version=self._trends_stamp))
        exposure = ExposureMemory(catalog) if cfg.exposure else None
        if exposure is not None:
            stages.append(exposure)
        if cfg.diversity_lambda is not None and catalog:
            stages.append(MMRDiversifier(ItemFeatures.fit(catalog.values()), cfg.diversity_lambda, catalog=catalog))
        bandit = None
        if cfg.bandit:
            bandit = self._bandit or self._load_bandit(catalog)
            bandit.catalog = catalog
            stages.append(bandit)
        else:
            stages.append(PlainPolicy())
        with self._lock:
            self._catalog, self._bandit, self._exposure = catalog, bandit, exposure
            self._chain = GuardedPolicy(Chain(stages))  # type: ignore[arg-type]

    def _load_bandit(self, catalog: dict[str, Item]) -> LinUCBBandit:
        cfg = BanditConfig(epsilon=self.config.bandit_epsilon, reward=self.config.reward, rng=self.config.rng)
        if (self._state_dir / "state.json").exists():
            try:
                return LinUCBBandit.load(self._state_dir, catalog=catalog)
            except Exception as exc:  # noqa: BLE001 - an unreadable state must not stop serving
                log.warning("bandit state in %s could not be loaded (%s); starting fresh", self._state_dir, exc)
        return LinUCBBandit(cfg, catalog=catalog)

    def _trends_stamp(self) -> int:
        return self._trends_version

    def trends_changed(self) -> None:
        """Tell the context stage that ``trends`` learned something (its velocity memo is dropped)."""
        self._trends_version += 1

    @property
    def started(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    @property
    def version(self) -> str:
        b = self._bandit
        return f"bandit-{b.version}" if b is not None else "plain"

    # ------------------------------------------------------------------ serving
    def rerank(self, ctx: Context, candidates: Sequence[ScoredItem], n: int, *, user_id: str,
               request_id: str, without: frozenset[str] = frozenset()) -> list[ScoredItem]:
        """Re-rank ``candidates`` to ``n``; ``without`` names stages to skip (a live A/B arm, see :data:`STAGES`)."""
        chain = self._without(without) if without else self._chain
        if chain is None:
            return [c for c in candidates][:n]
        out = chain.rerank(ctx, candidates, n, user_id=user_id, request_id=request_id)
        now = time.monotonic()
        with self._lock:
            for it in out:
                self._shown[(user_id, it.item_id)] = (ctx, request_id, now)
                self._shown.move_to_end((user_id, it.item_id))
            while len(self._shown) > 200_000:
                self._shown.popitem(last=False)
        return out

    def stages(self) -> frozenset[str]:
        """The names (keys of :data:`STAGES`) of the stages serving now: what an A/B arm can switch off."""
        chain = self._chain
        inner = chain.policy if chain is not None else None
        if not isinstance(inner, Chain):
            return frozenset()
        return frozenset(name for name, kind in STAGES.items() if any(isinstance(p, kind) for p in inner.policies))

    def _without(self, names: frozenset[str]) -> GuardedPolicy | None:
        """The serving chain minus the stages ``names``; cached until the chain is rebuilt."""
        chain = self._chain
        if chain is None or not isinstance(chain.policy, Chain):
            return chain
        cached = self._variants.get(names)
        if cached is not None and cached[0] is chain:
            return cached[1]
        skip = tuple(STAGES[n] for n in names if n in STAGES)
        stages: list[object] = [p for p in chain.policy.policies if not isinstance(p, skip)]
        if "bandit" in names:
            stages.append(PlainPolicy())  # as with the bandit off in the config: plain order, propensity 1
        variant = GuardedPolicy(Chain(stages))  # type: ignore[arg-type]
        self._variants[names] = (chain, variant)
        return variant

    # ------------------------------------------------------------------ learning
    def learn(self, events: Sequence[Event]) -> int:
        """Fold stored events into exposure memory, trends and the bandit; returns bandit updates."""
        updates = 0
        now = time.monotonic()
        taught = False
        try:
            for ev in events:
                item = self._catalog.get(ev.item_id) if ev.item_id else None
                if self._exposure is not None:
                    self._exposure.learn_one(ev)
                if item is not None:
                    taught = True
                    self.trends.learn_one(ev, item_tags(item))
                if self._bandit is None or ev.item_id is None or ev.type not in _FEEDBACK_KINDS:
                    continue
                with self._lock:
                    shown = self._shown.get((ev.user_id, ev.item_id))
                if shown is None or now - shown[2] > self.config.attribution_window_s:
                    continue
                ctx, rid, _ = shown
                self._bandit.learn_one(Feedback(ev.item_id, ctx, (ev.type,), user_id=ev.user_id, request_id=rid,
                                                correction=ev.type in (EventType.PRODUCT_RETURNED,)))
                updates += 1
        finally:
            if taught:  # even when a later event failed: velocities may have moved
                self.trends_changed()
        if self._bandit is not None and time.monotonic() - self._saved_at > self.config.save_every_s:
            self.save()
        return updates

    def save(self) -> None:
        if self._bandit is not None:
            self._state_dir.mkdir(parents=True, exist_ok=True)
            self._bandit.save(self._state_dir)
        self._saved_at = time.monotonic()

    def poll_once(self) -> int:
        batch = self._stores.events.tail(self._position, limit=2000)
        if not batch:
            return 0
        self._position = batch[-1][0]
        self.learn([e for _, e in batch])
        return len(batch)

    def start(self) -> None:
        self.refresh()
        # Only what arrives from now on is feedback to lists this process serves.
        self._position = self._stores.events.max_seq()
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="rerank-feedback", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(5)
        try:
            self.save()
        except Exception:  # noqa: BLE001
            log.exception("could not save the bandit state")

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                if self.poll_once() == 0:
                    self._stop.wait(0.1)
            except Exception:  # noqa: BLE001 - feedback must never stop
                log.exception("re-ranking feedback failed; retrying")
                self._stop.wait(1.0)
