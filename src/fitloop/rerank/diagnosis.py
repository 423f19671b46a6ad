"""Click-but-no-buy diagnosis: why does a shopper keep clicking a style without buying it?

A *style* is ``item.style`` when the shop sets it, else "<pattern> <article type>" (e.g. "floral
dress"). When a shopper clicked or viewed items of one style at least ``min_clicks`` times in the
last ``window_days`` without ordering any, the diagnoser weighs three causes, in this order:

1. ``size_out_of_stock`` — the shopper's size (``size`` argument, else the size they picked on
   those items, else the size they buy most) was out of stock in at least half of the clicked
   items. Action: the same style **in stock in their size**.
2. ``price`` — the clicked items' median price is above the shopper's price band (given, else
   ``price_band_factor`` × the 75th percentile of what they paid before). Action: **cheaper items
   of the same style** within the band.
3. ``style`` — size and price were fine, so the style itself did not convince (the evidence
   counts detail views and dwell). Action: **neighbouring styles**: the same pattern in other
   article types (floral dress → floral skirt), else the same article type in other patterns.

Each :class:`Diagnosis` carries the evidence, the action and an explanation in plain words, for
the console (``to_dict``) and for the items' reasons when used as a re-ranking policy.

>>> from datetime import datetime, timedelta
>>> from fitloop.data import Event, EventType, Item, Variant
>>> V = lambda m: (Variant("S", 3), Variant("M", m))
>>> cat = {"d1": Item("d1", "Floral dress", "c", "Dress", 40, pattern="floral", variants=V(0)),
...        "d2": Item("d2", "Floral dress", "c", "Dress", 45, pattern="floral", variants=V(0)),
...        "d3": Item("d3", "Floral dress", "c", "Dress", 42, pattern="floral", variants=V(4))}
>>> dx = ClickNoBuyDiagnoser(cat)
>>> t = datetime(2026, 5, 1)
>>> for k, i in enumerate(["d1", "d2", "d1", "d2"]):
...     dx.learn_one(Event(f"e{k}", EventType.PRODUCT_CLICKED, "u1", t + timedelta(hours=k), i, size="M"))
>>> d = dx.diagnose("u1", now=t + timedelta(days=1))[0]
>>> d.style, d.cause, d.item_ids
('floral dress', 'size_out_of_stock', ('d3',))
>>> d.explanation
'You looked at floral dresses 4 times; size M was out of stock in 2 of the 2 you clicked. Showing floral dresses in stock in M.'
"""

from __future__ import annotations

import threading
from collections import Counter, deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from statistics import median
from typing import Any

import numpy as np

from fitloop.data import Context, Event, EventType, Item, ScoredItem
from fitloop.errors import InvalidInput
from fitloop.rerank.policy import add_reason, check_n, eligible, reorder, shopper_sizes, user_of

__all__ = ["DiagnosisConfig", "Diagnosis", "ClickNoBuyDiagnoser", "style_of", "CAUSES"]

CAUSES: tuple[str, ...] = ("size_out_of_stock", "price", "style")

_LOOKS = {EventType.PRODUCT_CLICKED, EventType.PRODUCT_VIEWED, EventType.DWELL, EventType.CART_ADDED}


def style_of(item: Item) -> str:
    """The style key of an item: ``item.style``, else "<pattern> <article type>", lower case."""
    if item.style:
        return item.style.strip().lower()
    pattern = item.pattern.strip().lower()
    if pattern in ("", "solid", "plain", "unknown", "other"):
        pattern = ""
    return " ".join(p for p in (pattern, item.article_type.strip().lower()) if p)


def _plural(style: str) -> str:
    if style.endswith(("ss", "sh", "ch", "x")):
        return style + "es"
    return style if style.endswith("s") else style + "s"


@dataclass(frozen=True, slots=True)
class DiagnosisConfig:
    min_clicks: int = 3
    window_days: float = 14.0
    size_share: float = 0.5  # share of clicked items out of stock in the size that makes size the cause
    price_band_factor: float = 1.2  # band top = factor × p75 of the shopper's past order prices
    detail_dwell_ms: float = 8_000.0
    max_events_per_shopper: int = 500
    max_shoppers: int = 100_000
    n_action_items: int = 10
    weight: float = 1.0  # rank-score boost of action items (1.0: ahead of everything else)


@dataclass(frozen=True)
class Diagnosis:
    """Why a shopper clicks ``style`` without buying, what we do about it, and the evidence."""

    user_id: str
    style: str
    cause: str
    clicks: int
    evidence: str
    action: str
    item_ids: tuple[str, ...]
    explanation: str
    details: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["item_ids"] = list(self.item_ids)
        d["details"] = dict(self.details)
        return d


class ClickNoBuyDiagnoser:
    """Keeps each shopper's recent events; diagnoses click-no-buy styles and acts on them."""

    def __init__(self, catalog: Mapping[str, Item], config: DiagnosisConfig | None = None) -> None:
        self.catalog = catalog
        self.config = config or DiagnosisConfig()
        if self.config.min_clicks < 1:
            raise InvalidInput("min_clicks must be at least 1")
        self._events: dict[str, deque[Event]] = {}
        self._lock = threading.Lock()
        self._by_style: dict[str, list[str]] | None = None

    def learn_one(self, feedback: Any) -> None:
        """Remember one :class:`Event` of a shopper (other feedback is ignored)."""
        if not isinstance(feedback, Event):
            return
        with self._lock:
            q = self._events.get(feedback.user_id)
            if q is None:
                if len(self._events) >= self.config.max_shoppers:
                    self._events.pop(next(iter(self._events)))
                q = self._events[feedback.user_id] = deque(maxlen=self.config.max_events_per_shopper)
            q.append(feedback)

    def learn_many(self, events: Iterable[Event]) -> None:
        for e in events:
            self.learn_one(e)

    def _styles(self) -> dict[str, list[str]]:
        if self._by_style is None:
            by: dict[str, list[str]] = {}
            for iid, it in self.catalog.items():
                by.setdefault(style_of(it), []).append(iid)
            self._by_style = by
        return self._by_style

    def refresh_catalog(self, catalog: Mapping[str, Item]) -> None:
        """Use a new catalog (stock or prices changed)."""
        self.catalog = catalog
        self._by_style = None

    # -- diagnosis ------------------------------------------------------------------------------
    def diagnose(self, user_id: str, *, now: datetime | None = None, size: str | None = None,
                 price_band: tuple[float, float] | None = None) -> list[Diagnosis]:
        """Diagnoses for every style ``user_id`` keeps clicking without buying, most clicked first."""
        cfg = self.config
        with self._lock:
            events = list(self._events.get(user_id, ()))
        if not events:
            return []
        now = now or max(e.ts for e in events)
        since = now - timedelta(days=cfg.window_days)
        recent = [e for e in events if since <= e.ts <= now and e.item_id is not None and e.item_id in self.catalog]
        orders = [e for e in events if e.type == EventType.ORDER_COMPLETED and e.item_id is not None
                  and e.item_id in self.catalog]
        bought_styles = {style_of(self.catalog[str(e.item_id)]) for e in recent if e.type == EventType.ORDER_COMPLETED}
        looks: dict[str, list[Event]] = {}
        for e in recent:
            if e.type in _LOOKS:
                looks.setdefault(style_of(self.catalog[str(e.item_id)]), []).append(e)
        band = price_band or self._price_band(orders)
        out = []
        for style, evs in looks.items():
            clicks = sum(1 for e in evs if e.type in (EventType.PRODUCT_CLICKED, EventType.PRODUCT_VIEWED))
            if style in bought_styles or clicks < cfg.min_clicks:
                continue
            out.append(self._one(user_id, style, clicks, evs, orders, size, band))
        return sorted(out, key=lambda d: -d.clicks)

    def _price_band(self, orders: Sequence[Event]) -> tuple[float, float] | None:
        prices = [e.price if e.price is not None else self.catalog[str(e.item_id)].price for e in orders
                  if e.item_id in self.catalog]
        if not prices:
            return None
        return (float(min(prices)), float(np.percentile(prices, 75)) * self.config.price_band_factor)

    def _size(self, evs: Sequence[Event], orders: Sequence[Event], size: str | None) -> str | None:
        if size:
            return size
        picked = Counter(e.size for e in evs if e.size)
        if picked:
            return picked.most_common(1)[0][0]
        bought = Counter(e.size for e in orders if e.size)
        return bought.most_common(1)[0][0] if bought else None

    def _one(self, user: str, style: str, clicks: int, evs: Sequence[Event], orders: Sequence[Event],
             size: str | None, band: tuple[float, float] | None) -> Diagnosis:
        cfg = self.config
        clicked = sorted({e.item_id for e in evs if e.item_id})
        items = [self.catalog[i] for i in clicked]
        size = self._size(evs, orders, size)
        same_style = [self.catalog[i] for i in self._styles().get(style, []) if self.catalog[i].in_stock()]
        plural = _plural(style)
        details: dict[str, Any] = {"clicked_items": clicked, "size": size, "price_band": band}
        # 1. Size out of stock.
        sized = [it for it in items if it.variants and any(v.size == size for v in it.variants)] if size else []
        missing = [it for it in sized if not it.in_stock(size)]
        if size and sized and len(missing) / len(sized) >= cfg.size_share:
            alts = [it for it in same_style if it.in_stock(size) and it.item_id not in clicked]
            alts.sort(key=lambda it: it.price)
            ids = tuple(it.item_id for it in alts[: cfg.n_action_items])
            evidence = f"size {size} was out of stock in {len(missing)} of the {len(sized)} you clicked"
            action = f"{plural} in stock in {size}" if ids else f"no {plural} in {size} right now"
            return Diagnosis(user, style, "size_out_of_stock", clicks, evidence, f"in-size alternatives: {action}",
                             ids, f"You looked at {plural} {clicks} times; {evidence}. "
                                  + (f"Showing {action}." if ids else f"There are {action}."), details)
        # 2. Price above the shopper's band.
        med = median(it.price for it in items)
        details["median_clicked_price"] = med
        if band is not None and med > band[1]:
            cheaper = sorted((it for it in same_style if it.price <= band[1] and it.item_id not in clicked
                              and (not size or not it.variants or it.in_stock(size))), key=lambda it: -it.price)
            ids = tuple(it.item_id for it in cheaper[: cfg.n_action_items])
            evidence = f"they cost {med:.0f} on median, above your usual {band[1]:.0f}"
            action = f"{plural} up to {band[1]:.0f}"
            return Diagnosis(user, style, "price", clicks, evidence, f"cheaper same style: {action}", ids,
                             f"You looked at {plural} {clicks} times; {evidence}. "
                             + (f"Showing {action}." if ids else "None cheaper in stock right now."), details)
        # 3. The style itself.
        dwell = sum(float((e.properties or {}).get("dwell_ms", 0) or 0) for e in evs if e.type == EventType.DWELL)
        views = sum(1 for e in evs if e.type == EventType.PRODUCT_VIEWED)
        carts = sum(1 for e in evs if e.type == EventType.CART_ADDED)
        details.update(detail_views=views, dwell_ms=dwell, carts=carts)
        looked = "after looking at the details" if views or dwell >= cfg.detail_dwell_ms else "without a closer look"
        evidence = (f"sizes and prices were fine but nothing was bought {looked}"
                    + (f" ({views} detail views, {dwell / 1000:.0f} s)" if views or dwell else ""))
        ids, neighbour = self._neighbours(style, items, size)
        action = f"neighbouring styles: {neighbour}" if ids else "neighbouring styles: none in stock"
        return Diagnosis(user, style, "style", clicks, evidence, action, ids,
                         f"You looked at {plural} {clicks} times; {evidence}. "
                         + (f"Try {neighbour} instead." if ids else ""), details)

    def _neighbours(self, style: str, items: Sequence[Item], size: str | None) -> tuple[tuple[str, ...], str]:
        """Same pattern in other article types; else the same article type in other patterns."""
        patterns = Counter(it.pattern.lower() for it in items if it.pattern)
        types = Counter(it.article_type.lower() for it in items)
        pattern = patterns.most_common(1)[0][0] if patterns else ""
        atype = types.most_common(1)[0][0] if types else ""

        def ok(it: Item) -> bool:
            return it.in_stock() and (not size or not it.variants or it.in_stock(size)) and style_of(it) != style

        pool = [it for it in self.catalog.values() if ok(it)]
        same_pattern = [it for it in pool if pattern and pattern not in ("solid", "plain")
                        and it.pattern.lower() == pattern and it.article_type.lower() != atype]
        if same_pattern:
            kinds = Counter(it.article_type.lower() for it in same_pattern).most_common(2)
            names = " or ".join(_plural(f"{pattern} {k}") for k, _ in kinds)
            return tuple(it.item_id for it in same_pattern[: self.config.n_action_items]), names
        same_type = [it for it in pool if it.article_type.lower() == atype]
        if same_type:
            return tuple(it.item_id for it in same_type[: self.config.n_action_items]), \
                f"{_plural(atype)} in other patterns"
        return (), ""

    # -- policy ---------------------------------------------------------------------------------
    def rerank(self, ctx: Context, candidates: Sequence[ScoredItem], n: int, *, user_id: str | None = None,
               request_id: str | None = None) -> list[ScoredItem]:
        """Move the diagnoses' action items up (with the explanation as reason); clicked items that
        cannot be bought (out of the shopper's size) move down."""
        check_n(n)
        items = eligible(ctx, candidates, self.catalog)
        user = user_of(ctx, user_id)
        if not items or n == 0:
            return []
        sizes = shopper_sizes(ctx)
        now = datetime.combine(ctx.day, datetime.max.time()) if ctx.day else None
        diags = self.diagnose(user, now=now, size=sizes[0] if sizes else None) if user else []
        if not diags:
            return items[:n]
        boost: dict[str, str] = {}
        sink: dict[str, str] = {}
        for d in diags:
            for i in d.item_ids:
                boost.setdefault(i, d.explanation)
            if d.cause == "size_out_of_stock":
                for i in d.details.get("clicked_items", []):
                    sink.setdefault(i, f"moved down: not in stock in your size {d.details.get('size')}")
        m = len(items)
        w = self.config.weight
        scores = [1.0 - r / m + (w if c.item_id in boost else 0.0) - (w if c.item_id in sink else 0.0)
                  for r, c in enumerate(items)]
        out = reorder(items, scores, [boost.get(c.item_id, "") for c in items], n,
                      moved_down_reason=[sink.get(c.item_id, "") for c in items])
        # An action item that was already on top still says why it is there.
        return [add_reason(c, boost[c.item_id]) if c.item_id in boost else c for c in out]
