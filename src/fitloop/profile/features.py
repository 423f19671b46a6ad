"""Shopper profile features, updated per event in O(1) and rebuildable from the raw log.

A :class:`Profile` keeps *accumulators* (counts, sums, forward-decayed weights, see
:mod:`fitloop.profile.decay`) and derives the readable features from them at read time
(:meth:`Profile.features`). Every accumulator is a sum, a minimum or a maximum, so the profile does
not depend on the order in which events arrive: updating live, event by event, gives the same
profile as :meth:`ProfileBuilder.build` over the whole log (the property test checks this).
Every feature is documented in plain words in ``docs/PROFILES.md``.

>>> from datetime import datetime
>>> from fitloop.data import Event, EventType, Item
>>> dress = Item("d1", "Floral dress", "dresses", "dress", 50.0, pattern="floral", style="romantic")
>>> b = ProfileBuilder()
>>> b.learn_one(Event("e1", EventType.ORDER_COMPLETED, "u1", datetime(2026, 3, 1), "d1", "M", price=40.0,
...                   properties={"discount": 0.2}), dress)
>>> p = b.get("u1")
>>> f = p.features()
>>> f["frequency_orders"], f["discount_share"], f["lifecycle"]
(1.0, 1.0, 'new')
>>> b.get("nobody").known, b.get("nobody").explain()
(False, ['no data yet for this shopper'])
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from statistics import median
from typing import Any

from fitloop.data import Event, EventType, Item
from fitloop.errors import InvalidInput
from fitloop.profile.decay import DAY, DecayedCounter
from fitloop.profile.lifecycle import LifecycleConfig, lifecycle_stage
from fitloop.profile.size_profile import SizeProfile

__all__ = ["ATTRIBUTES", "ProfileConfig", "Profile", "ProfileBuilder", "category_medians"]

#: Item attributes with an affinity each (short and long horizon).
ATTRIBUTES: tuple[str, ...] = ("article_type", "colour", "pattern", "material", "style", "occasion", "category")

#: Return reasons that say nothing about taste (the size was wrong, not the style).
_SIZE_REASONS = frozenset({"too_small", "too_large"})

PROFILE_VERSION = 1


@dataclass(frozen=True, slots=True)
class ProfileConfig:
    """How events turn into profile features.

    - ``short_half_life_days``/``long_half_life_days``: decay of the *lately* and *long-term*
      affinities (a week tells a short trial apart from months of loyalty).
    - ``event_weights``: how much one event of each type says about taste; a return for a reason
      other than size counts ``return_weight`` (negative: the shopper did not like it).
    - ``lifecycle``: thresholds of the lifecycle stages.
    - ``min_affinity_weight``: below this total decayed weight an affinity is not called out.
    """

    short_half_life_days: float = 7.0
    long_half_life_days: float = 90.0
    event_weights: Mapping[str, float] = field(
        default_factory=lambda: {
            EventType.PRODUCT_VIEWED.value: 1.0,
            EventType.PRODUCT_CLICKED.value: 1.0,
            EventType.DWELL.value: 0.5,
            EventType.FAVOURITED.value: 3.0,
            EventType.CART_ADDED.value: 3.0,
            EventType.CART_REMOVED.value: -1.0,
            EventType.ORDER_COMPLETED.value: 6.0,
            EventType.ORDER_CANCELLED.value: -6.0,
            EventType.SOCIAL_ENGAGEMENT.value: 1.0,
        }
    )
    return_weight: float = -3.0
    lifecycle: LifecycleConfig = field(default_factory=LifecycleConfig)
    min_affinity_weight: float = 2.0

    def __post_init__(self) -> None:
        if not 0 < self.short_half_life_days < self.long_half_life_days:
            raise InvalidInput(
                "ProfileConfig needs 0 < short_half_life_days < long_half_life_days, got "
                f"{self.short_half_life_days} and {self.long_half_life_days}"
            )


def _epoch(ts: datetime) -> float:
    # Naive datetimes are UTC by the convention of fitloop.data.
    return (ts if ts.tzinfo else ts.replace(tzinfo=UTC)).timestamp()


def _iso(t: float | None) -> str | None:
    return None if t is None else datetime.fromtimestamp(t, tz=UTC).isoformat()


def _daypart(hour: int) -> str:
    return "night" if hour < 6 else "morning" if hour < 12 else "afternoon" if hour < 18 else "evening"


def _add(d: dict[str, float], key: str, v: float) -> None:
    d[key] = d.get(key, 0.0) + v


def _shares(d: Mapping[str, float]) -> dict[str, float]:
    pos = {k: v for k, v in d.items() if v > 0}
    tot = math.fsum(pos.values())
    return {} if tot <= 0 else dict(sorted(((k, v / tot) for k, v in pos.items()), key=lambda kv: (-kv[1], kv[0])))


def category_medians(items: Iterable[Item]) -> dict[str, float]:
    """Median list price per category: the yardstick of "price paid against the category median".

    >>> category_medians([Item("a", "", "tops", "t", 10.0), Item("b", "", "tops", "t", 30.0)])
    {'tops': 20.0}
    """
    by: dict[str, list[float]] = {}
    for it in items:
        if it.price and it.price > 0:
            by.setdefault(it.category, []).append(float(it.price))
    return {c: float(median(v)) for c, v in sorted(by.items())}


class Profile:
    """One shopper's accumulators; :meth:`features` and :meth:`explain` read them at a given time.

    ``known`` is False for :meth:`empty` profiles (a shopper with no events yet).
    """

    def __init__(self, user_id: str, config: ProfileConfig | None = None, *, known: bool = True) -> None:
        self.user_id = user_id
        self.config = config or ProfileConfig()
        self.known = known
        self.n_events = 0.0
        self.first_seen: float | None = None
        self.last_seen: float | None = None
        self.first_order: float | None = None
        self.last_order: float | None = None
        # Sums (order lines, units, money, discounts, price index, eco, returns).
        self.s: dict[str, float] = {}
        self.price_by_cat: dict[str, list[float]] = {}  # category -> [n, sum log price, sum log^2]
        self.return_reasons: dict[str, float] = {}
        self.channels: dict[str, float] = {}
        self.dayparts: dict[str, float] = {}
        self.weekdays: dict[str, float] = {}
        cfg = self.config
        self.short = {a: DecayedCounter(cfg.short_half_life_days) for a in ATTRIBUTES}
        self.long = {a: DecayedCounter(cfg.long_half_life_days) for a in ATTRIBUTES}
        # Activity and purchase intensity, decayed (keys: "events", "orders", "eco", "any").
        self.activity_short = DecayedCounter(cfg.short_half_life_days)
        self.activity_long = DecayedCounter(cfg.long_half_life_days)
        self.sizes = SizeProfile()

    # ------------------------------------------------------------------ construction

    @classmethod
    def empty(cls, user_id: str, config: ProfileConfig | None = None) -> Profile:
        """The profile of a shopper fitloop has no events for: ``known=False``, every feature neutral."""
        return cls(user_id, config, known=False)

    def learn_one(self, event: Event, item: Item | None, *, reference_price: float | None = None) -> None:
        """Fold one event into the profile in O(1) (amortised); ``item`` is the catalog item, if any.

        ``reference_price`` is the median list price of the item's category (for the price index);
        without it the item's own list price is the yardstick.
        """
        if event.user_id != self.user_id:
            raise InvalidInput(f"event for shopper {event.user_id!r} given to the profile of {self.user_id!r}")
        t = _epoch(event.ts)
        kind = event.type.value if isinstance(event.type, EventType) else str(event.type)
        props = event.properties or {}
        self.known = True
        self.n_events += 1
        self.first_seen = t if self.first_seen is None else min(self.first_seen, t)
        self.last_seen = t if self.last_seen is None else max(self.last_seen, t)
        channel = str(props.get("channel") or event.source or "default")
        _add(self.channels, channel, 1.0)
        dt = datetime.fromtimestamp(t, tz=UTC)
        _add(self.dayparts, _daypart(dt.hour), 1.0)
        _add(self.weekdays, "weekend" if dt.weekday() >= 5 else "weekday", 1.0)
        self.activity_short.add("events", 1.0, t)
        self.activity_long.add("events", 1.0, t)

        qty = float(event.quantity or 1)
        reason = str(props.get("reason") or "") or None
        if kind in (EventType.ORDER_COMPLETED.value, EventType.ORDER_CANCELLED.value):
            self._learn_order(event, item, t, qty, +1.0 if kind == EventType.ORDER_COMPLETED.value else -1.0,
                              reference_price)
        elif kind == EventType.PRODUCT_RETURNED.value:
            _add(self.s, "units_returned", qty)
            _add(self.return_reasons, reason or "unspecified", qty)
        if item is not None:
            if kind == EventType.PRODUCT_RETURNED.value:
                w = 0.0 if reason in _SIZE_REASONS else self.config.return_weight
            else:
                w = float(self.config.event_weights.get(kind, 0.0))
            if w:
                for a in ATTRIBUTES:
                    v = getattr(item, a, "")
                    if v:
                        self.short[a].add(str(v), w, t)
                        self.long[a].add(str(v), w, t)
                self.activity_long.add("eco" if item.eco else "non_eco", w, t)
            if kind in (EventType.ORDER_COMPLETED.value, EventType.ORDER_CANCELLED.value,
                        EventType.PRODUCT_RETURNED.value):
                self.sizes.learn_one(kind, item.category, event.size, qty, reason)

    def _learn_order(self, event: Event, item: Item | None, t: float, qty: float, sign: float,
                     reference_price: float | None) -> None:
        unit = event.price if event.price is not None else (item.price if item is not None else None)
        _add(self.s, "order_lines", sign)
        _add(self.s, "units", sign * qty)
        self.activity_short.add("orders", sign, t)
        self.activity_long.add("orders", sign, t)
        if sign > 0:
            self.first_order = t if self.first_order is None else min(self.first_order, t)
            self.last_order = t if self.last_order is None else max(self.last_order, t)
        if unit is None or not math.isfinite(unit) or unit <= 0:
            return
        _add(self.s, "priced_lines", sign)
        _add(self.s, "monetary", sign * unit * qty)
        disc = event.properties.get("discount") if event.properties else None
        discounted = (disc is not None and float(disc) > 0) or (
            item is not None and item.price > 0 and unit < 0.99 * item.price
        )
        _add(self.s, "discounted_lines", sign * float(discounted))
        ref = reference_price or (item.price if item is not None and item.price > 0 else None)
        if ref:
            _add(self.s, "indexed_lines", sign)
            _add(self.s, "sum_log_price_index", sign * math.log(unit / ref))
        if item is not None:
            cell = self.price_by_cat.setdefault(item.category, [0.0, 0.0, 0.0])
            lp = math.log(unit)
            cell[0] += sign
            cell[1] += sign * lp
            cell[2] += sign * lp * lp
            _add(self.s, "known_item_lines", sign)
            _add(self.s, "eco_lines", sign * float(item.eco))

    # ------------------------------------------------------------------ reading

    def _as_of(self, as_of: datetime | None) -> float | None:
        if as_of is not None:
            return _epoch(as_of)
        return self.last_seen

    def features(self, as_of: datetime | None = None) -> dict[str, Any]:
        """Every feature at ``as_of`` (default: the time of the last event) as a JSON-ready dict."""
        now = self._as_of(as_of)
        s = self.s.get
        out: dict[str, Any] = {"user_id": self.user_id, "known": self.known, "as_of": _iso(now)}
        if now is None or not self.known:
            out.update(
                frequency_orders=0.0, frequency_units=0.0, monetary_total=0.0, lifecycle="unknown",
                note="no data yet for this shopper",
            )
            return out

        def days(t: float | None) -> float | None:
            return None if t is None else (now - t) / DAY

        lines = s("order_lines", 0.0)
        priced = s("priced_lines", 0.0)
        out.update(
            first_seen=_iso(self.first_seen), last_seen=_iso(self.last_seen), last_order=_iso(self.last_order),
            n_events=self.n_events,
            recency_days=days(self.last_order),
            days_since_last_seen=days(self.last_seen),
            tenure_days=days(self.first_seen),
            frequency_orders=lines,
            frequency_units=s("units", 0.0),
            monetary_total=s("monetary", 0.0),
            avg_line_value=(s("monetary", 0.0) / priced) if priced > 0 else None,
            orders_recent_short=self.activity_short.value("orders", now),
            orders_recent_long=self.activity_long.value("orders", now),
            activity_short=self.activity_short.value("events", now),
            activity_long=self.activity_long.value("events", now),
        )
        out["affinity_short"] = {a: _top(self.short[a].shares(now)) for a in ATTRIBUTES}
        out["affinity_long"] = {a: _top(self.long[a].shares(now)) for a in ATTRIBUTES}
        out["affinity_short_weight"] = self.short["category"].total(now)
        out["affinity_long_weight"] = self.long["category"].total(now)
        out["price_band"] = {
            c: _band(n, s1, s2) for c, (n, s1, s2) in sorted(self.price_by_cat.items()) if n > 0.5
        }
        idx = s("indexed_lines", 0.0)
        out["discount_share"] = (s("discounted_lines", 0.0) / priced) if priced > 0 else None
        out["price_index"] = math.exp(s("sum_log_price_index", 0.0) / idx) if idx > 0 else None
        out["price_sensitivity"] = _sensitivity(out["discount_share"], out["price_index"], priced)
        known_lines = s("known_item_lines", 0.0)
        out["eco_share"] = (s("eco_lines", 0.0) / known_lines) if known_lines > 0 else None
        eco = self.activity_long.value("eco", now)
        non = self.activity_long.value("non_eco", now)
        out["eco_interest"] = (max(eco, 0.0) / (max(eco, 0.0) + max(non, 0.0))) if max(eco, 0) + max(non, 0) > 0 else None
        units = s("units", 0.0)
        out["return_rate"] = (s("units_returned", 0.0) / units) if units > 0 else None
        out["return_reasons"] = _shares(self.return_reasons)
        out["lifecycle"] = lifecycle_stage(
            first_seen_days=days(self.first_seen), last_seen_days=days(self.last_seen),
            last_order_days=days(self.last_order), orders=lines, config=self.config.lifecycle,
        )
        out["channels"] = _shares(self.channels)
        out["dayparts"] = _shares(self.dayparts)
        out["weekend_share"] = _shares(self.weekdays).get("weekend", 0.0)
        out["preferred_channel"] = next(iter(out["channels"]), None)
        out["preferred_daypart"] = next(iter(out["dayparts"]), None)
        out["sizes"] = self.sizes.summary()
        return out

    def explain(self, as_of: datetime | None = None) -> list[str]:
        """The profile in a few plain-words lines for marketers (what the console shows)."""
        if not self.known or self.last_seen is None:
            return ["no data yet for this shopper"]
        f = self.features(as_of)
        lines: list[str] = []
        taste = _taste_line(f, self.config)
        if taste:
            lines.append(taste)
        lines.append(f"lifecycle: {f['lifecycle'].replace('_', ' ')}" + _rfm_words(f))
        ds = f["discount_share"]
        if f["price_sensitivity"] == "price-sensitive" and ds is not None:
            lines.append(f"price-sensitive: {ds * 100:.0f} % of purchases discounted")
        elif f["price_sensitivity"] == "premium":
            lines.append(f"premium buyer: pays {f['price_index']:.1f}x the category median")
        elif f["price_sensitivity"] == "full-price":
            lines.append("buys at full price, around the category median")
        if f["eco_share"] is not None and f["eco_share"] >= 0.5:
            lines.append(f"eco-minded: {f['eco_share'] * 100:.0f} % of purchases in eco materials")
        reasons = f["return_reasons"]
        if f["return_rate"] is not None and reasons:
            top = next(iter(reasons))
            habit = "usually returns" if f["return_rate"] >= 0.3 else "sometimes returns"
            lines.append(f"{habit}: {top.replace('_', ' ')} ({f['return_rate'] * 100:.0f} % of items returned)")
        for cat, sz in list(f["sizes"].items())[:2]:
            lines.append(f"wears {sz['usual_size']} in {cat}")
        if f["preferred_channel"] and f["preferred_daypart"]:
            lines.append(f"shops mostly on {f['preferred_channel']}, in the {f['preferred_daypart']}")
        return lines

    # ------------------------------------------------------------------ serialisation

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready state (accumulators) plus a ``features`` snapshot at the last event."""
        return {
            "version": PROFILE_VERSION,
            "user_id": self.user_id,
            "known": self.known,
            "config": {"short_half_life_days": self.config.short_half_life_days,
                       "long_half_life_days": self.config.long_half_life_days},
            "n_events": self.n_events,
            "first_seen": self.first_seen, "last_seen": self.last_seen,
            "first_order": self.first_order, "last_order": self.last_order,
            "s": dict(self.s),
            "price_by_cat": {k: list(v) for k, v in self.price_by_cat.items()},
            "return_reasons": dict(self.return_reasons),
            "channels": dict(self.channels), "dayparts": dict(self.dayparts), "weekdays": dict(self.weekdays),
            "short": {a: c.to_dict() for a, c in self.short.items()},
            "long": {a: c.to_dict() for a, c in self.long.items()},
            "activity_short": self.activity_short.to_dict(),
            "activity_long": self.activity_long.to_dict(),
            "sizes": self.sizes.to_dict(),
            "features": self.features(),
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any], config: ProfileConfig | None = None) -> Profile:
        """Restore a profile written by :meth:`to_dict` (``config`` must use the same half-lives)."""
        if int(d.get("version", -1)) != PROFILE_VERSION:
            raise InvalidInput(f"profile document version {d.get('version')!r} is not {PROFILE_VERSION}; rebuild it")
        p = cls(str(d["user_id"]), config, known=bool(d.get("known", True)))
        saved = d.get("config", {})
        if saved and (saved.get("short_half_life_days") != p.config.short_half_life_days
                      or saved.get("long_half_life_days") != p.config.long_half_life_days):
            raise InvalidInput("profile was built with other half-lives than this ProfileConfig; rebuild it")
        p.n_events = float(d.get("n_events", 0.0))
        for k in ("first_seen", "last_seen", "first_order", "last_order"):
            setattr(p, k, None if d.get(k) is None else float(d[k]))
        p.s = {k: float(v) for k, v in d.get("s", {}).items()}
        p.price_by_cat = {k: [float(x) for x in v] for k, v in d.get("price_by_cat", {}).items()}
        p.return_reasons = {k: float(v) for k, v in d.get("return_reasons", {}).items()}
        p.channels = {k: float(v) for k, v in d.get("channels", {}).items()}
        p.dayparts = {k: float(v) for k, v in d.get("dayparts", {}).items()}
        p.weekdays = {k: float(v) for k, v in d.get("weekdays", {}).items()}
        for a in ATTRIBUTES:
            if a in d.get("short", {}):
                p.short[a] = DecayedCounter.from_dict(d["short"][a])
            if a in d.get("long", {}):
                p.long[a] = DecayedCounter.from_dict(d["long"][a])
        if "activity_short" in d:
            p.activity_short = DecayedCounter.from_dict(d["activity_short"])
        if "activity_long" in d:
            p.activity_long = DecayedCounter.from_dict(d["activity_long"])
        p.sizes = SizeProfile.from_dict(d.get("sizes", {}))
        return p


def _top(shares: Mapping[str, float], k: int = 5) -> dict[str, float]:
    return dict(list(shares.items())[:k])


def _band(n: float, s1: float, s2: float) -> dict[str, float]:
    mean = s1 / n
    sd = math.sqrt(max(s2 / n - mean * mean, 0.0))
    return {"low": math.exp(mean - sd), "typical": math.exp(mean), "high": math.exp(mean + sd), "n": n}


def _sensitivity(discount_share: float | None, price_index: float | None, lines: float) -> str | None:
    if lines < 2 or discount_share is None:
        return None
    if discount_share >= 0.5 or (price_index is not None and price_index < 0.8):
        return "price-sensitive"
    if price_index is not None and price_index > 1.25 and discount_share < 0.2:
        return "premium"
    return "full-price" if discount_share < 0.2 else "mixed"


def _words(aff: Mapping[str, Mapping[str, float]], keys: tuple[str, ...]) -> str:
    parts = [next(iter(aff[k])) for k in keys if aff.get(k)]
    return " ".join(dict.fromkeys(parts))  # keep order, drop repeats


def _taste_line(f: Mapping[str, Any], cfg: ProfileConfig) -> str | None:
    short, long = f["affinity_short"], f["affinity_long"]
    days = f"{cfg.short_half_life_days:g}"
    s_words = _words(short, ("pattern", "colour", "article_type")) if f["affinity_short_weight"] >= cfg.min_affinity_weight else ""
    l_words = _words(long, ("style", "occasion", "article_type")) if f["affinity_long_weight"] >= cfg.min_affinity_weight else ""
    if s_words and l_words:
        s_top = {next(iter(short[k])) for k in ("style", "article_type", "pattern") if short.get(k)}
        l_top = {next(iter(long[k])) for k in ("style", "article_type", "pattern") if long.get(k)}
        if s_top == l_top:
            return f"consistently loves {l_words}"
        return f"loves {s_words} lately (last {days} days) but long-term loyal to {l_words}"
    if s_words:
        return f"loves {s_words} lately (last {days} days)"
    if l_words:
        return f"long-term taste: {l_words}"
    return None


def _rfm_words(f: Mapping[str, Any]) -> str:
    if not f["frequency_orders"]:
        return ", has not bought yet"
    rec = f["recency_days"]
    return f", {f['frequency_orders']:.0f} purchases, last {rec:.0f} days ago, {f['monetary_total']:.2f} spent"


class ProfileBuilder:
    """Keeps one :class:`Profile` per shopper and folds events in as they are acknowledged.

    ``reference_prices`` maps a category to its median list price (see :func:`category_medians`);
    :meth:`from_items` computes it from the catalog.
    """

    def __init__(self, config: ProfileConfig | None = None, reference_prices: Mapping[str, float] | None = None) -> None:
        self.config = config or ProfileConfig()
        self.reference_prices = dict(reference_prices or {})
        self.profiles: dict[str, Profile] = {}

    @classmethod
    def from_items(cls, items: Iterable[Item], config: ProfileConfig | None = None) -> ProfileBuilder:
        return cls(config, category_medians(items))

    def learn_one(self, event: Event, item: Item | None = None) -> None:
        """Update the shopper of ``event`` (O(1)); ``item`` is the catalog item named by the event, if any."""
        p = self.profiles.get(event.user_id)
        if p is None:
            p = self.profiles[event.user_id] = Profile(event.user_id, self.config)
        ref = self.reference_prices.get(item.category) if item is not None else None
        p.learn_one(event, item, reference_price=ref)

    def get(self, user_id: str) -> Profile:
        """The shopper's profile, or :meth:`Profile.empty` (``known=False``) for an unknown shopper."""
        return self.profiles.get(user_id) or Profile.empty(user_id, self.config)

    def build(self, events: Iterable[Event], items: Mapping[str, Item] | Iterable[Item]) -> dict[str, Profile]:
        """Rebuild every profile from the raw log (batch), in time order; returns ``{user_id: Profile}``.

        Starts from scratch (existing profiles of this builder are replaced). When the builder has no
        reference prices yet they are taken from ``items``.
        """
        catalog = dict(items) if isinstance(items, Mapping) else {it.item_id: it for it in items}
        if not self.reference_prices:
            self.reference_prices = category_medians(catalog.values())
        self.profiles = {}
        for ev in sorted(events, key=lambda e: (_epoch(e.ts), e.event_id)):
            self.learn_one(ev, catalog.get(ev.item_id) if ev.item_id else None)
        return dict(self.profiles)
