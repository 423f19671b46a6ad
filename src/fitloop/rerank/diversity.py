"""Diversification against the filter bubble: maximal marginal relevance (MMR) and a greedy DPP.

**MMR** (Carbonell & Goldstein, 1998) builds the list one slot at a time, each time taking the
candidate with the best ``lambda_ * relevance - (1 - lambda_) * max similarity to those already
chosen``. Relevance is the upstream rank score ``1 - rank / m``; similarity is the cosine of the
items' attribute vectors (:class:`fitloop.catalog.ItemFeatures`: article type, colour, pattern,
material, style). ``lambda_=1`` keeps the upstream order; lower values trade relevance for variety.

**DPP** (determinantal point process, greedy MAP of Chen et al., 2018) picks the set whose kernel
``L = diag(q) S diag(q)`` (quality ``q = exp(theta * relevance)``) has the largest determinant,
which rewards relevant items that are unlike each other as a whole set, not just pairwise.

Items that move up get "adds variety: a different <type/colour/pattern> from the items above";
items pushed down that stay in the list get "moved down: much like an item above".

>>> from fitloop.catalog import ItemFeatures
>>> from fitloop.data import Context, Item, ScoredItem
>>> items = [Item("a", "Floral dress", "d", "Dress", 1, pattern="floral", colour="red"),
...          Item("b", "Floral dress 2", "d", "Dress", 1, pattern="floral", colour="red"),
...          Item("c", "Denim jacket", "o", "Jacket", 1, pattern="solid", colour="blue")]
>>> mmr = MMRDiversifier(ItemFeatures.fit(items), lambda_=0.5, catalog={i.item_id: i for i in items})
>>> out = mmr.rerank(Context(), [ScoredItem("a", 3), ScoredItem("b", 2), ScoredItem("c", 1)], 3)
>>> [s.item_id for s in out], out[1].reason
(['a', 'c', 'b'], 'adds variety: a different article type, colour and pattern from the items above')
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from fitloop.catalog.features import ItemFeatures
from fitloop.data import Context, Item, ScoredItem
from fitloop.errors import InvalidInput
from fitloop.rerank.policy import add_reason, check_n, eligible

__all__ = ["MMRConfig", "MMRDiversifier", "DPPDiversifier", "intra_list_similarity"]

Similarity = Callable[[Sequence[str]], np.ndarray]


@dataclass(frozen=True, slots=True)
class MMRConfig:
    lambda_: float = 0.7
    max_candidates: int = 200  # only the head of a long list is diversified (cost is O(n * m))


def _similarity_fn(features: ItemFeatures | None, similarity: Similarity | None) -> Similarity:
    if similarity is not None:
        return similarity
    if features is None:
        raise InvalidInput("give ItemFeatures or a similarity function (ids -> matrix)")

    def sim(ids: Sequence[str]) -> np.ndarray:
        known = [i for i in ids if features.has(i)]
        out = np.zeros((len(ids), len(ids)))
        if known:
            pos = [k for k, i in enumerate(ids) if features.has(i)]
            out[np.ix_(pos, pos)] = features.pairwise(known)
        np.fill_diagonal(out, 1.0)
        return out

    return sim


def intra_list_similarity(ids: Sequence[str], similarity: Similarity) -> float:
    """Mean pairwise similarity of a list (lower = more varied); 0 for lists shorter than 2."""
    if len(ids) < 2:
        return 0.0
    s = similarity(list(ids))
    k = len(ids)
    return float((s.sum() - np.trace(s)) / (k * (k - 1)))


_ATTRS = (("article_type", "article type"), ("colour", "colour"), ("pattern", "pattern"), ("style", "style"))


def _difference(item: Item | None, above: Sequence[Item | None]) -> str:
    if item is None:
        return ""
    diffs = [label for attr, label in _ATTRS
             if getattr(item, attr) and all(o is None or getattr(o, attr) != getattr(item, attr) for o in above)]
    if not diffs:
        return ""
    return diffs[0] if len(diffs) == 1 else ", ".join(diffs[:-1]) + " and " + diffs[-1]


def _explain(selected: list[int], items: Sequence[ScoredItem], catalog: Mapping[str, Item] | None,
             scores: list[float]) -> list[ScoredItem]:
    out = []
    for new_rank, i in enumerate(selected):
        it = replace(items[i], score=float(scores[new_rank]))
        if new_rank < i:
            above = [catalog.get(items[j].item_id) for j in selected[:new_rank]] if catalog else []
            what = _difference(catalog.get(it.item_id) if catalog else None, above)
            it = add_reason(it, f"adds variety: a different {what} from the items above" if what
                            else "adds variety to the list")
        elif new_rank > i:
            it = add_reason(it, "moved down: much like an item above")
        out.append(it)
    return out


class MMRDiversifier:
    """Maximal marginal relevance over attribute similarity; see the module doc."""

    def __init__(self, features: ItemFeatures | None = None, lambda_: float = 0.7, *,
                 similarity: Similarity | None = None, catalog: Mapping[str, Item] | None = None,
                 config: MMRConfig | None = None) -> None:
        if not 0.0 <= lambda_ <= 1.0:
            raise InvalidInput("lambda_ must lie in [0, 1]")
        self.config = config or MMRConfig(lambda_=lambda_)
        self.lambda_ = lambda_
        self.similarity = _similarity_fn(features, similarity)
        self.catalog = catalog

    def rerank(self, ctx: Context, candidates: Sequence[ScoredItem], n: int, *, user_id: str | None = None,
               request_id: str | None = None) -> list[ScoredItem]:
        check_n(n)
        items = eligible(ctx, candidates, self.catalog)
        head, tail = items[: self.config.max_candidates], items[self.config.max_candidates:]
        m = len(head)
        k = min(n, m)
        if k == 0:
            return []
        rel = 1.0 - np.arange(m) / m
        sim = self.similarity([c.item_id for c in head])
        lam = self.lambda_
        chosen: list[int] = []
        scores: list[float] = []
        max_sim = np.zeros(m)
        left = np.ones(m, dtype=bool)
        for _ in range(k):
            val = lam * rel - (1 - lam) * max_sim
            val[~left] = -np.inf
            j = int(np.argmax(val))
            chosen.append(j)
            scores.append(float(val[j]))
            left[j] = False
            max_sim = np.maximum(max_sim, sim[j])
        out = _explain(chosen, head, self.catalog, scores)
        return (out + tail)[:n]

    def learn_one(self, feedback: Any) -> None:
        return None


class DPPDiversifier:
    """Greedy MAP of a DPP with kernel ``diag(q) S diag(q)``, ``q = exp(theta * relevance)``.

    ``theta`` plays the role of MMR's ``lambda_``: larger values favour relevance.
    """

    def __init__(self, features: ItemFeatures | None = None, theta: float = 2.0, *,
                 similarity: Similarity | None = None, catalog: Mapping[str, Item] | None = None,
                 max_candidates: int = 200, eps: float = 1e-9) -> None:
        if theta < 0:
            raise InvalidInput("theta must be non-negative")
        self.theta = theta
        self.similarity = _similarity_fn(features, similarity)
        self.catalog = catalog
        self.max_candidates = max_candidates
        self.eps = eps

    def rerank(self, ctx: Context, candidates: Sequence[ScoredItem], n: int, *, user_id: str | None = None,
               request_id: str | None = None) -> list[ScoredItem]:
        check_n(n)
        items = eligible(ctx, candidates, self.catalog)
        head, tail = items[: self.max_candidates], items[self.max_candidates:]
        m = len(head)
        k = min(n, m)
        if k == 0:
            return []
        rel = 1.0 - np.arange(m) / m
        q = np.exp(self.theta * rel)
        s = self.similarity([c.item_id for c in head])
        # A small ridge keeps identical items from making the kernel singular too early.
        kernel = q[:, None] * (s + 1e-6 * np.eye(m)) * q[None, :]
        d2 = np.diag(kernel).copy()
        c = np.zeros((k, m))
        chosen: list[int] = []
        gains: list[float] = []
        left = np.ones(m, dtype=bool)
        for t in range(k):
            cand = np.where(left, d2, -np.inf)
            j = int(np.argmax(cand))
            if d2[j] <= self.eps:  # every remaining item is a near-copy: fill by relevance
                rest = [i for i in range(m) if left[i]][: k - t]
                chosen += rest
                gains += [0.0] * len(rest)
                break
            chosen.append(j)
            gains.append(float(np.log(d2[j])))
            left[j] = False
            e = (kernel[j] - c[:t].T @ c[:t, j]) / np.sqrt(d2[j])
            c[t] = e
            d2 = d2 - e**2
        out = _explain(chosen, head, self.catalog, gains)
        return (out + tail)[:n]

    def learn_one(self, feedback: Any) -> None:
        return None
