"""The simulated shop: catalog, shoppers, weather, a logged history, and an online step API.

>>> shop = SimulatedShop.generate(ShopConfig(n_items=150, n_shoppers=40, n_events=3_000, n_days=10, seed=7))
>>> len(shop.items), len(shop.shoppers), 2_000 < len(shop.events) < 4_500
(150, 40, True)
>>> import numpy as np
>>> evs = shop.respond("u000001", [i.item_id for i in shop.items[:5]], day=12, rng=np.random.default_rng(0))
>>> [e.type.value for e in evs][:2]
['impression', 'impression']
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, time, timedelta

import numpy as np
import pandas as pd

from fitloop.data import Context, Event, Item, User
from fitloop.errors import InvalidInput, NotFound
from fitloop.evaluate.simulator.behaviour import (
    DAY_S,
    FATIGUE_DECAY,
    POSITION_LOGIT,
    SIZE_LABELS,
    ShopState,
    UtilityScale,
    calibrate_scale,
    checkout,
    pick_sizes,
    raw_utility,
    sigmoid,
    simulate_history,
)
from fitloop.evaluate.simulator.catalog import ARTICLE_TYPES, CatalogArrays, build_items, generate_catalog
from fitloop.evaluate.simulator.config import ShopConfig
from fitloop.evaluate.simulator.eventlog import EventBuffer, EventLog
from fitloop.evaluate.simulator.shoppers import HiddenTastes, generate_shoppers
from fitloop.evaluate.simulator.weather import Weather, generate_weather

__all__ = ["SimulatedShop", "simulate_shop"]


class SimulatedShop:
    """A seeded, reproducible fashion shop. Build it with :meth:`generate`.

    Public, what a real shop would have: :attr:`items`, :attr:`shoppers`, :attr:`weather`,
    :attr:`events`. Hidden, what only the simulation knows: :attr:`hidden_tastes`,
    :meth:`true_utility`, :meth:`fit_rates`. Online: :meth:`respond` shows a slate to a shopper
    and returns what they did; it updates stock and boredom.
    """

    def __init__(
        self,
        config: ShopConfig,
        catalog: CatalogArrays,
        users: list[User],
        tastes: HiddenTastes,
        weather: Weather,
        scale: UtilityScale,
        state: ShopState,
        events: EventLog,
        n_sessions: int,
    ) -> None:
        self.config = config
        self.catalog = catalog
        self.shoppers: list[User] = users
        self.hidden_tastes = tastes
        self.weather = weather
        self.scale = scale
        self.state = state
        self.events = events
        self.n_sessions = n_sessions
        self._item_index = {iid: k for k, iid in enumerate(catalog.item_ids)}
        self._user_index = {u.user_id: k for k, u in enumerate(users)}
        self._items_cache: list[Item] | None = None
        self._origin = datetime.combine(config.start, time(0, 0))
        self._origin64 = np.datetime64(self._origin)
        self._user_id_array = np.array([u.user_id for u in users], dtype=object)
        self._item_id_array = np.array(catalog.item_ids, dtype=object)

    # ------------------------------------------------------------------ building
    @classmethod
    def generate(cls, config: ShopConfig | None = None) -> SimulatedShop:
        """Generate the catalog, shoppers, weather and ``config.n_days`` of history."""
        cfg = config or ShopConfig()
        seeds = np.random.SeedSequence(cfg.seed).spawn(5)
        rng_cat, rng_shop, rng_wx, rng_cal, rng_hist = (np.random.default_rng(s) for s in seeds)
        catalog = generate_catalog(
            cfg.n_items, cfg.n_days, cfg.new_arrival_share, cfg.mean_stock_per_item, rng_cat, cfg.item_size_bias
        )
        users, tastes = generate_shoppers(cfg.n_shoppers, cfg.cities, cfg.start, rng_shop)
        weather = generate_weather(cfg.cities, cfg.start, cfg.n_days + cfg.online_days, rng_wx)
        scale = calibrate_scale(catalog, tastes, weather, cfg.n_days, cfg.target_ctr, cfg.click_beta, rng_cal)
        state = ShopState(
            stock=catalog.stock,
            fatigue=np.zeros((cfg.n_shoppers, len(ARTICLE_TYPES))),
            fatigue_day=np.zeros(cfg.n_shoppers, dtype=np.int64),
        )
        buf = EventBuffer()
        n_sessions = simulate_history(cfg, catalog, tastes, weather, scale, state, rng_hist, buf)
        prefix = f"sim{cfg.seed}"
        log = buf.finish(
            [u.user_id for u in users],
            catalog.item_ids,
            np.datetime64(datetime.combine(cfg.start, time(0, 0))),
            id_prefix=prefix,
            end_s=cfg.n_days * DAY_S,
        )
        state.next_event = len(log) + 1
        return cls(cfg, catalog, users, tastes, weather, scale, state, log, n_sessions)

    # ------------------------------------------------------------------ public view
    @property
    def items(self) -> list[Item]:
        """Catalog items with their *current* per-size stock (rebuilt after stock changes)."""
        if self._items_cache is None:
            self._items_cache = build_items(self.catalog, self.config.start)
        return self._items_cache

    def item_ids(self, day: int | date | None = None) -> list[str]:
        """Ids of items launched by ``day`` (all items without a day)."""
        if day is None:
            return list(self.catalog.item_ids)
        d = self._day(day)
        return [self.catalog.item_ids[i] for i in np.flatnonzero(self.catalog.created_day <= d)]

    @property
    def widget_item_ids(self) -> list[str]:
        """The fixed campaign the history's random "picked for you" widget drew from (its action set)."""
        return [self.catalog.item_ids[i] for i in self.state.widget_items]

    def weather_frame(self) -> pd.DataFrame:
        """City x day weather as a long frame (city, day, temperature_c, rain_mm)."""
        return self.weather.to_frame()

    def context(self, user_id: str, day: int | date, slot: str = "home") -> Context:
        """The :class:`fitloop.data.Context` a recommender would see for this shopper on ``day``."""
        u = self._user(user_id)
        d = self._day(day)
        city = self.config.cities[int(self.hidden_tastes.city[u])]
        t, r = self.weather.at(city, d)
        return Context(
            slot=slot,
            city=city,
            day=self.config.start + timedelta(days=d),
            temperature_c=round(t, 1),
            rain_mm=round(r, 1),
        )

    # ------------------------------------------------------------------ hidden truth
    def true_utility(
        self, user_id: str, item_ids: Sequence[str], day: int | date, context: Context | None = None
    ) -> np.ndarray:
        """Standardised utility (``z``) of each item for the shopper on ``day``, boredom included.

        ``context.temperature_c``/``rain_mm``, when given, replace the city's weather. Higher is
        better; 0 is an average random pair. Reading it does not change the shop.
        """
        u = self._user(user_id)
        items = self._items(item_ids)
        d = self._day(day)
        temp, rain = self._weather_for(u, d, context)
        dt = max(d - int(self.state.fatigue_day[u]), 0)
        fatigue = self.state.fatigue[u, self.catalog.article_type[items]] * FATIGUE_DECAY**dt
        raw = raw_utility(self.catalog, self.hidden_tastes, np.full(len(items), u), items, temp, rain, fatigue)
        return (raw - self.scale.mean) / self.scale.sd

    def click_probability(
        self, user_id: str, item_ids: Sequence[str], day: int | date, context: Context | None = None
    ) -> np.ndarray:
        """Chance each item is clicked when shown in that slate position by :meth:`respond`."""
        z = self.true_utility(user_id, item_ids, day, context)
        return sigmoid(self.scale.click_intercept + self.config.click_beta * z + POSITION_LOGIT[: len(z)])

    def fit_rates(self) -> dict[str, float]:
        """Share of sized, kept-or-returned order lines that fit / ran small / ran large."""
        parts = [a for a in self.state.fit_outcomes if len(a)]
        if not parts:
            return {"fit": float("nan"), "small": float("nan"), "large": float("nan")}
        f = np.concatenate(parts)
        return {"fit": float((f == 0).mean()), "small": float((f < 0).mean()), "large": float((f > 0).mean())}

    # ------------------------------------------------------------------ online
    def respond(
        self,
        user_id: str,
        shown_item_ids: Sequence[str],
        day: int | date,
        rng: np.random.Generator,
        context: Context | None = None,
        propensities: Sequence[float] | None = None,
    ) -> list[Event]:
        """Show a slate to a shopper on ``day``; return what they did, in time order.

        Every shown item gets an ``impression`` (``position`` 1.., a shared ``slate_id``, and the
        ``propensity`` the caller's policy gave it, when passed). Clicks
        follow :meth:`click_probability`; a click brings ``product_viewed`` and a detail ``dwell``,
        maybe ``favourited`` and ``cart_added`` (size chosen from the hidden body size); carted lines
        are ordered half of the time (stock decreases), some orders are cancelled, and returns come
        3-20 days later (their events carry those future timestamps). Boredom with the shown article
        types grows. Raises :class:`InvalidInput` for an empty slate or a day outside the weather,
        :class:`NotFound` for unknown ids.
        """
        if len(shown_item_ids) == 0:
            raise InvalidInput("respond() needs at least one item id in shown_item_ids")
        if len(shown_item_ids) > len(POSITION_LOGIT):
            raise InvalidInput(f"a slate holds at most {len(POSITION_LOGIT)} items, got {len(shown_item_ids)}")
        if propensities is not None and len(propensities) != len(shown_item_ids):
            raise InvalidInput(
                f"propensities has {len(propensities)} values for {len(shown_item_ids)} shown items; pass one per item"
            )
        u = self._user(user_id)
        items = self._items(shown_item_ids)
        d = self._day(day)
        cfg, cat, tastes, state = self.config, self.catalog, self.hidden_tastes, self.state
        state.decay_to(np.array([u]), d)
        k = len(items)
        users = np.full(k, u)
        temp, rain = self._weather_for(u, d, context)
        fatigue = state.fatigue[u, cat.article_type[items]]
        z = (raw_utility(cat, tastes, users, items, temp, rain, fatigue) - self.scale.mean) / self.scale.sd
        p_click = sigmoid(self.scale.click_intercept + cfg.click_beta * z + POSITION_LOGIT[:k])
        clicked = rng.random(k) < p_click

        buf = EventBuffer()
        t0 = d * DAY_S + rng.uniform(7 * 3600.0, 22 * 3600.0)
        slate_id = f"slate-{cfg.seed}-{state.next_slate:07d}"
        state.next_slate += 1
        slate = np.full(k, slate_id, dtype=object)
        buf.add(
            "impression",
            user=users,
            ts=np.full(k, t0),
            item=items,
            position=np.arange(1, k + 1),
            slate_id=slate,
            propensity=np.full(k, np.nan) if propensities is None else np.asarray(propensities, dtype=float),
        )
        c = np.flatnonzero(clicked)
        ct = t0 + 3.0 + np.cumsum(rng.exponential(20.0, len(c)) + 30.0) - 30.0
        dwell = np.clip(np.exp(rng.normal(np.log(22.0) + 0.3 * z[c], 0.7)), 2.0, 600.0)
        buf.add("product_clicked", user=users[c], ts=ct, item=items[c], position=c + 1, slate_id=slate[c])
        buf.add("product_viewed", user=users[c], ts=ct + 1.0, item=items[c])
        buf.add(
            "dwell",
            user=users[c],
            ts=ct + 1.0 + dwell,
            item=items[c],
            dwell_ms=np.rint(dwell * 1000.0),
            surface=np.full(len(c), "detail", dtype=object),
        )
        fav = rng.random(len(c)) < sigmoid(-2.8 + 1.2 * z[c])
        buf.add("favourited", user=users[c][fav], ts=ct[fav] + 2.0, item=items[c][fav])
        want = rng.random(len(c)) < sigmoid(-1.4 + z[c])
        w = c[want]
        sizes, ok = pick_sizes(cat, tastes, state.stock, users[w], items[w], cfg, rng)
        state.lost_to_stock += int((~ok).sum())
        cart_t = (ct + 2.0 + dwell)[want][ok]
        w, sizes = w[ok], sizes[ok]
        labels = SIZE_LABELS[cat.size_system[items[w]], sizes]
        buf.add("cart_added", user=users[w], ts=cart_t, item=items[w], size=labels, price=cat.price[items[w]])
        buy = rng.random(len(w)) < 0.5
        if buy.any():
            order_t = np.full(int(buy.sum()), cart_t[buy].max() + rng.uniform(30.0, 240.0))
            checkout(
                cat,
                tastes,
                cfg,
                state,
                rng,
                buf,
                users[w][buy],
                items[w][buy],
                sizes[buy],
                np.zeros(int(buy.sum()), dtype=np.int64),
                order_t,
                d,
                None,
            )
            self._items_cache = None
        np.add.at(state.fatigue, (users, cat.article_type[items]), 0.1)
        np.add.at(state.fatigue, (users[c], cat.article_type[items[c]]), 1.0)
        out = buf.events(self._user_id_array, self._item_id_array, self._origin64, f"sim{cfg.seed}", state.next_event)
        state.next_event += len(out)
        return out

    # ------------------------------------------------------------------ helpers
    def _user(self, user_id: str) -> int:
        try:
            return self._user_index[user_id]
        except KeyError:
            raise NotFound(f"no simulated shopper {user_id!r}; ids look like 'u000001'") from None

    def _items(self, item_ids: Sequence[str]) -> np.ndarray:
        idx = [self._item_index.get(i, -1) for i in item_ids]
        missing = [i for i, k in zip(item_ids, idx, strict=True) if k < 0]
        if missing:
            raise NotFound(f"unknown item ids {missing[:5]} (the shop has {len(self._item_index)} items)")
        return np.asarray(idx, dtype=np.int64)

    def _day(self, day: int | date) -> int:
        if isinstance(day, datetime):
            day = day.date()
        return self.weather.day_index(day if isinstance(day, date) else int(day))

    def _weather_for(self, u: int, d: int, context: Context | None) -> tuple[float, float]:
        temp = float(self.weather.temperature_c[self.hidden_tastes.city[u], d])
        rain = float(self.weather.rain_mm[self.hidden_tastes.city[u], d])
        if context is not None and context.temperature_c is not None:
            temp = float(context.temperature_c)
        if context is not None and context.rain_mm is not None:
            rain = float(context.rain_mm)
        return temp, rain


def simulate_shop(config: ShopConfig | None = None) -> SimulatedShop:
    """Shorthand for :meth:`SimulatedShop.generate`."""
    return SimulatedShop.generate(config)
