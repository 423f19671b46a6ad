"""Read-only numbers for the console: KPIs, consent rates, slow-moving stock and who might want it.

Computed from the stores on demand and cached briefly: a marketer reloading the overview should
not re-scan the event log every time.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from itertools import islice
from typing import Any

import numpy as np
import pandas as pd

from fitloop.marketing.kpis import KpiReport, compute_kpis
from fitloop.marketing.stock import SlowMover, best_shoppers_for, slow_movers
from fitloop.privacy.consent import ConsentLedger
from fitloop.privacy.manifest import Manifest, default_manifest
from fitloop.store import Stores

__all__ = ["InsightService", "impressions_frame"]


def impressions_frame(stores: Stores, *, limit: int = 200_000) -> pd.DataFrame:
    """One row per shown item: ``user_id, item_id, ts, slot`` (naive UTC, like the events frame)."""
    rows = [(imp.user_id, str(it["item_id"]), imp.ts, imp.slot)
            for imp in stores.impressions.scan(limit=limit) for it in imp.items]
    df = pd.DataFrame(rows, columns=["user_id", "item_id", "ts", "slot"])
    if len(df):
        df["ts"] = pd.to_datetime(df["ts"], utc=True).dt.tz_localize(None)
    return df


class InsightService:
    def __init__(self, stores: Stores, *, manifest: Manifest | None = None, ttl_s: float = 30.0) -> None:
        self._stores = stores
        self._manifest = manifest
        self._ttl = ttl_s
        self._cache: dict[str, tuple[float, Any]] = {}
        self._lock = threading.Lock()

    def _cached(self, key: str, make: Callable[[], Any]) -> Any:
        now = time.monotonic()
        with self._lock:
            hit = self._cache.get(key)
            if hit and now - hit[0] < self._ttl:
                return hit[1]
        value = make()
        with self._lock:
            self._cache[key] = (now, value)
        return value

    def invalidate(self) -> None:
        with self._lock:
            self._cache.clear()

    @property
    def manifest(self) -> Manifest:
        if self._manifest is None:
            self._manifest = default_manifest()
        return self._manifest

    # ------------------------------------------------------------------ KPIs
    def kpis(self) -> KpiReport:
        return self._cached("kpis", lambda: compute_kpis(self._stores.events.frame(), impressions_frame(self._stores)))

    # ------------------------------------------------------------------ consent
    def consent_rates(self, *, max_users: int = 20_000) -> dict[str, Any]:
        """Per consent purpose: shoppers who allow it now, of the shoppers counted (latest entry wins)."""
        def make() -> dict[str, Any]:
            purposes = [p for p, spec in self.manifest.purposes.items() if spec.needs_consent]
            granted: Counter[str] = Counter()
            decided: Counter[str] = Counter()
            n = 0
            for uid in islice(self._stores.users.iter_user_ids(), max_users):
                entries = self._stores.users.consents(uid)
                n += 1
                if not entries:
                    continue
                ledger = ConsentLedger(self.manifest, entries)
                seen = {e.purpose for e in entries}
                for p in purposes:
                    if p in seen:
                        decided[p] += 1
                    if ledger.allowed(uid, p):
                        granted[p] += 1
            return {"shoppers": n, "rows": [
                {"purpose": p, "title": self.manifest.purposes[p].title, "granted": granted[p], "decided": decided[p],
                 "rate": granted[p] / n if n else 0.0} for p in purposes]}
        return dict(self._cached("consent", make))

    # ------------------------------------------------------------------ slow stock
    def slow_stock(self, *, window_days: int = 28, min_weeks_of_cover: float = 12.0, limit: int = 20,
                   per_item: int = 10) -> tuple[list[SlowMover], dict[str, list[tuple[str, float]]]]:
        """Items whose stock would take long to clear, and the shoppers whose tastes fit them best.

        Affinity of a shopper for an item: the share of their events on items of the same article type,
        plus half the share on the same colour (a taste match, no discount needed).
        """
        def make() -> tuple[list[SlowMover], dict[str, list[tuple[str, float]]]]:
            items = {it.item_id: it for it in self._stores.catalog.iter_items(batch_size=5000)}
            stock = {i: sum(v.stock for v in it.variants) for i, it in items.items() if it.variants}
            ev = self._stores.events.frame()
            if ev.empty:
                return [], {}
            now = pd.Timestamp(ev["ts"].max()) + pd.Timedelta(seconds=1)
            sales = ev[ev["kind"] == "order_completed"][["item_id", "ts"]]
            slow = slow_movers(stock, sales, now=now, window_days=window_days, min_weeks_of_cover=min_weeks_of_cover,
                               limit=limit)
            if not slow:
                return [], {}
            ev = ev[ev["item_id"].isin(items.keys())]
            ev = ev.assign(atype=ev["item_id"].map(lambda i: items[i].article_type),
                           colour=ev["item_id"].map(lambda i: items[i].colour))
            totals = ev.groupby("user_id").size().to_dict()
            by_type = ev.groupby(["user_id", "atype"]).size().to_dict()
            by_colour = ev.groupby(["user_id", "colour"]).size().to_dict()
            shoppers = list(totals)
            buyers_of = set(ev[ev["kind"] == "order_completed"].groupby("user_id").size().index)

            def score(u: str, ids: Sequence[str]) -> np.ndarray:
                tot = float(totals[u])
                return np.array([(by_type.get((u, items[i].article_type), 0)
                                  + 0.5 * by_colour.get((u, items[i].colour), 0)) / tot for i in ids])

            # Shoppers who bought before are likelier to buy again; rank among them when there are enough.
            pool = [u for u in shoppers if u in buyers_of] or shoppers
            return slow, best_shoppers_for([s.item_id for s in slow], pool, score, per_item=per_item)
        slow, best = self._cached(f"slow:{window_days}:{min_weeks_of_cover}:{limit}:{per_item}", make)
        return slow, best
