"""Serving recommendations: the active model bundle, hot-reloaded; stock filters; impression logging.

The service never blocks a shopper on a reload: a background thread polls the
model registry, loads a new bundle next to the serving one and swaps a single
reference. A bundle that fails to load is refused and the previous one keeps
serving.
"""

from __future__ import annotations

import copy
import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import fields, replace
from datetime import UTC, datetime
from typing import Any, Protocol

from fitloop.data import Context, Recommendations, ScoredItem
from fitloop.errors import FitloopError, InvalidInput, NotTrained
from fitloop.services.merchandising import RuleSet
from fitloop.services.reranking import ServingPolicies
from fitloop.services.traffic_split import Assignment
from fitloop.services.writer import BatchWriter
from fitloop.store import Impression, Stores

__all__ = ["Recommender", "RecommendationService", "StockView", "MODEL_NAME", "SLOTS", "ANONYMOUS_USER",
           "NOT_PERSONALISED_REASON"]

log = logging.getLogger(__name__)

MODEL_NAME = "recommender"
SLOTS = ("home", "product", "cart", "search", "email", "push")
MAX_K = 100
#: The id asked of the model for a shopper who opted out: unknown to every model, so it gets popularity.
ANONYMOUS_USER = "__fitloop_not_personalised__"
NOT_PERSONALISED_REASON = "not personalised: you opted out"
_CONTEXT_FIELDS = tuple(f.name for f in fields(Context))


class Recommender(Protocol):
    """What a loaded model bundle offers the service (see :mod:`fitloop.recommend`)."""

    def recommend(
        self,
        user_id: str,
        k: int = 12,
        context: Context | None = None,
        exclude: Iterable[str] = (),
        in_stock: Callable[[str], bool] | None = None,
    ) -> list[ScoredItem]: ...

    def is_known(self, user_id: str) -> bool: ...


class StockView:
    """A snapshot of which sizes are in stock, for O(1) filtering on the request path."""

    def __init__(self, sizes_in_stock: dict[str, frozenset[str]] | None = None) -> None:
        self._sizes = sizes_in_stock or {}

    @classmethod
    def from_stores(cls, stores: Stores) -> StockView:
        # One light query of ids and sizes: building full Item objects of a big catalog on every
        # refresh stalled requests on the interpreter lock.
        return cls(stores.catalog.stock_snapshot())

    def filter_for(self, size: str | None) -> Callable[[str], bool] | None:
        if not self._sizes:
            return None  # nothing known about stock: do not filter
        sizes = self._sizes

        def in_stock(item_id: str) -> bool:
            s = sizes.get(item_id)
            if s is None:
                return False  # not in the catalog (any more)
            if "*" in s:
                return True  # an item sold without sizes
            return bool(s) if size is None else size in s

        return in_stock


class RecommendationService:
    """Serve lists from the active ``recommender`` bundle and log every list as an impression."""

    def __init__(
        self,
        stores: Stores,
        load_bundle: Callable[[str], Recommender],
        *,
        reload_interval_s: float = 2.0,
        stock_refresh_s: float = 30.0,
        rules_provider: Callable[[], RuleSet] | None = None,
    ) -> None:
        self._stores = stores
        self._load_bundle = load_bundle
        self._reload_interval_s = reload_interval_s
        self._stock_refresh_s = stock_refresh_s
        self._model: Recommender | None = None
        self._version: str | None = None
        self._failed_version: str | None = None
        self._stock = StockView()
        self._stock_loaded_at = 0.0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._writer: BatchWriter[Impression] = BatchWriter(stores.impressions.log, name="impression-writer")
        # Merchandising rules (pin/bury/block/boost_new), re-read by the provider at most once a second.
        self.rules_provider = rules_provider
        # Privacy (issue 4): False for a shopper who did not consent to personalisation (or was erased);
        # they get the popularity list a new visitor gets, never lists computed from their own history.
        self.personalised: Callable[[str], bool] | None = None
        # Re-ranking after recall (context, exposure, diversity, bandit); see services/reranking.py.
        self.policies: ServingPolicies | None = None
        # Live A/B split of strategies (console experiments): (user, slot) → the shopper's arm, or None.
        self.split: Callable[[str, str], Assignment | None] | None = None

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> None:
        # Fresh threads each time: a service stopped by one app lifespan can serve the next one.
        self._stop = threading.Event()
        self._writer = BatchWriter(self._stores.impressions.log, name="impression-writer")
        self._writer.start()
        self.reload()
        if self.policies is not None:
            self.policies.start()
        self._thread = threading.Thread(target=self._poll, name="model-reloader", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(5)
            self._thread = None
        if self.policies is not None:
            self.policies.stop()
        self._writer.close()

    def _poll(self) -> None:
        while not self._stop.wait(self._reload_interval_s):
            try:
                self.reload()
                if time.monotonic() - self._stock_loaded_at > self._stock_refresh_s:
                    self.refresh_stock()
            except Exception:  # noqa: BLE001 - the poller must survive a bad moment of the store
                log.exception("model reload poll failed")

    def refresh_stock(self) -> None:
        self._stock = StockView.from_stores(self._stores)
        self._stock_loaded_at = time.monotonic()

    def reload(self) -> bool:
        """Load the registry's active bundle if it changed. Returns True when a new one serves now."""
        record = self._stores.models.active(MODEL_NAME)
        if record is None or record.version in (self._version, self._failed_version):
            return False
        with self._lock:
            try:
                model = self._load_bundle(record.path)
            except FitloopError as exc:
                self._failed_version = record.version
                log.error("model bundle %s refused, previous one keeps serving: %s", record.version, exc.message,
                          extra={"code": exc.code, "path": record.path})
                return False
            self._model, self._version = model, record.version
            self.refresh_stock()
            if self.policies is not None and self.policies.started:
                # A new bundle usually comes with a changed catalog: re-rank with the current items.
                self.policies.refresh()
        log.info("serving model bundle", extra={"version": record.version, "path": record.path})
        return True

    @property
    def version(self) -> str | None:
        return self._version

    # ------------------------------------------------------------------ serving
    def recommend(
        self,
        user_id: str,
        *,
        slot: str = "home",
        k: int = 12,
        context: Context | None = None,
        exclude: Iterable[str] = (),
        size: str | None = None,
        request_id: str | None = None,
        log_impression: bool = True,
    ) -> Recommendations:
        if not user_id or len(user_id) > 128:
            raise InvalidInput("user_id must be 1 to 128 characters", code="invalid_user_id")
        if not 1 <= k <= MAX_K:
            raise InvalidInput(f"k must be between 1 and {MAX_K}, got {k}", code="invalid_k")
        if slot not in SLOTS:
            raise InvalidInput(f"slot must be one of {', '.join(SLOTS)}; got {slot!r}", code="invalid_slot")
        model = self._model
        if model is None:
            self.reload()
            model = self._model
        if model is None:
            raise NotTrained(
                "no recommendation model has been trained yet; run `fitloop train` (or `fitloop demo`) and retry",
            )
        ctx = context or Context(slot=slot)
        excluded = set(exclude)
        in_stock = self._stock.filter_for(size)
        rules = self.rules_provider() if self.rules_provider is not None else None
        # Ask for more when rules may drop or move items, so the list stays k long.
        want = min(MAX_K, k + rules.blocking) if rules is not None else k
        policies = self.policies
        # Re-ranking policies choose among a wider recall; the list is cut to ``want`` after them.
        recall = min(MAX_K * 3, want * policies.config.candidates_factor) if policies is not None else want
        personal = self.personalised is None or self.personalised(user_id)
        # Only served (logged) lists of consenting shoppers take part in a split; previews serve normally.
        arm = self.split(user_id, slot) if self.split is not None and personal and log_impression else None
        reranked = policies is not None and personal and (arm is None or arm.strategy.rerank)
        rid = request_id or uuid.uuid4().hex
        if personal:
            who = user_id if arm is None or arm.strategy.personalised else ANONYMOUS_USER
            items = model.recommend(who, k=recall, context=ctx, exclude=excluded, in_stock=in_stock)
        else:
            items = [replace(it, reason=NOT_PERSONALISED_REASON) for it in
                     model.recommend(ANONYMOUS_USER, k=recall, context=ctx, exclude=excluded, in_stock=in_stock)]
        if policies is not None and reranked:
            items = policies.rerank(ctx, items, want, user_id=user_id, request_id=rid,
                                    without=arm.strategy.without if arm is not None else frozenset())
        else:
            items = items[:want]
        if rules is not None:
            items = rules.apply(items, user_id=user_id, slot=slot, k=k, exclude=excluded, in_stock=in_stock,
                                context_item=ctx.item_id)
        version = self._version or "unknown"
        if policies is not None and reranked:
            version = f"{version}+{policies.version}"
        recs = Recommendations(
            user_id=user_id,
            items=tuple(items),
            policy_version=version,
            request_id=rid,
            cold_start=not personal or not model.is_known(user_id) or (arm is not None and not arm.strategy.personalised),
        )
        if log_impression:  # False for the console's what-if previews, which no shopper saw
            self._log_impression(recs, slot, ctx, arm)
        return recs

    def _log_impression(self, recs: Recommendations, slot: str, ctx: Context, arm: Assignment | None = None) -> None:
        # What dataclasses.asdict gave, without its recursive deep copy (a tenth of a millisecond a request).
        context: dict[str, Any] = {}
        for name in _CONTEXT_FIELDS:
            v = getattr(ctx, name)
            if v is None or v == "" or (isinstance(v, Mapping) and not v):
                continue
            context[name] = copy.deepcopy(dict(v)) if isinstance(v, Mapping) else v
        if "day" in context:
            context["day"] = str(context["day"])
        self._writer.put(
            Impression(
                request_id=recs.request_id,
                user_id=recs.user_id,
                slot=slot,
                policy_version=recs.policy_version,
                ts=datetime.now(UTC),
                items=tuple(
                    {"item_id": it.item_id, "position": pos, "score": round(float(it.score), 6),
                     "propensity": float(it.propensity), "source": it.source}
                    for pos, it in enumerate(recs.items)
                ),
                context=context,
                experiment_id=arm.experiment_id if arm is not None else None,
                arm=arm.arm if arm is not None else None,
            )
        )
