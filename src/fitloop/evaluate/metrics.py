"""Top-k recommendation metrics, written to match their usual definitions exactly.

MAP@k follows the Kaggle H&M competition: for one customer,
``AP@k = sum_{i<=k} P(i) * rel(i) / min(|actual|, k)`` where ``P(i)`` is the precision of the first
``i`` predictions and ``rel(i)`` is 1 when prediction ``i`` is a (not yet counted) purchase; a
customer with no purchases scores 0 and MAP@k is the mean over the customers evaluated.

>>> average_precision_at_k(["a", "b"], ["a", "x", "b"], k=12)   # (1/1 + 2/3) / 2
0.8333333333333333
>>> recall_at_k({"a", "b"}, ["b", "x"], k=12), round(ndcg_at_k({"a"}, ["x", "a"], k=12), 4)
(0.5, 0.6309)
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping, Sequence

import numpy as np

__all__ = [
    "average_precision_at_k",
    "map_at_k",
    "recall_at_k",
    "ndcg_at_k",
    "catalog_coverage",
    "intra_list_diversity",
    "novelty",
    "homogeneity_rate",
    "cold_start_recall",
    "paired_bootstrap_ci",
]


def average_precision_at_k(actual: Collection[str], predicted: Sequence[str], k: int = 12) -> float:
    """Kaggle AP@k of one customer (duplicates in ``predicted`` count once)."""
    if not actual:
        return 0.0
    truth = set(actual)
    hits = 0
    score = 0.0
    seen: set[str] = set()
    for i, p in enumerate(predicted[:k]):
        if p in truth and p not in seen:
            hits += 1
            score += hits / (i + 1.0)
        seen.add(p)
    return score / min(len(truth), k)


def map_at_k(actuals: Sequence[Collection[str]], predictions: Sequence[Sequence[str]], k: int = 12) -> float:
    """Mean of :func:`average_precision_at_k` over customers (0.0 for no customers).

    >>> map_at_k([["a"], ["b"]], [["a"], ["x", "b"]])
    0.75
    """
    if len(actuals) != len(predictions):
        raise ValueError("actuals and predictions must have one entry per customer")
    if not actuals:
        return 0.0
    return float(np.mean([average_precision_at_k(a, p, k) for a, p in zip(actuals, predictions, strict=True)]))


def recall_at_k(actual: Collection[str], predicted: Sequence[str], k: int = 12) -> float:
    """Share of the customer's distinct purchases found in the top ``k`` (0.0 without purchases)."""
    truth = set(actual)
    if not truth:
        return 0.0
    return len(truth & set(predicted[:k])) / len(truth)


def ndcg_at_k(actual: Collection[str], predicted: Sequence[str], k: int = 12) -> float:
    """Binary-gain NDCG@k: DCG of the list over the DCG of a perfect list of ``min(|actual|, k)`` hits."""
    truth = set(actual)
    if not truth:
        return 0.0
    seen: set[str] = set()
    dcg = 0.0
    for i, p in enumerate(predicted[:k]):
        if p in truth and p not in seen:
            dcg += 1.0 / math.log2(i + 2)
        seen.add(p)
    ideal = sum(1.0 / math.log2(i + 2) for i in range(min(len(truth), k)))
    return dcg / ideal


def catalog_coverage(predictions: Sequence[Sequence[str]], catalog_size: int) -> float:
    """Share of the catalog that appears in at least one list.

    >>> catalog_coverage([["a", "b"], ["b", "c"]], 10)
    0.3
    """
    if catalog_size <= 0:
        raise ValueError("catalog_size must be positive")
    return len({i for p in predictions for i in p}) / catalog_size


def intra_list_diversity(predictions: Sequence[Sequence[str]], attributes: Mapping[str, Sequence[object]]) -> float:
    """Mean over lists of the mean pairwise attribute distance (share of attributes that differ).

    ``attributes`` maps item id to a tuple of attribute values (product type, colour, …); items
    without attributes are skipped. Lists with fewer than two described items are skipped.

    >>> attrs = {"a": ("dress", "red"), "b": ("dress", "blue"), "c": ("top", "blue")}
    >>> round(intra_list_diversity([["a", "b", "c"]], attrs), 4)   # pairs: 0.5, 1.0, 0.5
    0.6667
    """
    scores = []
    for p in predictions:
        vecs = [attributes[i] for i in p if i in attributes]
        if len(vecs) < 2:
            continue
        arr = np.array([[str(v) for v in vec] for vec in vecs], dtype=object)
        diff = (arr[:, None, :] != arr[None, :, :]).mean(axis=2)
        n = len(vecs)
        scores.append(float(diff[np.triu_indices(n, 1)].mean()))
    return float(np.mean(scores)) if scores else 0.0


def novelty(predictions: Sequence[Sequence[str]], popularity: Mapping[str, int], n_users: int) -> float:
    """Mean self-information ``-log2(p(i))`` of recommended items, ``p(i)`` = share of buyers of ``i``.

    Items nobody bought get ``p = 1 / (n_users + 1)`` (the most novel).

    >>> round(novelty([["a", "b"]], {"a": 50, "b": 25}, n_users=100), 4)   # (1 + 2) / 2
    1.5
    """
    vals = [-math.log2(max(popularity.get(i, 0), 0) / n_users if popularity.get(i, 0) > 0 else 1.0 / (n_users + 1))
            for p in predictions for i in p]
    return float(np.mean(vals)) if vals else 0.0


def homogeneity_rate(predictions: Sequence[Sequence[str]], last_types: Sequence[str | None],
                     item_type: Mapping[str, str]) -> float:
    """Share of recommended items with the product type of the customer's last purchase.

    Customers without a last item (``None``) are skipped.

    >>> homogeneity_rate([["a", "b"], ["c"]], ["dress", None], {"a": "dress", "b": "top", "c": "dress"})
    0.5
    """
    same = total = 0
    for p, t in zip(predictions, last_types, strict=True):
        if t is None:
            continue
        for i in p:
            total += 1
            same += int(item_type.get(i) == t)
    return same / total if total else 0.0


def cold_start_recall(actuals: Sequence[Collection[str]], predictions: Sequence[Sequence[str]],
                      cold_items: Collection[str], k: int = 12) -> float:
    """Share of the (customer, cold item) purchases whose item is in that customer's top ``k``.

    Cold items are those never sold before the test period. Returns NaN when nobody bought one.

    >>> cold_start_recall([["a", "n"], ["n"]], [["n"], ["x"]], {"n"})
    0.5
    """
    cold = set(cold_items)
    hit = total = 0
    for a, p in zip(actuals, predictions, strict=True):
        wanted = set(a) & cold
        total += len(wanted)
        hit += len(wanted & set(p[:k]))
    return hit / total if total else float("nan")


def paired_bootstrap_ci(a: Sequence[float], b: Sequence[float], n_boot: int = 2000, alpha: float = 0.05,
                        rng: int | np.random.Generator = 0) -> tuple[float, float, float]:
    """Mean of ``a - b`` and its percentile bootstrap ``1 - alpha`` interval, resampling pairs.

    >>> d, lo, hi = paired_bootstrap_ci([1.0, 1.0, 1.0], [0.0, 0.0, 0.0], n_boot=100)
    >>> (d, lo, hi)
    (1.0, 1.0, 1.0)
    """
    x = np.asarray(a, dtype=float) - np.asarray(b, dtype=float)
    if len(x) == 0:
        return float("nan"), float("nan"), float("nan")
    gen = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
    idx = gen.integers(0, len(x), size=(n_boot, len(x)))
    means = x[idx].mean(axis=1)
    lo, hi = np.quantile(means, [alpha / 2, 1 - alpha / 2])
    return float(x.mean()), float(lo), float(hi)
