"""A small simulated shop behind the console, for tests, screenshots and the e2e suite.

Loads a seeded :class:`~fitloop.evaluate.simulator.SimulatedShop` into the stores, seeds demo users and
consents, and makes a recommender serve: the trained pipeline when :mod:`fitloop.services.training`
works, else :class:`PopularityRecommender` (popular items, nudged by the shopper's article types and
by the weather in the context), which is enough to exercise serving, merchandising rules and campaigns.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from pydantic import SecretStr

from fitloop.config import Settings
from fitloop.data import Context, ScoredItem
from fitloop.evaluate.simulator import ShopConfig, SimulatedShop
from fitloop.services.console_demo import prepare_console_demo
from fitloop.services.coupon_targeting import record_simulated_trial
from fitloop.services.profiles import ProfileService
from fitloop.services.recommend import MODEL_NAME, RecommendationService
from fitloop.services.shop_loader import load_shop
from fitloop.store import Stores
from fitloop.wiring import Container, build

__all__ = ["PopularityRecommender", "ConsoleShop", "build_console_shop", "POPULARITY_PATH"]

POPULARITY_PATH = "builtin:popularity"


class PopularityRecommender:
    """Popular items first, nudged toward the shopper's article types and the day's weather."""

    def __init__(self, stores: Stores) -> None:
        frame = stores.events.frame()
        self._pop = Counter(frame[frame["kind"] == "order_completed"]["item_id"])
        for iid in frame["item_id"]:
            self._pop[iid] += 0  # every seen item is a candidate
        self._items = {it.item_id: it for it in stores.catalog.iter_items()}
        for iid in self._items:
            self._pop[iid] += 0
        self._types: dict[str, Counter[str]] = defaultdict(Counter)
        for u, i in zip(frame["user_id"], frame["item_id"], strict=True):
            it = self._items.get(i)
            if it is not None:
                self._types[u][it.article_type] += 1
        top = max(self._pop.values(), default=1) or 1
        self._norm = {i: n / top for i, n in self._pop.items()}

    def is_known(self, user_id: str) -> bool:
        return user_id in self._types

    knows_user = is_known  # the older name of the protocol method

    def recommend(self, user_id: str, k: int = 12, context: Context | None = None, exclude: Iterable[str] = (),
                  in_stock: Callable[[str], bool] | None = None) -> list[ScoredItem]:
        ex = set(exclude)
        types = self._types.get(user_id, Counter())
        total = sum(types.values()) or 1
        temp = context.temperature_c if context else None
        rain = context.rain_mm if context else None
        scored = []
        for iid, base in self._norm.items():
            if iid in ex or (in_stock is not None and not in_stock(iid)):
                continue
            it = self._items.get(iid)
            s, why = base, "popular"
            if it is not None:
                share = types.get(it.article_type, 0) / total
                if share:
                    s, why = s + share, f"you like {it.article_type}s"
                warmth = float(it.attributes.get("warmth", 0.0) or 0.0)
                if temp is not None:
                    # Hot day: light clothes up, warm ones down (and the reverse when cold).
                    s -= warmth * (temp - 15.0) / 15.0
                    if warmth * (temp - 15.0) < -0.1:
                        why += f"; suits {temp:g} °C"
                if rain and it.attributes.get("rain_ready"):
                    s, why = s + 0.5, why + "; rain-ready"
            scored.append(ScoredItem(iid, round(s, 6), why, 1.0, "popularity"))
        scored.sort(key=lambda x: (-x.score, x.item_id))
        return scored[:k]


@dataclass
class ConsoleShop:
    container: Container
    shop: SimulatedShop
    users: dict[str, str]
    trained: bool


def build_console_shop(data_dir: Path, *, n_items: int = 150, n_shoppers: int = 120, n_events: int = 6000,
                       n_days: int = 45, seed: int = 3, train: bool = False) -> ConsoleShop:
    """A container over a fresh SQLite store in ``data_dir`` with a shop, demo users, consents and a recommender.

    ``train=True`` tries the real training pipeline first (falls back to popularity when it is unavailable).
    """
    # A pseudonym key fixed by the seed: the same seed gives the same stored ids, hence the same segments and
    # splits run after run (a random key per folder would reorder the shoppers every time).
    settings = Settings(data_dir=data_dir, demo=True, log_json=False,
                        pseudonym_key=SecretStr(f"console-shop-{seed}-pseudonyms-for-tests-only"))
    ctr = build(settings)
    shop = SimulatedShop.generate(ShopConfig(n_items=n_items, n_shoppers=n_shoppers, n_events=n_events, n_days=n_days,
                                             seed=seed))
    # Like `fitloop demo`: the simulated shoppers' ids (``shop.shoppers``) are the shop's customer ids; the stores
    # hold their pseudonyms, which the API, console and CLI resolve them to.
    assert ctr.privacy is not None
    load_shop(ctr.stores, shop.items, shop.shoppers, shop.events.to_events(), pseudonymise=ctr.privacy.pseudonymise)
    users = prepare_console_demo(ctr.stores, seed=seed)
    # A randomised coupon campaign on the simulated shop, with the true uplift kept (coupon targeting page).
    record_simulated_trial(ctr.stores, shop, rounds=12, seed=seed, pseudonymise=ctr.privacy.pseudonymise)
    ProfileService(ctr.stores).rebuild()  # the inspector shows each shopper's profile in plain words
    trained = False
    if train:
        try:
            from fitloop.services.training import train_from_stores

            train_from_stores(ctr.stores, settings.model_path())
            trained = True
        except Exception:  # noqa: BLE001 - the pipeline may be unfinished; popularity keeps the console usable
            trained = False
    if not trained:
        ctr.stores.models.register(MODEL_NAME, "popularity-1", POPULARITY_PATH, {"kind": "popularity"}, activate=True)
        old = ctr.recommendations
        rs = RecommendationService(ctr.stores, lambda _path: PopularityRecommender(ctr.stores),
                                   rules_provider=old.rules_provider)
        rs.personalised = old.personalised
        rs.split = old.split  # the live A/B split of console experiments
        ctr.recommendations = rs
    return ConsoleShop(ctr, shop, users, trained)
