"""Trend velocity of tags and items from recent events, plus influencer/celebrity feeds.

Each tag (and item) keeps two exponentially decayed counts, one with a short half-life
(default 3 days) and one with a long one (default 21 days). Dividing each by its half-life
turns it into a rate; **velocity = short rate / long rate**. A tag that is as popular
as usual has velocity ≈ 1; one that doubled its pace in the last days ≈ 2. A small prior
keeps a tag seen twice from looking like an explosion.

Feed tags (``add_feed_tags``) count like ``weight`` events at that moment and remember the
source, so a reason can say "trending with influencers (feed: weibo)".

>>> from datetime import datetime, timedelta
>>> from fitloop.data import Event, EventType
>>> t = TrendTracker()
>>> t0 = datetime(2026, 5, 1)
>>> for d in range(28):  # 'denim' steady, 'floral' only in the last three days
...     t.learn_one(Event(f"a{d}", EventType.PRODUCT_CLICKED, "u", t0 + timedelta(days=d), "i1"), ["denim"])
...     if d >= 25:
...         for k in range(4):
...             t.learn_one(Event(f"b{d}{k}", EventType.PRODUCT_CLICKED, "u", t0 + timedelta(days=d), "i2"),
...                         ["floral"])
>>> now = t0 + timedelta(days=28)
>>> t.velocity("floral", now) > 2 > t.velocity("denim", now) > 0.5
True
>>> t.top(1, now)[0][0]
'floral'
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from fitloop.data import Event, EventType
from fitloop.errors import InvalidInput

__all__ = ["TrendConfig", "TrendTracker", "EVENT_WEIGHTS"]

#: How much one event of each kind says about interest (purchases say more than views).
EVENT_WEIGHTS: dict[EventType, float] = {
    EventType.PRODUCT_VIEWED: 1.0,
    EventType.PRODUCT_CLICKED: 1.0,
    EventType.FAVOURITED: 2.0,
    EventType.CART_ADDED: 3.0,
    EventType.ORDER_COMPLETED: 5.0,
    EventType.SOCIAL_ENGAGEMENT: 2.0,
    EventType.PHOTO_UPLOADED: 3.0,
    EventType.SEARCH: 1.0,
}


@dataclass(frozen=True, slots=True)
class TrendConfig:
    short_half_life_days: float = 3.0
    long_half_life_days: float = 21.0
    prior_events: float = 2.0  # pseudo-count at velocity 1 that damps tags seen only a few times


@dataclass(slots=True)
class _Decayed:
    short: float = 0.0
    long: float = 0.0
    ts: float = 0.0  # seconds since epoch of the last update


class TrendTracker:
    """Decayed short/long counts per tag and per item; velocity = short rate / long rate."""

    def __init__(self, config: TrendConfig | None = None) -> None:
        self.config = config or TrendConfig()
        if not (0 < self.config.short_half_life_days < self.config.long_half_life_days):
            raise InvalidInput("need 0 < short_half_life_days < long_half_life_days")
        self._tags: dict[str, _Decayed] = {}
        self._items: dict[str, _Decayed] = {}
        self._sources: dict[str, dict[str, float]] = {}
        self._last_ts = 0.0

    # -- learning -----------------------------------------------------------------------
    def _bump(self, table: dict[str, _Decayed], key: str, ts: float, weight: float) -> None:
        c = table.get(key)
        if c is None:
            c = table[key] = _Decayed(ts=ts)
        self._decay_to(c, ts)
        c.short += weight
        c.long += weight

    def _decay_to(self, c: _Decayed, ts: float) -> None:
        dt_days = max(0.0, ts - c.ts) / 86400.0  # late events are counted as if on time
        if dt_days > 0:
            c.short *= 0.5 ** (dt_days / self.config.short_half_life_days)
            c.long *= 0.5 ** (dt_days / self.config.long_half_life_days)
            c.ts = ts

    def learn_one(self, event: Event, tags: Iterable[str] = ()) -> None:
        """Count one event for its item and for the item's ``tags`` (article type, colour, style…)."""
        weight = EVENT_WEIGHTS.get(event.type, 0.0)
        if weight <= 0:
            return
        ts = event.ts.timestamp()
        self._last_ts = max(self._last_ts, ts)
        if event.item_id:
            self._bump(self._items, event.item_id, ts, weight)
        for tag in {t.strip().lower() for t in tags if t and t.strip()}:
            self._bump(self._tags, tag, ts, weight)

    def add_feed_tags(self, tags: Iterable[str], weight: float = 5.0, source: str = "feed",
                      ts: datetime | None = None) -> None:
        """Count tags from an influencer/celebrity feed as ``weight`` events each, remembering ``source``."""
        if weight <= 0:
            raise InvalidInput("feed weight must be positive")
        t = ts.timestamp() if ts else (self._last_ts or datetime.now().timestamp())
        self._last_ts = max(self._last_ts, t)
        for tag in {x.strip().lower() for x in tags if x and x.strip()}:
            self._bump(self._tags, tag, t, weight)
            self._sources.setdefault(tag, {})
            self._sources[tag][source] = self._sources[tag].get(source, 0.0) + weight

    # -- reading ------------------------------------------------------------------------
    def _velocity(self, c: _Decayed | None, now: datetime | None) -> float:
        if c is None:
            return 1.0
        ts = now.timestamp() if now else self._last_ts
        probe = _Decayed(c.short, c.long, c.ts)
        self._decay_to(probe, ts)
        cfg = self.config
        # Rates per day: a count decayed with half-life h integrates to h/ln2 days of events.
        k_s = cfg.short_half_life_days / math.log(2)
        k_l = cfg.long_half_life_days / math.log(2)
        prior = cfg.prior_events
        return ((probe.short + prior * k_s / k_l) / k_s) / ((probe.long + prior) / k_l)

    def velocity(self, tag: str, now: datetime | None = None) -> float:
        """Short-window rate / long-window rate of ``tag`` (1.0 for a tag never seen)."""
        return self._velocity(self._tags.get(tag.strip().lower()), now)

    def item_velocity(self, item_id: str, now: datetime | None = None) -> float:
        return self._velocity(self._items.get(item_id), now)

    def sources(self, tag: str) -> dict[str, float]:
        """Feeds that pushed ``tag`` and how much weight each added."""
        return dict(self._sources.get(tag.strip().lower(), {}))

    def top(self, k: int = 10, now: datetime | None = None, min_events: float = 3.0) -> list[tuple[str, float]]:
        """The ``k`` fastest-rising tags with at least ``min_events`` (decayed, long window)."""
        rows = [(tag, self._velocity(c, now)) for tag, c in self._tags.items() if c.long >= min_events]
        return sorted(rows, key=lambda r: (-r[1], r[0]))[:k]
