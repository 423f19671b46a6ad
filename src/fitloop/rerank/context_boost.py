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
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from fitloop.catalog.season_suitability import SuitabilityModel
from fitloop.context.season import FashionCalendar
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


def item_tags(item: Item) -> list[str]:
    """The tags trends and the calendar match against: type, colour, pattern, style, occasion, ``attributes['tags']``."""
    tags = [item.article_type, item.colour, item.pattern, item.style, item.occasion, item.material]
    extra = item.attributes.get("tags", ()) if item.attributes else ()
    if isinstance(extra, str):
        extra = [extra]
    return [t.strip().lower() for t in (*tags, *extra) if t and str(t).strip()]


class ContextBoost:
    """Re-rank by weather suitability (and optionally trends and the fashion calendar), with reasons."""

    def __init__(self, catalog: Mapping[str, Item], model: SuitabilityModel | None = None, *,
                 weather: WeatherProvider | None = None, trends: TrendTracker | None = None,
                 calendar: FashionCalendar | None = None, config: ContextBoostConfig | None = None) -> None:
        self.catalog = catalog
        self.model = model or SuitabilityModel.default()
        self.weather = weather
        self.trends = trends
        self.calendar = calendar
        self.config = config or ContextBoostConfig()

    def weather_for(self, ctx: Context) -> tuple[float | None, float | None, str]:
        """Temperature, rain and a note on where they came from ("" when the context carried them)."""
        if ctx.temperature_c is not None:
            return float(ctx.temperature_c), ctx.rain_mm, ""
        if self.weather is None:
            return None, None, ""
        r: WeatherReading = self.weather.daily(ctx.city, ctx.day or date.today())
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
        events = self.calendar.active(day, region=str((ctx.extra or {}).get("region") or cfg.region or "") or None) \
            if self.calendar else []
        now = datetime.combine(day, datetime.min.time()) if ctx.day else None
        scores, up, down = [], [], []
        for rank, c in enumerate(items):
            item = self.catalog.get(c.item_id)
            delta = 0.0
            plus: list[str] = []
            minus: list[str] = []
            if item is not None and temp is not None:
                s = self.model.score(item, temp, rain, city=city)
                if s.known_type or s.beta:
                    delta += cfg.weight * s.score
                    text = s.reason + (f" ({note})" if note else "")
                    (plus if s.score > 0 else minus).append(text)
            if item is not None and self.trends is not None:
                best_tag, best_v = "", 1.0
                for tag in item_tags(item):
                    v = self.trends.velocity(tag, now)
                    if v > best_v:
                        best_tag, best_v = tag, v
                if best_v >= cfg.min_velocity:
                    delta += cfg.trend_weight * math.tanh(math.log(best_v))
                    feeds = ", ".join(sorted(self.trends.sources(best_tag)))
                    plus.append(f"trending: {best_tag} ({best_v:.1f}× its usual pace"
                                + (f"; feed: {feeds})" if feeds else ")"))
            if item is not None and events:
                tags = set(item_tags(item))
                for ev in events:
                    if tags & set(ev.tags) or (ev.tags and any(self.model.occasion_share(item, t) >= 0.3
                                                               for t in ev.tags)):
                        delta += cfg.calendar_weight
                        plus.append(f"for {ev.name}")
                        break
            scores.append(1.0 - rank / m + delta)
            up.append("; ".join(plus))
            down.append("; ".join(minus))
        return reorder(items, scores, up, n, moved_down_reason=down)

    def learn_one(self, feedback: Any) -> None:
        return None
