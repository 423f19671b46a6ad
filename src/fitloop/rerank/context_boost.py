"""Context boost: today's weather, the fashion calendar and trends move items up or down.

The upstream order becomes a rank score ``1 - rank / max(m, min_span)`` (m candidates), so the
policy means the same whatever scale the ranker scores on, and each candidate gets

    1 - rank / max(m, min_span)
  + weight * suitability(item, temperature, rain)                 (weather, in [-1, 1])
  + trend_weight * tanh(log velocity of the item's hottest tag)   (trends, when given)
  + calendar_weight                                               (an active sale/holiday's tags match)

``weight=0.5`` lets a well suited item (+0.5) climb a quarter of a long list and an unsuited one
(-0.6) sink by about a third; ``min_span=10`` keeps the same step in short lists (about 2–3 places). Items that move up get the reason ("light linen dress for 28 °C in Shanghai"), items
that move down too ("wool coat is too warm for 28 °C in Shanghai").

Temperature comes from ``ctx.temperature_c``/``ctx.rain_mm``; when absent and a weather provider
is given, from ``weather.daily(ctx.city, ctx.day)`` (wrap the provider in
:class:`~fitloop.context.weather.FallbackWeather` so a slow service or an unknown city falls back
to season defaults within the request's budget; the fallback's reason is appended).

>>> from fitloop.data import Context, Item, ScoredItem
>>> catalog = {"coat": Item("coat", "Wool coat", "outerwear", "Coat", 90.0, colour="black", material="wool"),
...            "dress": Item("dress", "Linen dress", "dresses", "Dress", 30.0, colour="white", material="linen")}
>>> boost = ContextBoost(catalog)
>>> hot = boost.rerank(Context(city="Shanghai", temperature_c=28.0),
...                    [ScoredItem("coat", 1.0), ScoredItem("dress", 0.8)], 2)
>>> [(s.item_id, s.reason) for s in hot]
[('dress', 'light linen dress for 28 °C in Shanghai'), ('coat', 'wool coat is too warm for 28 °C in Shanghai')]
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from fitloop.catalog.season_suitability import Suitability, SuitabilityModel
from fitloop.context.season import CalendarEvent, FashionCalendar
from fitloop.context.trends import TrendTracker
from fitloop.context.weather import WeatherProvider, WeatherReading
from fitloop.data import Context, Item, ScoredItem
from fitloop.rerank.policy import check_n, eligible, reorder

__all__ = ["ContextBoostConfig", "ContextBoost", "item_tags"]


@dataclass(frozen=True, slots=True)
class ContextBoostConfig:
    weight: float = 0.5
    trend_weight: float = 0.15
    calendar_weight: float = 0.1
    min_velocity: float = 1.3  # trends below this pace are not worth a mention
    region: str | None = None  # calendar region (ISO code) when the context has none
    min_span: int = 10  # a short list is treated as the head of a list this long
    # How long a weather reading and the calendar's active events are reused per (city, day) and
    # (day, region): a lookup went through a thread pool on every request. Climate normals and the
    # built-in calendar do not change; a live weather service is asked again after this long (and a
    # failing one no longer costs every request its time budget).
    lookup_cache_s: float = 10.0
    memo_size: int = 200_000  # per-item memos (tags, suitability per weather) are cleared beyond this


def item_tags(item: Item) -> list[str]:
    """The tags trends and the calendar match against: type, colour, pattern, style, occasion, ``attributes['tags']``."""
    tags = [item.article_type, item.colour, item.pattern, item.style, item.occasion, item.material]
    extra = item.attributes.get("tags", ()) if item.attributes else ()
    if isinstance(extra, str):
        extra = [extra]
    return [t.strip().lower() for t in (*tags, *extra) if t and str(t).strip()]


class ContextBoost:
    """Re-rank by weather suitability (and optionally trends and the fashion calendar), with reasons.

    Serving calls this on every request with the same few weathers and the same catalog items, so
    what depends only on those is memoised: each item's tags, its suitability (score and reason)
    per (temperature, rain, city), and whether it matches a calendar event; the weather reading and
    the active events per (city, day) for :attr:`ContextBoostConfig.lookup_cache_s`. A memo entry
    holds the :class:`Item` it was computed from and is used only for that very object, so a catalog
    that changes under the policy is never scored from stale attributes.
    """

    def __init__(self, catalog: Mapping[str, Item], model: SuitabilityModel | None = None, *,
                 weather: WeatherProvider | None = None, trends: TrendTracker | None = None,
                 calendar: FashionCalendar | None = None, config: ContextBoostConfig | None = None,
                 trends_version: Callable[[], object] | None = None) -> None:
        self.catalog = catalog
        self.model = model or SuitabilityModel.default()
        self.weather = weather
        self.trends = trends
        self.calendar = calendar
        self.config = config or ContextBoostConfig()
        self._lock = threading.Lock()
        self._readings: dict[tuple[str | None, date], tuple[float, WeatherReading]] = {}
        self._events: dict[tuple[date, str | None], tuple[float, list[CalendarEvent]]] = {}
        self._tags: dict[str, tuple[Item, tuple[str, ...], frozenset[str]]] = {}
        self._suits: dict[tuple[str, float, float | None, str | None],
                          tuple[Item, SuitabilityModel, Suitability]] = {}
        self._matches: dict[tuple[str, tuple[str, ...]], tuple[Item, SuitabilityModel, bool]] = {}
        # With ``trends_version`` (a value that changes whenever ``trends`` learns), tag velocities are
        # reused across requests until it changes; without it, only within one request.
        self.trends_version = trends_version
        self._velocity_stamp: object = object()
        self._velocity_memo: dict[datetime | None, dict[str, float]] = {}
        # (weather, events, trends stamp, day) → item id → (the Item, delta, reason up, reason down):
        # an item's whole effect under one context, reused while that context stays the same.
        self._effects: dict[tuple[object, ...], dict[str, tuple[Item, float, str, str]]] = {}
        self._effects_model: SuitabilityModel | None = None

    def _reading(self, city: str | None, day: date) -> WeatherReading:
        assert self.weather is not None
        key = (city, day)
        now = time.monotonic()
        with self._lock:
            hit = self._readings.get(key)
        if hit is not None and hit[0] > now:
            return hit[1]
        r = self.weather.daily(city, day)
        with self._lock:
            if len(self._readings) > 10_000:
                self._readings.clear()
            self._readings[key] = (now + self.config.lookup_cache_s, r)
        return r

    def _active(self, day: date, region: str | None) -> list[CalendarEvent]:
        assert self.calendar is not None
        key = (day, region)
        now = time.monotonic()
        with self._lock:
            hit = self._events.get(key)
        if hit is not None and hit[0] > now:
            return hit[1]
        events = self.calendar.active(day, region=region)
        with self._lock:
            if len(self._events) > 10_000:
                self._events.clear()
            self._events[key] = (now + self.config.lookup_cache_s, events)
        return events

    def _item_tags(self, item: Item) -> tuple[tuple[str, ...], frozenset[str]]:
        hit = self._tags.get(item.item_id)
        if hit is not None and hit[0] is item:
            return hit[1], hit[2]
        tags = tuple(item_tags(item))
        if len(self._tags) > self.config.memo_size:
            self._tags.clear()
        self._tags[item.item_id] = (item, tags, frozenset(tags))
        return tags, frozenset(tags)

    def _suitability(self, item: Item, temp: float, rain: float | None, city: str | None) -> Suitability:
        key = (item.item_id, temp, rain, city)
        hit = self._suits.get(key)
        if hit is not None and hit[0] is item and hit[1] is self.model:
            return hit[2]
        s = self.model.score(item, temp, rain, city=city)
        if len(self._suits) > self.config.memo_size:
            self._suits.clear()
        self._suits[key] = (item, self.model, s)
        return s

    def _matches_event(self, item: Item, tags: frozenset[str], ev: CalendarEvent) -> bool:
        if tags & set(ev.tags):
            return True
        if not ev.tags:
            return False
        key = (item.item_id, ev.tags)
        hit = self._matches.get(key)
        if hit is not None and hit[0] is item and hit[1] is self.model:
            return hit[2]
        ok = any(self.model.occasion_share(item, t) >= 0.3 for t in ev.tags)
        if len(self._matches) > self.config.memo_size:
            self._matches.clear()
        self._matches[key] = (item, self.model, ok)
        return ok

    def _velocities(self, now: datetime | None) -> dict[str, float]:
        """Tag → velocity at ``now``: per request (the candidates share most tags), or memoised while
        ``trends_version()`` stays the same."""
        if self.trends_version is None:
            return {}
        stamp = self.trends_version()
        memo = self._velocity_memo
        if stamp != self._velocity_stamp or len(memo) > 1000:
            # A new dict, not clear(): a request still filling the old one cannot write into the new.
            memo = self._velocity_memo = {}
            self._velocity_stamp = stamp
        hit = memo.get(now)
        if hit is None:
            hit = memo[now] = {}
        return hit

    def weather_for(self, ctx: Context) -> tuple[float | None, float | None, str]:
        """Temperature, rain and a note on where they came from ("" when the context carried them)."""
        if ctx.temperature_c is not None:
            return float(ctx.temperature_c), ctx.rain_mm, ""
        if self.weather is None:
            return None, None, ""
        r = self._reading(ctx.city, ctx.day or date.today())
        note = "" if r.source == "open_meteo" else r.reason
        return r.temperature_c, r.rain_mm if ctx.rain_mm is None else ctx.rain_mm, note

    def rerank(self, ctx: Context, candidates: Sequence[ScoredItem], n: int, *, user_id: str | None = None,
               request_id: str | None = None) -> list[ScoredItem]:
        check_n(n)
        items = eligible(ctx, candidates, self.catalog)
        if not items or n == 0:
            return []
        cfg = self.config
        m = max(len(items), cfg.min_span)
        temp, rain, note = self.weather_for(ctx)
        city = ctx.city if ctx.city and temp is not None else None
        if note and "unknown city" in note:
            city = None
        day = ctx.day or date.today()
        events = self._active(day, str((ctx.extra or {}).get("region") or cfg.region or "") or None) \
            if self.calendar else []
        now = datetime.combine(day, datetime.min.time()) if ctx.day else None
        trends = self.trends
        note_text = f" ({note})" if note else ""
        if trends is not None and self.trends_version is None:
            stamp: object = object()  # velocities may change between any two requests: nothing to reuse
        else:
            stamp = self.trends_version() if self.trends_version is not None else None
        effects = self._effects_for((temp, rain, city, note_text, tuple(events), now, stamp))
        velocities = self._velocities(now)
        trend_notes: dict[str, tuple[float, str]] = {}
        get = self.catalog.get
        scores, up, down = [], [], []
        for rank, c in enumerate(items):
            item = get(c.item_id)
            if item is None:
                scores.append(1.0 - rank / m + 0.0)
                up.append("")
                down.append("")
                continue
            hit = effects.get(c.item_id)
            if hit is None or hit[0] is not item:
                delta, plus, minus = self._effect(item, temp, rain, city, note_text, events, now, velocities,
                                                  trend_notes)
                hit = effects[c.item_id] = (item, delta, plus, minus)
            scores.append(1.0 - rank / m + hit[1])
            up.append(hit[2])
            down.append(hit[3])
        return reorder(items, scores, up, n, moved_down_reason=down)

    def _effects_for(self, key: tuple[object, ...]) -> dict[str, tuple[Item, float, str, str]]:
        with self._lock:
            if self._effects_model is not self.model or len(self._effects) > 64:
                self._effects = {}
                self._effects_model = self.model
            effects = self._effects.get(key)
            if effects is None or len(effects) > self.config.memo_size:
                effects = self._effects[key] = {}
            return effects

    def _effect(self, item: Item, temp: float | None, rain: float | None, city: str | None, note_text: str,
                events: Sequence[CalendarEvent], now: datetime | None, velocities: dict[str, float],
                trend_notes: dict[str, tuple[float, str]]) -> tuple[float, str, str]:
        """How much ``item`` moves under this weather, trend state and calendar, and the reasons why."""
        cfg = self.config
        trends = self.trends
        delta = 0.0
        plus: list[str] = []
        minus: list[str] = []
        if temp is not None:
            s = self._suitability(item, temp, rain, city)
            if s.known_type or s.beta:
                delta += cfg.weight * s.score
                (plus if s.score > 0 else minus).append(s.reason + note_text)
        if trends is not None or events:
            tags, tag_set = self._item_tags(item)
            if trends is not None:
                best_tag, best_v = "", 1.0
                for tag in tags:
                    v = velocities.get(tag)
                    if v is None:
                        v = velocities[tag] = trends.velocity(tag, now)
                    if v > best_v:
                        best_tag, best_v = tag, v
                if best_v >= cfg.min_velocity:
                    note = trend_notes.get(best_tag)
                    if note is None:
                        feeds = ", ".join(sorted(trends.sources(best_tag)))
                        note = trend_notes[best_tag] = (
                            cfg.trend_weight * math.tanh(math.log(best_v)),
                            f"trending: {best_tag} ({best_v:.1f}× its usual pace" + (f"; feed: {feeds})" if feeds else ")"))
                    delta += note[0]
                    plus.append(note[1])
            for ev in events:
                if self._matches_event(item, tag_set, ev):
                    delta += cfg.calendar_weight
                    plus.append(f"for {ev.name}")
                    break
        return delta, "; ".join(plus), "; ".join(minus)

    def learn_one(self, feedback: Any) -> None:
        return None
