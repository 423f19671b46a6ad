"""Exposure memory (stop showing what a shopper keeps ignoring) and a per-shopper exploration budget.

**ExposureMemory** counts, per shopper, impressions that were not followed by engagement, for
the item itself and for its near-duplicates: the same style in another colour (``product_code``)
and the same article type in the same colour. After ``free_impressions`` ignored showings, each
further one multiplies the item's weight by ``damping``: its rank score ``1 - rank / m`` loses
``1 - damping ** extra``. Engagement resets the counts of the item and its near-duplicates: a
click, favourite, cart, order, social engagement, or a long dwell — on a buyer-show photo
(shoppers' own photos of the item, ``properties["surface"] == "buyer_show"``) from
``buyer_show_dwell_ms`` on, elsewhere from ``dwell_ms``.

**ExplorationBudget** gives each shopper a share of the slots for exploration: items from
beyond the top ``n`` chosen at random (seeded by rng, shopper and request, so a logged decision
replays), each with its exact propensity. New shoppers (few engagements) get a larger share; a
daily cap bounds how many explored items one shopper sees.

>>> from datetime import datetime
>>> from fitloop.data import Context, Event, EventType, Item, ScoredItem
>>> catalog = {i: Item(i, i, "c", "Dress", 1.0, colour=c, product_code=p)
...            for i, c, p in [("a1", "red", "A"), ("a2", "blue", "A"), ("b", "green", "B")]}
>>> mem = ExposureMemory(catalog, free_impressions=1, damping=0.5)
>>> t = datetime(2026, 6, 1)
>>> for k in range(3):
...     mem.learn_one(Event(f"e{k}", EventType.IMPRESSION, "u1", t, "a1"))
>>> out = mem.rerank(Context(extra={"user_id": "u1"}), [ScoredItem("a2", 3), ScoredItem("b", 2)], 2)
>>> [(s.item_id, s.reason) for s in out]
[('b', ''), ('a2', 'moved down: the same style was shown 3 times without a click')]
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date
from typing import Any

from fitloop.data import Context, Event, EventType, Item, ScoredItem
from fitloop.errors import InvalidInput
from fitloop.rerank.bandit import decision_rng  # the shared, replayable seeding of serving decisions
from fitloop.rerank.policy import add_reason, check_n, eligible, reorder, user_of

__all__ = ["ExposureConfig", "ExposureMemory", "ExplorationConfig", "ExplorationBudget", "is_engagement"]

_ENGAGING = {EventType.PRODUCT_CLICKED, EventType.FAVOURITED, EventType.CART_ADDED, EventType.ORDER_COMPLETED,
             EventType.SOCIAL_ENGAGEMENT}
_ENGAGING_NAMES = {e.value for e in _ENGAGING}
_WHAT = {"i": "this item", "p": "the same style", "t": "items much like it"}


@dataclass(frozen=True, slots=True)
class ExposureConfig:
    damping: float = 0.7
    free_impressions: int = 2
    dwell_ms: float = 10_000.0
    buyer_show_dwell_ms: float = 3_000.0
    max_shoppers: int = 100_000  # least recently active shoppers are forgotten beyond this


def _dwell_ms(event: Event) -> float:
    p = event.properties or {}
    for key in ("dwell_ms", "duration_ms", "value"):
        if key in p:
            try:
                return float(p[key])
            except (TypeError, ValueError):
                return 0.0
    return 0.0


def _surface(event: Event) -> str:
    p = event.properties or {}
    return str(p.get("surface") or p.get("content") or p.get("photo") or "").lower()


def is_engagement(event: Event, config: ExposureConfig | None = None) -> bool:
    """True for clicks, favourites, carts, orders, social engagement and long dwell (shorter on buyer-show photos)."""
    cfg = config or ExposureConfig()
    if event.type in _ENGAGING:
        return True
    if event.type == EventType.DWELL:
        need = cfg.buyer_show_dwell_ms if _surface(event) in ("buyer_show", "buyer-show", "ugc") else cfg.dwell_ms
        return _dwell_ms(event) >= need
    return False


def _keys(item_id: str, item: Item | None) -> tuple[str, ...]:
    keys = [f"i:{item_id}"]
    if item is not None:
        if item.product_code:
            keys.append(f"p:{item.product_code}")
        if item.article_type and item.colour:
            keys.append(f"t:{item.article_type.lower()}|{item.colour.lower()}")
    return tuple(keys)


class ExposureMemory:
    """Per-shopper counts of ignored impressions for items and their near-duplicates; damps repeats."""

    def __init__(self, catalog: Mapping[str, Item], *, damping: float | None = None,
                 free_impressions: int | None = None, config: ExposureConfig | None = None) -> None:
        cfg = config or ExposureConfig()
        if damping is not None:
            cfg = replace(cfg, damping=damping)
        if free_impressions is not None:
            cfg = replace(cfg, free_impressions=free_impressions)
        if not 0.0 < cfg.damping <= 1.0:
            raise InvalidInput("damping must lie in (0, 1]")
        if cfg.free_impressions < 0:
            raise InvalidInput("free_impressions must be non-negative")
        self.config = cfg
        self.catalog = catalog
        self._counts: OrderedDict[str, dict[str, int]] = OrderedDict()
        self._lock = threading.Lock()
        # item id → (the Item they were built from, its count keys): the keys are strings built from
        # the item's attributes, the same on every request; reused only for that very Item object.
        self._key_memo: dict[str, tuple[Item | None, tuple[str, ...]]] = {}

    def _item_keys(self, item_id: str) -> tuple[str, ...]:
        item = self.catalog.get(item_id)
        hit = self._key_memo.get(item_id)
        if hit is not None and hit[0] is item:
            return hit[1]
        keys = _keys(item_id, item)
        if len(self._key_memo) > 200_000:
            self._key_memo.clear()
        self._key_memo[item_id] = (item, keys)
        return keys

    def _user(self, user: str) -> dict[str, int]:
        c = self._counts.get(user)
        if c is None:
            c = self._counts[user] = {}
            if len(self._counts) > self.config.max_shoppers:
                self._counts.popitem(last=False)
        self._counts.move_to_end(user)
        return c

    def learn_one(self, feedback: Any) -> None:
        """Take an :class:`Event` (impression, engagement, dwell) or a bandit ``Feedback``."""
        if isinstance(feedback, Event):
            user, item_id = feedback.user_id, feedback.item_id
            if not item_id:
                return
            if feedback.type == EventType.IMPRESSION:
                self._impression(user, item_id)
            elif is_engagement(feedback, self.config):
                self._engaged(user, item_id)
            return
        item_id = getattr(feedback, "item_id", None)
        user = str(getattr(feedback, "user_id", "") or "")
        if not item_id:
            return
        events = {e.value if isinstance(e, EventType) else str(e) for e in getattr(feedback, "events", ())}
        if getattr(feedback, "correction", False):
            return
        if events & _ENGAGING_NAMES:
            self._engaged(user, item_id)
        else:
            self._impression(user, item_id)

    def _impression(self, user: str, item_id: str) -> None:
        with self._lock:
            c = self._user(user)
            for k in self._item_keys(item_id):
                c[k] = c.get(k, 0) + 1

    def _engaged(self, user: str, item_id: str) -> None:
        with self._lock:
            c = self._user(user)
            for k in self._item_keys(item_id):
                c.pop(k, None)

    def ignored(self, user: str, item_id: str) -> tuple[int, str]:
        """How often this item or a near-duplicate was shown to ``user`` without engagement, and which."""
        with self._lock:
            return self._ignored(self._counts.get(user, {}), item_id)

    def _ignored(self, c: Mapping[str, int], item_id: str) -> tuple[int, str]:
        best, which = 0, ""
        if c:
            for k in self._item_keys(item_id):
                if c.get(k, 0) > best:
                    best, which = c[k], k[0]
        return best, _WHAT.get(which, "")

    def rerank(self, ctx: Context, candidates: Sequence[ScoredItem], n: int, *, user_id: str | None = None,
               request_id: str | None = None) -> list[ScoredItem]:
        check_n(n)
        items = eligible(ctx, candidates, self.catalog)
        user = user_of(ctx, user_id)
        m = len(items)
        if m == 0 or n == 0:
            return []
        cfg = self.config
        scores, down = [], []
        with self._lock:  # one lock for the whole list, not one per candidate
            counts = self._counts.get(user)
            ignored = [self._ignored(counts, c.item_id) for c in items] if counts else None
        if ignored is None:
            # Nothing shown to this shopper yet (a new visitor): no penalties, the order stays; the same
            # items and scores reorder() would give, without sorting.
            return [ScoredItem(c.item_id, 1.0 - rank / m - 0.0, c.reason, c.propensity, c.source)
                    for rank, c in enumerate(items[:n])]
        for rank, (count, what) in enumerate(ignored):
            extra = max(0, count - cfg.free_impressions)
            penalty = 1.0 - cfg.damping**extra
            scores.append(1.0 - rank / m - penalty)
            down.append(f"moved down: {what} was shown {count} times without a click" if extra else "")
        return reorder(items, scores, [""] * m, n, moved_down_reason=down)


@dataclass(frozen=True, slots=True)
class ExplorationConfig:
    share: float = 0.1
    new_shopper_share: float = 0.2
    new_shopper_engagements: int = 5
    max_per_day: int = 30
    rng: int = 0


class ExplorationBudget:
    """Reserve a per-shopper share of the slots for items from beyond the top ``n``."""

    def __init__(self, config: ExplorationConfig | None = None, *, catalog: Mapping[str, Item] | None = None) -> None:
        cfg = config or ExplorationConfig()
        if not (0.0 <= cfg.share <= 1.0 and 0.0 <= cfg.new_shopper_share <= 1.0):
            raise InvalidInput("exploration shares must lie in [0, 1]")
        self.config = cfg
        self.catalog = catalog
        self._engagements: dict[str, int] = {}
        self._spent: dict[tuple[str, date], int] = {}
        self._lock = threading.Lock()

    def share_for(self, user: str) -> float:
        """The exploration share of ``user``: larger while we know little about them."""
        cfg = self.config
        with self._lock:
            known = self._engagements.get(user, 0) >= cfg.new_shopper_engagements
        return cfg.share if known else cfg.new_shopper_share

    def spent_today(self, user: str, day: date) -> int:
        with self._lock:
            return self._spent.get((user, day), 0)

    def learn_one(self, feedback: Any) -> None:
        user = str(getattr(feedback, "user_id", "") or "")
        if isinstance(feedback, Event):
            engaged = is_engagement(feedback)
        else:
            names = {e.value if isinstance(e, EventType) else str(e) for e in getattr(feedback, "events", ())}
            engaged = bool(names & _ENGAGING_NAMES)
        if engaged:
            with self._lock:
                self._engagements[user] = self._engagements.get(user, 0) + 1

    def rerank(self, ctx: Context, candidates: Sequence[ScoredItem], n: int, *, user_id: str | None = None,
               request_id: str | None = None) -> list[ScoredItem]:
        check_n(n)
        items = eligible(ctx, candidates, self.catalog)
        head, pool = items[:n], items[n:]
        if not head:
            return []
        user = user_of(ctx, user_id)
        request = request_id if request_id is not None else str((ctx.extra or {}).get("request_id", ""))
        day = ctx.day or date.today()
        gen = decision_rng(self.config.rng, user, request)
        want = self.share_for(user) * len(head)
        k = int(want) + int(gen.random() < want - int(want))  # unbiased rounding of the share
        left = max(0, self.config.max_per_day - self.spent_today(user, day))
        k = min(k, len(pool), left, len(head))
        if k == 0:
            return head
        picks = gen.choice(len(pool), size=k, replace=False)
        slots = sorted(gen.choice(len(head), size=k, replace=False).tolist())
        out = list(head[: len(head) - k])
        p_pick = k / len(pool)
        explored = [add_reason(replace(pool[int(j)], propensity=p_pick), "something new to explore")
                    for j in picks]
        for s, e in zip(slots, explored, strict=True):
            out.insert(s, e)
        with self._lock:
            if len(self._spent) > 100_000:  # yesterday's budgets are no longer needed
                self._spent = {key: v for key, v in self._spent.items() if key[1] >= day}
            self._spent[(user, day)] = self._spent.get((user, day), 0) + k
        return out[:n]
