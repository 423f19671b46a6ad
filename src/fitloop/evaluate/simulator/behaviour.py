"""How simulated shoppers behave: utility, size choice, checkout, returns, and the daily history.

Utility of item *i* for shopper *u* on day *d* (all terms additive, see docs/SIMULATOR.md):

    style match + 0.8 colour match + 0.7 category liking + item appeal
    - price outside the shopper's band (steeper above it) + eco liking x eco item
    - (0.3 + 1.2 weather sensitivity) x |warmth the day needs - item warmth| + rain gear on wet days
    - boredom x recent looks at the same article type

It is standardised (``z``) with the mean and spread of random shopper-item pairs, so
``click_beta``, ``choice_beta`` and the calibrated click intercept keep their meaning whatever the
catalog looks like.

>>> sigmoid(np.array([0.0]))
array([0.5])
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

import numpy as np

from fitloop.evaluate.simulator.catalog import MAX_SIZES, SIZE_SYSTEMS, SYSTEM_NAMES, CatalogArrays
from fitloop.evaluate.simulator.config import ShopConfig
from fitloop.evaluate.simulator.eventlog import EventBuffer
from fitloop.evaluate.simulator.shoppers import HiddenTastes
from fitloop.evaluate.simulator.weather import Weather

__all__ = ["sigmoid", "raw_utility", "ShopState", "UtilityScale", "simulate_history", "checkout", "pick_sizes"]

DAY_S = 86400.0
#: Boredom fades with a half-life of about four days.
FATIGUE_DECAY = 0.85
#: Column of HiddenTastes.body_size used by each size system (-1: one size fits all).
BODY_COLUMN = np.array([{"top": 0, "bottom": 1, "shoe": 2, "one": -1}[n] for n in SYSTEM_NAMES])
SIZE_COUNT = np.array([len(SIZE_SYSTEMS[n]) for n in SYSTEM_NAMES])
SIZE_LABELS = np.array(
    [list(SIZE_SYSTEMS[n]) + [None] * (MAX_SIZES - len(SIZE_SYSTEMS[n])) for n in SYSTEM_NAMES], dtype=object
)
#: Session start hour (local clock, treated as UTC): quiet nights, lunch bump, evening peak.
HOUR_WEIGHTS = np.array(
    [1, 0.5, 0.3, 0.2, 0.2, 0.3, 0.8, 1.5, 2, 2.2, 2.4, 2.6, 3.2, 3, 2.6, 2.5, 2.6, 3, 3.6, 4.4, 5, 5, 4, 0.0]
)
WEEKDAY_WEIGHTS = np.array([1.0, 0.95, 0.95, 1.0, 1.05, 1.2, 1.2])


def sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


@dataclass
class ShopState:
    """What changes as the shop runs: stock, boredom, counters, and figures for calibration."""

    stock: np.ndarray
    fatigue: np.ndarray  # (n_shoppers, n_article_types)
    fatigue_day: np.ndarray  # (n_shoppers,) day the fatigue row was last decayed to
    next_order: int = 1
    next_event: int = 1
    next_slate: int = 1
    fit_outcomes: list[np.ndarray] = field(default_factory=list)  # -1 small, 0 fit, 1 large per sized line
    lost_to_stock: int = 0
    widget_items: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))

    def decay_to(self, users: np.ndarray, day: int) -> None:
        """Fade the boredom of ``users`` up to ``day`` (lazily, per shopper)."""
        users = np.unique(users)
        dt = np.maximum(day - self.fatigue_day[users], 0)
        self.fatigue[users] *= (FATIGUE_DECAY**dt)[:, None]
        self.fatigue_day[users] = np.maximum(self.fatigue_day[users], day)


@dataclass(frozen=True)
class UtilityScale:
    """Mean and spread of raw utility over random pairs, and the calibrated click intercept."""

    mean: float
    sd: float
    click_intercept: float


def raw_utility(
    cat: CatalogArrays,
    tastes: HiddenTastes,
    users: np.ndarray,
    items: np.ndarray,
    temp: np.ndarray | float,
    rain: np.ndarray | float,
    fatigue: np.ndarray | float = 0.0,
) -> np.ndarray:
    """Unstandardised utility; all arguments broadcast to one shape."""
    style = tastes.style_affinity[users, cat.style[items]]
    colour = tastes.colour_pref[users, cat.colour[items]]
    category = tastes.category_affinity[users, cat.category[items]]
    d = (np.log(cat.price[items]) - tastes.price_centre[users]) / tastes.price_width[users]
    price = -np.minimum(np.where(d > 0, 0.6 * d * d, 0.2 * d * d), 4.0)
    eco = cat.eco[items] * (1.5 * tastes.eco_pref[users] - 0.15)
    need = np.clip((16.0 - temp) / 14.0, -1.0, 1.0)
    mismatch = np.abs(need - cat.warmth[items])
    ws = tastes.weather_sensitivity[users]
    wet = rain > 1.0
    weather = -(0.3 + 1.2 * ws) * mismatch + np.where(wet, 0.2 + 0.8 * ws, -0.2) * cat.rain[items]
    bored = -tastes.boredom[users] * fatigue
    return style + 0.8 * colour + 0.7 * category + cat.appeal[items] + price + eco + weather + bored


def calibrate_scale(
    cat: CatalogArrays,
    tastes: HiddenTastes,
    weather: Weather,
    n_days: int,
    target_ctr: float,
    click_beta: float,
    rng: np.random.Generator,
    n_pairs: int = 20_000,
) -> UtilityScale:
    """Standardise utility and solve the click intercept so random 3-item slates hit ``target_ctr``."""
    users = rng.integers(0, len(tastes), n_pairs)
    items = rng.integers(0, len(cat), n_pairs)
    days = rng.integers(0, n_days, n_pairs)
    city = tastes.city[users]
    raw = raw_utility(cat, tastes, users, items, weather.temperature_c[city, days], weather.rain_mm[city, days])
    mean, sd = float(raw.mean()), float(raw.std()) or 1.0
    z = (raw - mean) / sd
    pos = np.arange(n_pairs) % 3
    lo, hi = -20.0, 5.0
    for _ in range(60):
        mid = (lo + hi) / 2.0
        if sigmoid(mid + click_beta * z + POSITION_LOGIT[pos]).mean() > target_ctr:
            hi = mid
        else:
            lo = mid
    return UtilityScale(mean, sd, (lo + hi) / 2.0)


#: Lower slots are looked at a little less (OBD's three slots differ by about 15 %).
POSITION_LOGIT = -0.07 * np.arange(64)


def pick_sizes(
    cat: CatalogArrays,
    tastes: HiddenTastes,
    stock: np.ndarray,
    users: np.ndarray,
    items: np.ndarray,
    cfg: ShopConfig,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray]:
    """The size each shopper picks for each item and whether it could be carted.

    The shopper aims at their body size (with ``size_noise``); when that size is sold out they
    take the nearest size in stock with probability ``substitute_size_rate``, else give up.
    """
    system = cat.size_system[items]
    col = BODY_COLUMN[system]
    n_sizes = SIZE_COUNT[system]
    body = np.where(col >= 0, tastes.body_size[users, np.maximum(col, 0)], 0.0)
    want = np.clip(np.rint(body + rng.normal(0.0, cfg.size_noise, len(items))), 0, n_sizes - 1).astype(np.int64)
    want = np.where(col >= 0, want, 0)
    in_stock = stock[items] > 0  # (n, MAX_SIZES)
    ok = in_stock[np.arange(len(items)), want]
    size = want.copy()
    missing = np.flatnonzero(~ok)
    if len(missing):
        steps = np.arange(MAX_SIZES)[None, :]
        up = (rng.random(len(missing)) < 0.5)[:, None]  # between two neighbours, either way
        below = steps < want[missing, None]
        dist = np.abs(steps - want[missing, None]) + 0.1 * np.where(up, below, ~below)
        dist = np.where(in_stock[missing], dist, np.inf)
        best = dist.argmin(axis=1)
        has = np.isfinite(dist[np.arange(len(missing)), best])
        sub = has & (rng.random(len(missing)) < cfg.substitute_size_rate)
        size[missing[sub]] = best[sub]
        ok[missing[sub]] = True
    return size, ok


def checkout(
    cat: CatalogArrays,
    tastes: HiddenTastes,
    cfg: ShopConfig,
    state: ShopState,
    rng: np.random.Generator,
    buf: EventBuffer,
    users: np.ndarray,
    items: np.ndarray,
    sizes: np.ndarray,
    group: np.ndarray,
    order_ts: np.ndarray,
    day: int,
    horizon_s: float | None,
) -> None:
    """Turn carted lines into orders (one per ``group``), with stock, cancellations and returns.

    Lines whose size sold out earlier the same day are removed from the cart instead
    (``cart_removed`` with reason ``out_of_stock``). ``horizon_s``: returns after it are not
    generated (``None``: no limit).
    """
    n = len(items)
    if n == 0:
        return
    qty = 1 + (rng.random(n) < 0.06).astype(np.int64)
    # Serve lines in time order; a line fails when the day's earlier demand used up its size.
    key = items * MAX_SIZES + sizes
    order = np.lexsort((order_ts, key))
    k_sorted, q_sorted = key[order], qty[order]
    cum = np.cumsum(q_sorted)
    first = np.r_[True, k_sorted[1:] != k_sorted[:-1]]
    base = np.maximum.accumulate(np.where(first, cum - q_sorted, 0))
    demand = np.empty(n, dtype=np.int64)
    demand[order] = cum - base
    ok = demand <= state.stock[items, sizes]
    fail = ~ok
    state.lost_to_stock += int(fail.sum())
    buf.add(
        "cart_removed",
        user=users[fail],
        ts=order_ts[fail] - 1.0,
        item=items[fail],
        size=SIZE_LABELS[cat.size_system[items[fail]], sizes[fail]],
        price=cat.price[items[fail]],
        reason=np.full(int(fail.sum()), "out_of_stock", dtype=object),
    )
    users, items, sizes, group, order_ts, qty = users[ok], items[ok], sizes[ok], group[ok], order_ts[ok], qty[ok]
    n = len(items)
    if n == 0:
        return
    np.subtract.at(state.stock, (items, sizes), qty)
    groups, gidx = np.unique(group, return_inverse=True)
    numbers = state.next_order + np.arange(len(groups))
    state.next_order += len(groups)
    order_ids = np.array([f"o{k:07d}" for k in numbers], dtype=object)[gidx]
    # Markdowns on older stock, occasional promotions.
    age = day - cat.created_day[items]
    markdown = (age > 60) & (rng.random(n) < 0.4)
    discount = np.where(markdown, rng.choice([0.2, 0.3, 0.5], n), np.where(rng.random(n) < 0.05, 0.1, 0.0))
    paid = np.round(cat.price[items] * (1.0 - discount), 2)
    labels = SIZE_LABELS[cat.size_system[items], sizes]
    ts = order_ts[np.unique(gidx, return_index=True)[1]][gidx]  # one timestamp per order
    buf.add(
        "order_completed",
        user=users,
        ts=ts,
        item=items,
        size=labels,
        quantity=qty,
        price=paid,
        order_id=order_ids,
        discount=discount,
    )
    # Cancellations: whole orders, within hours; the stock comes back.
    cancelled_order = rng.random(len(groups)) < cfg.cancel_rate
    cancel_delay = rng.uniform(300.0, 6 * 3600.0, len(groups))
    cancelled = cancelled_order[gidx]
    buf.add(
        "order_cancelled",
        user=users[cancelled],
        ts=ts[cancelled] + cancel_delay[gidx][cancelled],
        item=items[cancelled],
        size=labels[cancelled],
        quantity=qty[cancelled],
        price=paid[cancelled],
        order_id=order_ids[cancelled],
    )
    np.add.at(state.stock, (items[cancelled], sizes[cancelled]), qty[cancelled])
    # Fit: where the chosen size sits against the body, shifted by how the item runs.
    col = BODY_COLUMN[cat.size_system[items]]
    sized = col >= 0
    body = np.where(sized, tastes.body_size[users, np.maximum(col, 0)], 0.0)
    m = np.where(sized, sizes + cat.size_bias[items] - body, 0.0)
    fit = np.where(m < -0.5, -1, np.where(m > 0.5, 1, 0))
    state.fit_outcomes.append(fit[sized & ~cancelled])
    # Returns: misfits mostly go back; other reasons at base rates.
    r1, r2 = rng.random(n), rng.random(n)
    misfit_return = (fit != 0) & (r1 < cfg.return_if_misfit)
    base = np.cumsum([cfg.not_as_pictured_rate, cfg.quality_rate, cfg.changed_mind_rate])
    other = np.searchsorted(base, r2, side="right")  # 0, 1, 2 or 3 (= kept)
    reason = np.where(
        misfit_return,
        np.where(fit < 0, "too_small", "too_large"),
        np.array(["not_as_pictured", "quality", "changed_mind", ""], dtype=object)[other],
    ).astype(object)
    returned = (reason != "") & ~cancelled
    ret_ts = ts + (3.0 + rng.gamma(2.0, 3.0, n)) * DAY_S
    if horizon_s is not None:
        returned &= ret_ts < horizon_s
    buf.add(
        "product_returned",
        user=users[returned],
        ts=ret_ts[returned],
        item=items[returned],
        size=labels[returned],
        quantity=qty[returned],
        price=paid[returned],
        order_id=order_ids[returned],
        reason=reason[returned],
    )


def _queries(cat: CatalogArrays, items: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    from fitloop.evaluate.simulator.catalog import ARTICLE_TYPES, COLOURS, STYLES

    out = np.empty(len(items), dtype=object)
    kind = rng.integers(0, 3, len(items))
    for k, (i, how) in enumerate(zip(items.tolist(), kind.tolist(), strict=True)):
        at = ARTICLE_TYPES[int(cat.article_type[i])].name
        if how == 0:
            out[k] = f"{COLOURS[int(cat.colour[i])][0]} {at}"
        elif how == 1:
            out[k] = f"{STYLES[int(cat.style[i])]} {at}"
        else:
            out[k] = f"{cat.material[i]} {at}"
    return out


def _widget(
    cfg: ShopConfig,
    cat: CatalogArrays,
    tastes: HiddenTastes,
    scale: UtilityScale,
    state: ShopState,
    rng: np.random.Generator,
    buf: EventBuffer,
    users: np.ndarray,
    start: np.ndarray,
    temp: np.ndarray,
    rain: np.ndarray,
    live: np.ndarray,
) -> None:
    """A uniformly random "picked for you" slate from the campaign items ``live``, logged with propensities."""
    k = cfg.widget_size
    shown = np.flatnonzero(rng.random(len(users)) < cfg.widget_rate)
    if len(shown) == 0 or len(live) < k:
        return
    slate = live[rng.integers(0, len(live), (len(shown), k))]
    for j in range(1, k):  # distinct items in a slate: redraw clashes (rare)
        clash = (slate[:, j : j + 1] == slate[:, :j]).any(axis=1)
        while clash.any():
            slate[clash, j] = live[rng.integers(0, len(live), int(clash.sum()))]
            clash = (slate[:, j : j + 1] == slate[:, :j]).any(axis=1)
    u = users[shown][:, None]
    fat = state.fatigue[u, cat.article_type[slate]]
    z = (raw_utility(cat, tastes, u, slate, temp[shown][:, None], rain[shown][:, None], fat) - scale.mean) / scale.sd
    p = sigmoid(scale.click_intercept + cfg.click_beta * z + POSITION_LOGIT[:k])
    click = rng.random(p.shape) < p
    ids = np.array([f"slate-{cfg.seed}-{n:07d}" for n in range(state.next_slate, state.next_slate + len(shown))])
    state.next_slate += len(shown)
    ids = ids.astype(object)
    t = start[shown] + 0.5
    n = len(shown) * k
    pos = np.tile(np.arange(1, k + 1), len(shown))
    buf.add(
        "impression",
        user=np.repeat(users[shown], k),
        ts=np.repeat(t, k),
        item=slate.ravel(),
        position=pos,
        slate_id=np.repeat(ids, k),
        # Uniform slate without replacement: any campaign item lands in a given slot with chance 1/n.
        propensity=np.full(n, 1.0 / len(live)),
    )
    r, c = np.nonzero(click)
    ct = t[r] + 2.0 + rng.uniform(0.5, 8.0, len(r))
    cu, ci = users[shown][r], slate[r, c]
    dwell = np.clip(np.exp(rng.normal(np.log(22.0) + 0.3 * z[r, c], 0.7)), 2.0, 600.0)
    buf.add("product_clicked", user=cu, ts=ct, item=ci, position=c + 1, slate_id=ids[r])
    buf.add("product_viewed", user=cu, ts=ct + 1.0, item=ci)
    buf.add(
        "dwell",
        user=cu,
        ts=ct + 1.0 + dwell,
        item=ci,
        dwell_ms=np.rint(dwell * 1000.0),
        surface=np.full(len(r), "detail", dtype=object),
    )
    np.add.at(state.fatigue, (np.repeat(users[shown], k), cat.article_type[slate.ravel()]), 0.1)
    np.add.at(state.fatigue, (cu, cat.article_type[ci]), 1.0)


def simulate_history(
    cfg: ShopConfig,
    cat: CatalogArrays,
    tastes: HiddenTastes,
    weather: Weather,
    scale: UtilityScale,
    state: ShopState,
    rng: np.random.Generator,
    buf: EventBuffer,
) -> int:
    """Simulate ``cfg.n_days`` of organic browsing and buying into ``buf``; returns the session count.

    The number of sessions per day adapts to the events produced so far so the log lands near
    ``cfg.n_events`` (weekends busier). Boredom updates once a day.
    """
    n_users = len(tastes)
    act_p = tastes.activity / tastes.activity.sum()
    hour_p = HOUR_WEIGHTS / HOUR_WEIGHTS.sum()
    day_w = np.array([WEEKDAY_WEIGHTS[(cfg.start + timedelta(days=d)).weekday()] for d in range(cfg.n_days)])
    horizon = cfg.n_days * DAY_S
    events_per_session = 16.0
    sessions = 0
    r = 0.6  # basket shape: heavy tail like H&M (median 2, p90 8, p99 20)
    # Sold-out sizes and carts removed at checkout lose some planned lines; 10 % more makes up for it.
    planned_extra = max(cfg.basket_mean * 1.1 - 1.0, 0.01)
    # The widget's campaign: a fixed set of items live from day 0 (like an OBD campaign).
    at_start = np.flatnonzero(cat.created_day <= 0)
    widget_items = np.sort(rng.choice(at_start, min(cfg.widget_pool, len(at_start)), replace=False))
    state.widget_items = widget_items
    for d in range(cfg.n_days):
        remaining = max(cfg.n_events - buf.count, 0)
        n_s = max(1, int(round(remaining * day_w[d] / day_w[d:].sum() / events_per_session)))
        users = rng.choice(n_users, n_s, p=act_p)
        start = d * DAY_S + rng.choice(24, n_s, p=hour_p) * 3600.0 + rng.uniform(0, 3600.0, n_s)
        city = tastes.city[users]
        temp = weather.temperature_c[city, d][:, None]
        rain = weather.rain_mm[city, d][:, None]
        buy = rng.random(n_s) < np.clip(cfg.buy_session_rate * tastes.buy_propensity[users], 0.0, 0.9)

        # What the shop lists in the session: a random slice of the live catalog plus "new in".
        live = np.flatnonzero(cat.created_day <= d)
        m = min(cfg.candidates_per_session, len(live))
        cand = live[rng.integers(0, len(live), (n_s, m))]
        fresh = np.flatnonzero((cat.created_day <= d) & (cat.created_day > d - 14))
        if len(fresh):
            k_new = min(5, m // 4)
            cand[:, :k_new] = fresh[rng.integers(0, len(fresh), (n_s, k_new))]
        fat = state.fatigue[users[:, None], cat.article_type[cand]]
        z = (raw_utility(cat, tastes, users[:, None], cand, temp, rain, fat) - scale.mean) / scale.sd
        keys = cfg.choice_beta * z + rng.gumbel(size=z.shape)
        srt = np.sort(cand, axis=1)
        dup_sorted = np.zeros_like(srt, dtype=bool)
        dup_sorted[:, 1:] = srt[:, 1:] == srt[:, :-1]
        dup = np.zeros_like(dup_sorted)
        np.put_along_axis(dup, np.argsort(cand, axis=1), dup_sorted, axis=1)
        keys[dup] = -np.inf
        rank = np.argsort(-keys, axis=1)

        _widget(cfg, cat, tastes, scale, state, rng, buf, users, start, temp[:, 0], rain[:, 0], widget_items)

        basket = np.where(buy, 1 + rng.negative_binomial(r, r / (r + planned_extra), n_s), 0)
        basket = np.minimum(basket, m // 2)
        n_click = np.where(buy, basket + rng.poisson(1.0 + 0.5 * basket), 1 + rng.poisson(2.0, n_s))
        n_click = np.minimum(n_click, m - int(dup.sum(axis=1).max()) - 1).clip(1)
        kmax = int(n_click.max())
        ci = np.take_along_axis(cand, rank[:, :kmax], axis=1)
        cz = np.take_along_axis(z, rank[:, :kmax], axis=1)
        col = np.arange(kmax)[None, :]
        valid = col < n_click[:, None]

        gap = rng.exponential(25.0, (n_s, kmax)) + 3.0
        dwell = np.clip(np.exp(rng.normal(np.log(22.0) + 0.3 * cz, 0.7)), 2.0, 600.0)
        step = np.where(valid, gap + dwell + 2.0, 0.0)
        cum = np.cumsum(step, axis=1)
        click_t = start[:, None] + cum - dwell - 2.0
        end_t = start + cum[:, -1]

        s_idx, k_idx = np.nonzero(valid)
        cu, ct, it, zz, dw = (
            users[s_idx],
            click_t[s_idx, k_idx],
            ci[s_idx, k_idx],
            cz[s_idx, k_idx],
            dwell[s_idx, k_idx],
        )
        buf.add("product_clicked", user=cu, ts=ct, item=it)
        buf.add("product_viewed", user=cu, ts=ct + 1.0, item=it)
        buf.add(
            "dwell",
            user=cu,
            ts=ct + 1.0 + dw,
            item=it,
            dwell_ms=np.rint(dw * 1000.0),
            surface=np.full(len(cu), "detail", dtype=object),
        )
        show = rng.random(len(cu)) < 0.2 * sigmoid(zz)
        buf.add(
            "dwell",
            user=cu[show],
            ts=ct[show] + 1.0 + 0.6 * dw[show],
            item=it[show],
            dwell_ms=np.rint(np.exp(rng.normal(np.log(8000.0), 0.6, int(show.sum())))),
            surface=np.full(int(show.sum()), "buyer_show", dtype=object),
        )
        fav = rng.random(len(cu)) < sigmoid(-2.8 + 1.2 * zz)
        buf.add("favourited", user=cu[fav], ts=ct[fav] + 1.0 + 0.8 * dw[fav], item=it[fav])
        # A glance at one card that was not clicked, and some scrolling.
        card = cand[np.arange(n_s), rng.integers(0, m, n_s)]
        buf.add(
            "dwell",
            user=users,
            ts=start + rng.uniform(0.5, 20.0, n_s),
            item=card,
            dwell_ms=np.rint(rng.uniform(600.0, 3500.0, n_s)),
            surface=np.full(n_s, "card", dtype=object),
        )
        n_scroll = 1 + rng.poisson(0.8, n_s)
        sc_s = np.repeat(np.arange(n_s), n_scroll)
        buf.add(
            "scroll",
            user=users[sc_s],
            ts=start[sc_s] + rng.uniform(0.0, 1.0, len(sc_s)) * (end_t[sc_s] - start[sc_s]),
            depth=np.round(rng.beta(2.0, 2.5, len(sc_s)), 3),
        )
        searched = rng.random(n_s) < 0.3
        buf.add("search", user=users[searched], ts=start[searched] - 5.0, query=_queries(cat, ci[searched, 0], rng))

        # Carts: the basket in buying sessions, occasional abandoned carts otherwise.
        want = np.where(buy[s_idx], k_idx < basket[s_idx], rng.random(len(cu)) < sigmoid(-3.2 + zz))
        w = np.flatnonzero(want)
        sizes, ok = pick_sizes(cat, tastes, state.stock, cu[w], it[w], cfg, rng)
        state.lost_to_stock += int((~ok).sum())
        w, sizes = w[ok], sizes[ok]
        cart_t = ct[w] + 1.0 + dw[w] + 1.0
        labels = SIZE_LABELS[cat.size_system[it[w]], sizes]
        buf.add("cart_added", user=cu[w], ts=cart_t, item=it[w], size=labels, price=cat.price[it[w]])
        is_buy = buy[s_idx[w]]
        removed = rng.random(len(w)) < np.where(is_buy, 0.08, 0.3)
        buf.add(
            "cart_removed",
            user=cu[w][removed],
            ts=cart_t[removed] + rng.uniform(20.0, 600.0, int(removed.sum())),
            item=it[w][removed],
            size=labels[removed],
            price=cat.price[it[w][removed]],
        )
        line = is_buy & ~removed
        ls = s_idx[w][line]
        pay_delay = rng.uniform(30.0, 240.0, n_s)
        checkout(
            cat,
            tastes,
            cfg,
            state,
            rng,
            buf,
            cu[w][line],
            it[w][line],
            sizes[line],
            ls,
            end_t[ls] + pay_delay[ls],
            d,
            horizon,
        )

        np.add.at(state.fatigue, (cu, cat.article_type[it]), 1.0)
        state.fatigue *= FATIGUE_DECAY
        state.fatigue_day[:] = d + 1
        sessions += n_s
        events_per_session = 16.0 if sessions < 50 else buf.count / sessions
    return sessions
