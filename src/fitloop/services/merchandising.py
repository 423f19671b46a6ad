"""Merchandising rules: pin, bury or block items for a segment or slot, and boost new arrivals.

Rules live in the store and take effect in serving at once: :class:`MerchandisingService` hands the
recommendation service a :class:`RuleSet` that is at most one second old. Semantics (applied in
this order, after the model ranked and the stock filter ran):

1. **block**: the item never appears.
2. **pin**: the item goes to the top (oldest pin first) with reason "pinned by merchandising", even
   when the model did not rank it — unless it is excluded, blocked or out of stock.
3. **pair** (an outfit rule): on the page of the ``anchor`` item (``Context.item_id``: product and cart
   slots) the paired item comes right after the pins, with reason "completes the look".
4. **boost_new**: items that arrived within ``days`` days move ahead of the others (order kept).
5. **bury**: the item moves to the end of the list.

A rule applies when its ``slot`` is ``"*"`` or the request's slot, and its ``segment`` is ``"*"`` or
the shopper's segment.

>>> from datetime import datetime, UTC
>>> from fitloop.data import ScoredItem
>>> t = datetime(2026, 1, 1, tzinfo=UTC)
>>> rules = [MerchRule("r1", "pin", "z", "*", "*", "m", t), MerchRule("r2", "block", "b", "home", "*", "m", t)]
>>> items = [ScoredItem("a", 3.0), ScoredItem("b", 2.0), ScoredItem("c", 1.0)]
>>> [i.item_id for i in apply_rules(items, rules, slot="home", segment=None, k=3)]
['z', 'a', 'c']
"""

from __future__ import annotations

import re
import threading
import time
import uuid
from collections.abc import Callable, Container, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

from fitloop.data import ScoredItem
from fitloop.errors import InvalidInput, NotFound
from fitloop.store import Stores
from fitloop.store.protocols import MerchRule

__all__ = ["ACTIONS", "PIN_REASON", "PAIR_REASON", "RuleSet", "MerchandisingService", "apply_rules", "validate_rule"]

ACTIONS = ("pin", "bury", "block", "boost_new", "pair")
PIN_REASON = "pinned by merchandising"
PAIR_REASON = "completes the look (merchandising)"
_SLOT = re.compile(r"^[a-z_*]{1,32}$")


def _applies(rule: MerchRule, slot: str, segment: str | None, now: datetime) -> bool:
    if rule.expires_at is not None and rule.expires_at <= now:
        return False
    return rule.slot in ("*", slot) and (rule.segment == "*" or rule.segment == segment)


def apply_rules(
    items: Sequence[ScoredItem],
    rules: Iterable[MerchRule],
    *,
    slot: str,
    segment: str | None,
    k: int,
    exclude: Container[str] = (),
    in_stock: Callable[[str], bool] | None = None,
    is_new: Callable[[str, int], bool] | None = None,
    now: datetime | None = None,
    context_item: str | None = None,
) -> list[ScoredItem]:
    """The list after the merchandising rules that apply to ``slot``, ``segment`` and the page's item, cut to ``k``."""
    now = now or datetime.now(UTC)
    active = [r for r in rules if _applies(r, slot, segment, now)
              and (r.action != "pair" or (context_item is not None and r.anchor == context_item))]
    if not active:
        return list(items)[:k]
    blocked = {r.item_id for r in active if r.action == "block"}
    buried = {r.item_id for r in active if r.action == "bury"}
    pins = list(dict.fromkeys(r.item_id for r in active if r.action == "pin"))
    pairs = [r.item_id for r in active if r.action == "pair" and r.item_id not in pins]
    boost_days = max((r.days for r in active if r.action == "boost_new"), default=0)
    kept = [it for it in items if it.item_id not in blocked]
    by_id = {it.item_id: it for it in kept}
    top = max((it.score for it in kept), default=0.0)
    pinned: list[ScoredItem] = []
    for iid, reason in [*((i, PIN_REASON) for i in pins), *((i, PAIR_REASON) for i in dict.fromkeys(pairs))]:
        if iid in blocked or iid in exclude or iid == context_item or \
                (in_stock is not None and iid not in by_id and not in_stock(iid)):
            continue
        base = by_id.get(iid) or ScoredItem(iid, top, source="merchandising")
        pinned.append(replace(base, score=top + 1.0, reason=reason, propensity=1.0))
    pinned_ids = {p.item_id for p in pinned}
    rest = [it for it in kept if it.item_id not in pinned_ids]
    if boost_days > 0 and is_new is not None:
        new = [replace(it, reason=(it.reason + "; " if it.reason else "") + "new arrival")
               for it in rest if is_new(it.item_id, boost_days) and it.item_id not in buried]
        new_ids = {it.item_id for it in new}
        rest = new + [it for it in rest if it.item_id not in new_ids]
    rest = [it for it in rest if it.item_id not in buried] + [it for it in rest if it.item_id in buried]
    return (pinned + rest)[:k]


def validate_rule(action: str, item_id: str, slot: str, segment: str, days: int | None,
                  anchor: str = "") -> list[str]:
    """Problems with a rule form, each saying what to fix."""
    problems = []
    if action == "pair" and not (anchor or "").strip():
        problems.append("outfit: enter the item whose page should show this one")
    if action == "pair" and anchor and anchor.strip() == (item_id or "").strip():
        problems.append("outfit: an item cannot complete its own look; pick a different item")
    if action not in ACTIONS:
        problems.append(f"action: choose one of {', '.join(ACTIONS)}")
    if action != "boost_new" and not (item_id or "").strip():
        problems.append("item: enter the id of the item to pin, bury or block")
    if len(item_id or "") > 128:
        problems.append("item: ids are at most 128 characters")
    if not _SLOT.match(slot or ""):
        problems.append("slot: choose a slot or * for every slot")
    if not segment or len(segment) > 64:
        problems.append("segment: choose a segment or * for every shopper")
    if action == "boost_new" and not (days and 1 <= days <= 365):
        problems.append("days: a new-arrival boost needs a window of 1 to 365 days")
    return problems


@dataclass(frozen=True)
class RuleSet:
    """The rules in force, with what applying them needs (a shopper's segment, which items are new)."""

    rules: tuple[MerchRule, ...] = ()
    segment_of: Callable[[str], str | None] = field(default=lambda _u: None)
    is_new: Callable[[str, int], bool] | None = None

    @property
    def blocking(self) -> int:
        return sum(r.action in ("block", "bury") for r in self.rules)

    def apply(self, items: Sequence[ScoredItem], *, user_id: str, slot: str, k: int, exclude: Container[str] = (),
              in_stock: Callable[[str], bool] | None = None, context_item: str | None = None) -> list[ScoredItem]:
        if not self.rules:
            return list(items)[:k]
        # Only look the shopper's segment up when a rule is scoped to one (it may cost a lookup).
        segment = self.segment_of(user_id) if any(r.segment != "*" for r in self.rules) else None
        return apply_rules(items, self.rules, slot=slot, segment=segment, k=k, exclude=exclude,
                           in_stock=in_stock, is_new=self.is_new, context_item=context_item)


class MerchandisingService:
    """Create, list and delete rules; :meth:`current` is the ``rules_provider`` serving calls (≤ 1 s old)."""

    def __init__(self, stores: Stores, *, segment_of: Callable[[str], str | None] | None = None,
                 max_age_s: float = 1.0, new_items_refresh_s: float = 60.0) -> None:
        if stores.merchandising is None:
            raise InvalidInput("these stores have no merchandising table; run `fitloop db upgrade`")
        self._stores = stores
        self._rules = stores.merchandising
        self._segment_of = segment_of or (lambda _u: None)
        self._max_age_s = max_age_s
        self._new_refresh_s = new_items_refresh_s
        self._lock = threading.Lock()
        self._cached: RuleSet | None = None
        self._cached_at = 0.0
        self._arrivals: dict[str, datetime] = {}
        self._newest: datetime | None = None
        self._arrivals_at = -1e9

    def add(self, *, action: str, item_id: str = "", slot: str = "*", segment: str = "*", days: int = 0,
            note: str = "", anchor: str = "", by: str, now: datetime | None = None) -> MerchRule:
        item_id, anchor = (item_id or "").strip(), (anchor or "").strip() if action == "pair" else ""
        problems = validate_rule(action, item_id, slot, segment, days, anchor)
        if not problems and action != "boost_new" and self._stores.catalog.get_item(item_id) is None:
            problems.append(f"item: {item_id!r} is not in the catalog; check the id")
        if not problems and anchor and self._stores.catalog.get_item(anchor) is None:
            problems.append(f"outfit: {anchor!r} is not in the catalog; check the id")
        if problems:
            raise InvalidInput("; ".join(problems), code="invalid_rule")
        rule = MerchRule(uuid.uuid4().hex[:16], action, item_id if action != "boost_new" else "", slot, segment, by,
                         now or datetime.now(UTC), note[:500], int(days or 0) if action == "boost_new" else 0,
                         anchor=anchor)
        self._rules.add(rule)
        self.invalidate()
        return rule

    def delete(self, rule_id: str) -> None:
        self._rules.delete(rule_id)
        self.invalidate()

    def list(self) -> list[MerchRule]:
        return self._rules.list()

    def get(self, rule_id: str) -> MerchRule:
        for r in self._rules.list():
            if r.rule_id == rule_id:
                return r
        raise NotFound(f"no merchandising rule {rule_id!r}")

    def invalidate(self) -> None:
        with self._lock:
            self._cached = None

    def _is_new(self, item_id: str, days: int) -> bool:
        at = self._arrivals.get(item_id)
        # Counted back from the newest arrival (in a live shop: today); a replayed or simulated shop works too.
        return at is not None and self._newest is not None and at >= self._newest - timedelta(days=days)

    def _refresh_arrivals(self) -> None:
        arrivals = {it.item_id: it.created_at for it in self._stores.catalog.iter_items(batch_size=5000)
                    if it.created_at is not None}
        self._arrivals = arrivals
        self._newest = min(max(arrivals.values()), datetime.now(UTC)) if arrivals else None
        self._arrivals_at = time.monotonic()

    def current(self) -> RuleSet:
        """The rules in force, re-read from the store at most every ``max_age_s`` seconds."""
        now = time.monotonic()
        with self._lock:
            if self._cached is not None and now - self._cached_at < self._max_age_s:
                return self._cached
            rules = tuple(self._rules.list())
            if any(r.action == "boost_new" for r in rules) and now - self._arrivals_at > self._new_refresh_s:
                self._refresh_arrivals()
            self._cached = RuleSet(rules, self._segment_of, self._is_new)
            self._cached_at = now
            return self._cached
