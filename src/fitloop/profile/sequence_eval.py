"""Does the sequence-interest model predict the next purchase better than the static profile?

Protocol (H&M sample, leave-last-purchase-day-out): for every customer with at
least two purchase days, the basket of their last purchase day is held out and
everything before it is their history. All models are trained on every purchase
that is not held out and rank the same candidates: every article seen in
training. Metrics: HR@12 (at least one basket article in the top 12) and
NDCG@12 (binary relevance), averaged over customers.

Side by side:

- ``sequence``: :class:`~fitloop.profile.sequence.SequenceModel` on the
  customer's recent purchases, with article tags (product code, type, colour,
  department, pattern, index, garment group) shared across articles;
- ``static_profile``: the customer's long-term attribute affinities (share of
  their history per product type, colour and department) scoring each article
  by the sum of its attribute shares, ties broken by popularity;
- ``popularity``: most-bought articles in training;
- ``popularity_recent``: most-bought articles in the 28 days before the
  customer's held-out day (training purchases only).

``evaluate_sequence()`` reproduces the figures in ``docs/evaluation/sequence.md``.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from fitloop.errors import InvalidInput
from fitloop.profile.sequence import SequenceConfig, SequenceModel

__all__ = ["evaluate_sequence", "hm_item_tags", "leave_last_day_out", "StaticProfileScorer"]

HM_TAG_COLUMNS: tuple[str, ...] = (
    "product_code",
    "product_type_name",
    "colour_group_name",
    "department_name",
    "graphical_appearance_name",
    "index_name",
    "garment_group_name",
)
STATIC_COLUMNS: tuple[str, ...] = ("product_type_name", "colour_group_name", "department_name")


def hm_item_tags(articles: pd.DataFrame, columns: Sequence[str] = HM_TAG_COLUMNS) -> dict[str, list[str]]:
    """article id → ``["column:value", …]`` for the sequence model's shared tag embeddings."""
    cols = [c for c in columns if c in articles.columns]
    ids = articles["article_id"].astype(str).to_numpy()
    parts = [(c + ":") + articles[c].astype(str).to_numpy().astype(object) for c in cols]
    return {i: [p[r] for p in parts] for r, i in enumerate(ids)}


def leave_last_day_out(transactions: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Split H&M transactions into (train, test): test is each customer's last purchase day,
    for customers with at least two purchase days."""
    t = transactions.assign(_row=np.arange(len(transactions)))
    last = t.groupby("customer_id")["t_dat"].transform("max")
    first = t.groupby("customer_id")["t_dat"].transform("min")
    held = (t["t_dat"] == last) & (first < last)
    return t[~held].drop(columns="_row"), t[held].drop(columns="_row")


class StaticProfileScorer:
    """Long-term attribute affinities: score = Σ over attributes of the customer's share of
    purchases with the article's value, plus a small popularity tie-break."""

    def __init__(self, articles: pd.DataFrame, item_ids: Sequence[str], popularity: np.ndarray,
                 columns: Sequence[str] = STATIC_COLUMNS) -> None:
        a = articles.set_index(articles["article_id"].astype(str)).reindex(list(item_ids))
        self._index = {it: i for i, it in enumerate(item_ids)}
        self._codes: list[np.ndarray] = []
        for c in columns:
            codes, _ = pd.factorize(a[c].astype(str))
            self._codes.append(codes)
        pop = np.asarray(popularity, dtype=float)
        self._tie = 1e-3 * pop / max(pop.max(), 1.0)

    def scores(self, history: Sequence[str]) -> np.ndarray:
        rows = np.asarray([self._index[h] for h in history if h in self._index], dtype=np.int64)
        s = self._tie.copy()
        if rows.size == 0:
            return s
        for codes in self._codes:
            share = np.bincount(codes[rows], minlength=codes.max() + 1) / rows.size
            s += share[codes]
        return s


def _rank_metrics(top: Sequence[str], basket: set[str], k: int) -> tuple[float, float]:
    gains = [1.0 / np.log2(r + 2) for r, it in enumerate(top[:k]) if it in basket]
    ideal = sum(1.0 / np.log2(r + 2) for r in range(min(len(basket), k)))
    return float(bool(gains)), (sum(gains) / ideal if ideal else 0.0)


def _top_k(scores: np.ndarray, items: Sequence[str], k: int) -> list[str]:
    top = np.argpartition(-scores, k - 1)[:k]
    top = top[np.lexsort((top, -scores[top]))]
    return [items[j] for j in top]


def evaluate_sequence(
    data_dir: str | Path | None = None,
    config: SequenceConfig | None = None,
    k: int = 12,
    max_users: int | None = None,
    transactions: pd.DataFrame | None = None,
    articles: pd.DataFrame | None = None,
    rng: int = 0,
) -> dict[str, Any]:
    """Train and compare the models on the H&M sample; returns metrics per model.

    ``max_users`` evaluates a random subset of the test customers (all by default);
    ``transactions``/``articles`` replace the files read from ``data_dir``.
    """
    if not isinstance(k, int) or k < 1:
        raise InvalidInput(f"k must be a positive integer, got {k!r}")
    if transactions is None or articles is None:
        from fitloop.datasets import hm

        transactions = hm.load_transactions(data_dir) if transactions is None else transactions
        articles = hm.load_articles(data_dir) if articles is None else articles
    config = config or SequenceConfig(embedding_size=64, max_len=20, epochs=20, dropout=0.3, rng=rng)
    train, test = leave_last_day_out(transactions)
    inter = pd.DataFrame(
        {"user_id": train["customer_id"].astype(str), "item_id": train["article_id"].astype(str),
         "ts": train["t_dat"], "kind": "order_completed"}
    )
    t0 = time.perf_counter()
    model = SequenceModel(config)
    model.train(inter, item_tags=hm_item_tags(articles))
    train_s = time.perf_counter() - t0

    items = model.item_ids
    counts = train["article_id"].astype(str).value_counts()
    pop = counts.reindex(items).fillna(0).to_numpy(dtype=float)
    static = StaticProfileScorer(articles, items, pop)
    histories = train.groupby("customer_id", sort=False)["article_id"].apply(lambda s: list(s.astype(str)))
    baskets = test.groupby("customer_id")["article_id"].apply(lambda s: set(s.astype(str)))
    target_day = test.groupby("customer_id")["t_dat"].max()
    users = sorted(baskets.index)
    if max_users is not None and max_users < len(users):
        users = sorted(np.random.default_rng(rng).choice(users, size=max_users, replace=False).tolist())

    pop_top = _top_k(pop, items, k)
    item_pos = {it: i for i, it in enumerate(items)}
    recent_cache: dict[pd.Timestamp, list[str]] = {}
    sums: dict[str, list[float]] = {m: [0.0, 0.0] for m in ("sequence", "static_profile", "popularity", "popularity_recent")}
    reachable = 0
    for u in users:
        hist, basket = histories[u], baskets[u]
        reachable += any(b in item_pos for b in basket)
        day = target_day[u]
        if day not in recent_cache:
            window = train[(train["t_dat"] < day) & (train["t_dat"] >= day - pd.Timedelta(days=28))]
            rc = window["article_id"].astype(str).value_counts().reindex(items).fillna(0).to_numpy(dtype=float)
            recent_cache[day] = _top_k(rc + 1e-6 * pop, items, k)
        ranked = {
            "sequence": [i for i, _ in model.recommend(hist, k)],
            "static_profile": _top_k(static.scores(hist), items, k),
            "popularity": pop_top,
            "popularity_recent": recent_cache[day],
        }
        for m, top in ranked.items():
            hr, ndcg = _rank_metrics(top, basket, k)
            sums[m][0] += hr
            sums[m][1] += ndcg
    n = max(len(users), 1)
    return {
        "protocol": "leave-last-purchase-day-out",
        "k": k,
        "n_test_users": len(users),
        "share_reachable": reachable / n,
        "n_train_purchases": len(train),
        "n_items": len(items),
        "train_seconds": round(train_s, 1),
        "config": config.to_dict(),
        "metrics": {m: {f"hr@{k}": v[0] / n, f"ndcg@{k}": v[1] / n} for m, v in sums.items()},
    }
