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
from operator import attrgetter
from typing import Any

import numpy as np
import scipy.sparse as sp

from fitloop.catalog.features import ItemFeatures
from fitloop.data import Context, Item, ScoredItem
from fitloop.errors import InvalidInput
from fitloop.rerank.policy import check_n, eligible, joined_reason, rank_scores

__all__ = ["MMRConfig", "MMRDiversifier", "DPPDiversifier", "PaddedRows", "intra_list_similarity"]

Similarity = Callable[[Sequence[str]], np.ndarray]


@dataclass(frozen=True, slots=True)
class MMRConfig:
    """How hard MMR trades relevance for variety.

    Relevance is the rank score ``1 - rank / m`` of a list of ``m`` candidates, so one rank is worth
    ``lambda_ / m`` and an item that shares similarity ``s`` with one already chosen sinks about
    ``(1 - lambda_) / lambda_ * s * m`` ranks. With this catalog's attributes, sharing just the
    article type is ``s`` ≈ 0.34 (type and colour ≈ 0.46): at ``lambda_ = 0.7`` on the 60
    candidates a shopper's re-ranking chain sees, that is about 9 ranks — the slate is refilled from
    candidates the recommender ranked 20th–40th. The default 0.9 sinks it about 2 ranks on 60
    candidates. Measured in the online loop (docs/evaluation/online_loop.md, the λ curve): 0.7 gave
    back about 40 % of the bandit's reward gain and cut repetition no further than exposure memory
    alone; 0.9 kept the gain.
    """

    lambda_: float = 0.9
    max_candidates: int = 200  # only the head of a long list is diversified (cost is O(n * m))


class PaddedRows:
    """The rows of :class:`ItemFeatures` as fixed-width (column, value) arrays, for a dense block per request.

    Slicing the catalog-wide sparse matrix for 20–50 candidates and multiplying sparse blocks cost
    about 1 ms a request; gathering the candidates' few non-zeros into a small dense block costs tens
    of microseconds. The cosines are *bit for bit* those of the sparse product (``tests/rerank/
    test_diversity.py`` checks it): entry (i, k) adds ``a_i[j] * a_k[j]`` over row i's stored columns
    in their stored order, as scipy's CSR product does. That matters: with one-hot attributes MMR
    meets exact ties (``0.8 * 3/24 == 0.2 * 0.5``), and a last-bit difference would break them the
    other way. ``None`` from :meth:`build` when rows are too wide (a large text block): the sparse
    path serves then.

    >>> from fitloop.data import Item
    >>> f = ItemFeatures.fit([Item("a", "A", "c", "Dress", 1, colour="red"), Item("b", "B", "c", "Dress", 1)])
    >>> rows = PaddedRows.build(f)
    >>> bool(np.allclose(rows.pairwise(["a", "b", "zz"]), [[1, f.similarity("a", "b"), 0],
    ...                                                     [f.similarity("a", "b"), 1, 0], [0, 0, 1]]))
    True
    """

    max_width = 64

    def __init__(self, index: Mapping[str, int], cols: np.ndarray, vals: np.ndarray, n_cols: int) -> None:
        self.index = index
        self.cols = cols
        self.vals = vals
        self.n_cols = n_cols

    @classmethod
    def build(cls, features: ItemFeatures) -> PaddedRows | None:
        # The rows exactly as stored: their column order is the order the sparse product adds in.
        mat = sp.csr_matrix(features.matrix)
        n, n_cols = mat.shape
        nnz = np.diff(mat.indptr)
        width = int(nnz.max()) if n else 0
        if width > cls.max_width:
            return None
        row = np.repeat(np.arange(n), nnz)
        if np.unique(row * (n_cols + 1) + mat.indices).size != mat.nnz:
            return None  # a column twice in a row: the sparse product adds both, a dense block cannot
        # Padding points at an extra, always-zero column, so it adds exact zeros to every product.
        cols = np.full((n, max(width, 1)), n_cols, dtype=np.int64)
        vals = np.zeros((n, max(width, 1)))
        pos = np.arange(mat.nnz) - np.repeat(mat.indptr[:-1], nnz)
        cols[row, pos] = mat.indices
        vals[row, pos] = mat.data
        return cls(features.index, cols, vals, n_cols)

    def pairwise(self, ids: Sequence[str]) -> np.ndarray:
        """Cosine similarities of ``ids`` (1 on the diagonal; 0 off it for ids without features)."""
        m = len(ids)
        index = self.index
        rows = [index.get(i, -1) for i in ids]
        block = np.zeros((m, self.n_cols + 1))
        cols = np.full((m, self.cols.shape[1]), self.n_cols)
        vals = np.zeros((m, self.cols.shape[1]))
        known = [k for k, r in enumerate(rows) if r >= 0]
        if known:
            r = np.array([rows[k] for k in known])
            at = np.array(known)
            cols[at], vals[at] = self.cols[r], self.vals[r]
            block[at[:, None], cols[at]] = vals[at]
        # out[i, k] = sum over t of vals[i, t] * block[k, cols[i, t]], accumulated in t order (see above).
        out = np.zeros((m, m))
        for t in range(cols.shape[1]):
            out += vals[:, t, None] * block[:, cols[:, t]].T
        np.fill_diagonal(out, 1.0)
        return out


def _similarity_fn(features: ItemFeatures | None, similarity: Similarity | None) -> Similarity:
    if similarity is not None:
        return similarity
    if features is None:
        raise InvalidInput("give ItemFeatures or a similarity function (ids -> matrix)")
    padded = PaddedRows.build(features)
    if padded is not None:
        return padded.pairwise

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
_attr_values = attrgetter(*(attr for attr, _ in _ATTRS))


def _difference(item: Item | None, above: Sequence[Item | None]) -> str:
    if item is None:
        return ""
    return _words([label for attr, label in _ATTRS
                   if getattr(item, attr) and all(o is None or getattr(o, attr) != getattr(item, attr) for o in above)])


def _words(diffs: list[str]) -> str:
    if not diffs:
        return ""
    return diffs[0] if len(diffs) == 1 else ", ".join(diffs[:-1]) + " and " + diffs[-1]


def _explain(selected: list[int], items: Sequence[ScoredItem], catalog: Mapping[str, Item] | None,
             scores: list[float]) -> list[ScoredItem]:
    """The chosen items in their new order, with their new scores and what moving them means.

    "A different colour from the items above" is kept as one set of values per attribute of the
    items above, grown row by row (what :func:`_difference` would find, without rescanning them).
    """
    out = []
    above: list[set[str]] = [set() for _ in _ATTRS]
    get = catalog.get if catalog else None
    for new_rank, i in enumerate(selected):
        it = items[i]
        reason = it.reason
        item = get(it.item_id) if get is not None else None
        values = _attr_values(item) if item is not None else None
        if new_rank < i:
            what = "" if values is None else _words([label for (_, label), v, seen in zip(_ATTRS, values, above,
                                                                                          strict=True)
                                                     if v and v not in seen])
            reason = joined_reason(reason, f"adds variety: a different {what} from the items above" if what
                                   else "adds variety to the list")
        elif new_rank > i:
            reason = joined_reason(reason, "moved down: much like an item above")
        if values is not None:
            for v, seen in zip(values, above, strict=True):
                seen.add(v)
        out.append(ScoredItem(it.item_id, float(scores[new_rank]), reason, it.propensity, it.source))
    return out


class MMRDiversifier:
    """Maximal marginal relevance over attribute similarity; see the module doc."""

    def __init__(self, features: ItemFeatures | None = None, lambda_: float | None = None, *,
                 similarity: Similarity | None = None, catalog: Mapping[str, Item] | None = None,
                 config: MMRConfig | None = None) -> None:
        # An explicit lambda_ wins over config.lambda_; neither given: MMRConfig's default.
        cfg = config or MMRConfig()
        if lambda_ is not None:
            cfg = replace(cfg, lambda_=lambda_)
        if not 0.0 <= cfg.lambda_ <= 1.0:
            raise InvalidInput("lambda_ must lie in [0, 1]")
        self.config = cfg
        self.lambda_ = cfg.lambda_
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
        rel = rank_scores(m)
        sim = self.similarity([c.item_id for c in head])
        lam = self.lambda_
        chosen: list[int] = []
        scores: list[float] = []
        # val = lam * rel - (1 - lam) * (max similarity to the chosen), chosen items masked; computed as
        # relevance - penalty with both parts kept across steps, bit for bit the same numbers:
        # (1 - lam) * max(a, b) == max((1 - lam) * a, (1 - lam) * b) since rounding is monotone, and
        # a chosen item's penalty is +inf, so its value is -inf (relevance is finite).
        relevance = lam * rel
        weighted = (1 - lam) * sim
        penalty = np.zeros(m)
        val = np.empty(m)
        for _ in range(k):
            np.subtract(relevance, penalty, out=val)
            j = int(val.argmax())
            chosen.append(j)
            scores.append(float(val[j]))
            np.maximum(penalty, weighted[j], out=penalty)
            penalty[j] = np.inf
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
