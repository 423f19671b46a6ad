"""The re-ranking policy protocol, a chain that composes policies, and the helpers they share.

A policy takes the candidates the ranker produced and returns at most ``n`` of them, in a new
order, with a plain-words reason appended to every item it moved. The guarantees every policy
here keeps (and the property tests check):

- the result is a subset of the candidates, without duplicates, never longer than ``n``;
- it never holds an item that is out of stock (per the catalog) or excluded
  (``ctx.extra["exclude"]``, e.g. already bought or not consented).

Policies that need the shopper read ``user_id`` (keyword) or ``ctx.extra["user_id"]``, the same
convention as :mod:`fitloop.rerank.bandit`.

>>> from fitloop.data import Context, Item, ScoredItem, Variant
>>> catalog = {"a": Item("a", "A", "c", "Dress", 1.0, variants=(Variant("M", 0),)),
...            "b": Item("b", "B", "c", "Dress", 1.0)}
>>> cands = [ScoredItem("a", 2.0), ScoredItem("b", 1.0), ScoredItem("c", 0.5)]
>>> [s.item_id for s in eligible(Context(extra={"exclude": ["c"]}), cands, catalog)]
['b']
>>> [s.item_id for s in Chain([InStockFilter(catalog)]).rerank(Context(), cands, 5)]
['b', 'c']
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Protocol, runtime_checkable

import numpy as np

from fitloop.data import Context, Event, Item, ScoredItem
from fitloop.errors import InvalidInput

__all__ = [
    "Policy",
    "Chain",
    "InStockFilter",
    "eligible",
    "add_reason",
    "user_of",
    "shopper_sizes",
    "reorder",
    "rescored",
    "joined_reason",
    "rank_scores",
]


@runtime_checkable
class Policy(Protocol):
    """A re-ranking policy: ``rerank`` picks and orders, ``learn_one`` takes feedback (returns None).

    Same signature as :class:`fitloop.rerank.bandit.RerankPolicy`; ``learn_one`` accepts a
    :class:`fitloop.data.Event` or a bandit ``Feedback`` (policies ignore what they do not use).
    """

    def rerank(self, ctx: Context, candidates: Sequence[ScoredItem], n: int, *, user_id: str | None = None,
               request_id: str | None = None) -> list[ScoredItem]: ...

    def learn_one(self, feedback: Any) -> None: ...


def user_of(ctx: Context, user_id: str | None = None) -> str:
    """The shopper a request is for: the keyword, else ``ctx.extra["user_id"]``, else ``""``."""
    if user_id is not None:
        return str(user_id)
    return str((ctx.extra or {}).get("user_id", "") or "")


def shopper_sizes(ctx: Context) -> tuple[str, ...]:
    """Sizes the shopper wears, from ``ctx.extra["size"]`` (a string) or ``ctx.extra["sizes"]``."""
    extra = ctx.extra or {}
    sizes = extra.get("sizes") or ([extra["size"]] if extra.get("size") else [])
    if isinstance(sizes, str):
        sizes = [sizes]
    return tuple(str(s) for s in sizes)


def rescored(item: ScoredItem, score: float | None = None, reason: str | None = None,
             propensity: float | None = None) -> ScoredItem:
    """``item`` with a new score, reason and/or propensity: ``dataclasses.replace`` for the serving hot path.

    A direct constructor call costs about a tenth of ``replace`` (which inspects the fields every time);
    the re-ranking chain copies every candidate in every stage, so this adds up.
    ``tests/rerank/test_policy.py`` checks that it still copies every field of :class:`ScoredItem`.

    >>> rescored(ScoredItem("a", 1.0, "why", 0.5, "als"), score=2.0)
    ScoredItem(item_id='a', score=2.0, reason='why', propensity=0.5, source='als')
    """
    return ScoredItem(item.item_id, item.score if score is None else score,
                      item.reason if reason is None else reason,
                      item.propensity if propensity is None else propensity, item.source)


def joined_reason(reason: str, text: str) -> str:
    """``reason`` with ``text`` appended ("; " between parts, no duplicates): the rule of :func:`add_reason`."""
    if not text or text in reason:
        return reason
    return f"{reason}; {text}" if reason else text


def add_reason(item: ScoredItem, text: str) -> ScoredItem:
    """``item`` with ``text`` appended to its reason ("; " between parts, no duplicates)."""
    if not text or text in item.reason:
        return item
    return rescored(item, reason=f"{item.reason}; {text}" if item.reason else text)


def eligible(ctx: Context, candidates: Sequence[ScoredItem], catalog: Mapping[str, Item] | None) -> list[ScoredItem]:
    """Candidates without duplicates, out-of-stock items (per ``catalog``) and ``ctx.extra["exclude"]``.

    Items missing from the catalog are kept: their stock is unknown, not zero.
    """
    extra = ctx.extra
    exclude = set(extra.get("exclude", ()) or ()) if extra else set()
    seen: set[str] = set()
    out = []
    get = catalog.get if catalog is not None else None
    for c in candidates:
        iid = c.item_id
        if iid in seen or iid in exclude:
            continue
        seen.add(iid)
        item = get(iid) if get is not None else None
        # An item without sizes is in stock (Item.in_stock), checked here without the call.
        if item is not None and item.variants and not item.in_stock():
            continue
        out.append(c)
    return out


def check_n(n: int) -> None:
    if n < 0:
        raise InvalidInput("n must be non-negative")


def reorder(items: Sequence[ScoredItem], new_scores: Sequence[float], reasons: Sequence[str], n: int,
            *, moved_down_reason: Sequence[str] | None = None) -> list[ScoredItem]:
    """Sort ``items`` by ``new_scores`` (stable), keep ``n``, and append ``reasons[i]`` to items that moved up.

    ``moved_down_reason[i]`` (optional) is appended to items that moved down but stay in the list.
    """
    order = sorted(range(len(items)), key=lambda i: (-new_scores[i], i))[:n]
    out = []
    for new_rank, i in enumerate(order):
        it = items[i]
        reason = it.reason
        if new_rank < i and reasons[i]:
            reason = joined_reason(reason, reasons[i])
        elif new_rank > i and moved_down_reason is not None and moved_down_reason[i]:
            reason = joined_reason(reason, moved_down_reason[i])
        # One copy per item (score and reason together), not one per change.
        out.append(ScoredItem(it.item_id, float(new_scores[i]), reason, it.propensity, it.source))
    return out


_RANK_SCORES: dict[int, np.ndarray] = {}


def rank_scores(m: int) -> np.ndarray:
    """``1 - arange(m) / m`` (the upstream order as a relevance in (0, 1]), computed once per ``m``; read-only.

    >>> rank_scores(4).tolist()
    [1.0, 0.75, 0.5, 0.25]
    """
    r = _RANK_SCORES.get(m)
    if r is None:
        r = 1.0 - np.arange(m) / m
        r.setflags(write=False)
        if len(_RANK_SCORES) < 10_000:
            _RANK_SCORES[m] = r
    return r


def score_spread(items: Sequence[ScoredItem]) -> float:
    """Range of the candidates' scores (1.0 when they are all equal), the unit of every boost here."""
    if not items:
        return 1.0
    s = [c.score for c in items]
    spread = max(s) - min(s)
    return spread if spread > 1e-12 else 1.0


class InStockFilter:
    """Drop out-of-stock and excluded items; with the shopper's size known, items without it go last.

    Keeps shoppers with rare sizes from being shown a page of things they cannot buy.
    """

    def __init__(self, catalog: Mapping[str, Item], *, require_size: bool = False) -> None:
        self.catalog = catalog
        self.require_size = require_size

    def rerank(self, ctx: Context, candidates: Sequence[ScoredItem], n: int, *, user_id: str | None = None,
               request_id: str | None = None) -> list[ScoredItem]:
        check_n(n)
        items = eligible(ctx, candidates, self.catalog)
        sizes = shopper_sizes(ctx)
        if not sizes:
            return items[:n]
        in_size: list[ScoredItem] = []
        other: list[ScoredItem] = []
        for c in items:
            it = self.catalog.get(c.item_id)
            ok = it is None or not it.variants or any(it.in_stock(s) for s in sizes)
            (in_size if ok else other).append(c)
        if self.require_size:
            other = []
        ranked = in_size + other
        pos = {c.item_id: i for i, c in enumerate(items)}
        out = []
        for new_rank, c in enumerate(ranked[:n]):
            if new_rank < pos[c.item_id]:
                c = add_reason(c, f"in stock in your size {'/'.join(sizes)}")
            out.append(c)
        return out

    def learn_one(self, feedback: Any) -> None:
        return None


class Chain:
    """Run policies one after another; every stage but the last keeps all candidates, the last cuts to ``n``.

    ``learn_one`` forwards feedback to every policy.
    """

    def __init__(self, policies: Iterable[Policy]) -> None:
        self.policies = list(policies)

    def rerank(self, ctx: Context, candidates: Sequence[ScoredItem], n: int, *, user_id: str | None = None,
               request_id: str | None = None) -> list[ScoredItem]:
        check_n(n)
        items = list(candidates)
        if not self.policies:
            return eligible(ctx, items, None)[:n]
        for p in self.policies[:-1]:
            items = p.rerank(ctx, items, len(items), user_id=user_id, request_id=request_id)
        return self.policies[-1].rerank(ctx, items, n, user_id=user_id, request_id=request_id)

    def learn_one(self, feedback: Any) -> None:
        for p in self.policies:
            p.learn_one(feedback)


def event_of(feedback: Any) -> Event | None:
    """The :class:`Event` in ``feedback`` (or ``None`` for a bandit Feedback)."""
    return feedback if isinstance(feedback, Event) else None
