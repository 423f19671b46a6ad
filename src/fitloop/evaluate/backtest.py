"""Rolling weekly backtest of the recommender against popularity baselines on one split.

For each of the last ``weeks`` weeks ``w`` of the data: train on everything before ``w``, predict
``k`` items for every customer who buys in ``w`` and score the lists against what they bought.
Baselines run on exactly the same split:

- ``popular_last_week``: the ``k`` best sellers of the week before ``w``;
- ``popular_decayed``: best sellers by a time-decayed count (half-life 7 days);
- ``repurchase_popular``: the customer's own purchases (time-decayed count, half-life 21 days,
  most recent first on ties), then ``popular_decayed``.

>>> import pandas as pd
>>> from fitloop.data import make_interactions
>>> ev = make_interactions(["u1", "u2", "u1"], ["a", "a", "b"], ["2024-01-01", "2024-01-02", "2024-01-10"])
>>> predict = repurchase_popular_baseline(ev, pd.Timestamp("2024-01-08"))
>>> predict(["u1", "new"], 2)
{'u1': ['a'], 'new': ['a']}
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from fitloop.evaluate.metrics import (
    average_precision_at_k,
    catalog_coverage,
    cold_start_recall,
    homogeneity_rate,
    intra_list_diversity,
    ndcg_at_k,
    novelty,
    paired_bootstrap_ci,
    recall_at_k,
)
from fitloop.recommend.frames import DAY, check_items
from fitloop.recommend.pipeline import RecommenderConfig, candidate_recall, train_recommender

__all__ = [
    "BacktestConfig",
    "BacktestResult",
    "run_backtest",
    "popular_last_week_baseline",
    "popular_decayed_baseline",
    "repurchase_popular_baseline",
    "BASELINES",
    "Predictor",
]

Predictor = Callable[[Sequence[str], int], dict[str, list[str]]]
_ATTRS = ("product_type", "colour", "pattern", "department", "garment_group")


def _orders(ev: pd.DataFrame, now: pd.Timestamp) -> pd.DataFrame:
    o = ev.loc[(ev["ts"] < now) & (ev["kind"] == "order_completed")] if "kind" in ev.columns else ev.loc[ev["ts"] < now]
    return o.assign(age=(now - o["ts"]).dt.total_seconds().to_numpy() / 86400.0)


def _ranked(scores: pd.Series, n: int) -> list[str]:
    df = pd.DataFrame({"item_id": scores.index.astype(str), "s": scores.to_numpy()})
    return df.sort_values(["s", "item_id"], ascending=[False, True], kind="mergesort")["item_id"].head(n).tolist()


def popular_last_week_baseline(interactions: pd.DataFrame, now: pd.Timestamp) -> Predictor:
    """Everyone gets the best sellers of the 7 days before ``now``."""
    o = _orders(interactions, now)
    last = o.loc[o["age"] <= 7.0]
    top = _ranked((last if not last.empty else o).groupby("item_id").size().astype(float), 200)
    return lambda users, k: {u: top[:k] for u in users}


def popular_decayed_baseline(interactions: pd.DataFrame, now: pd.Timestamp, half_life_days: float = 7.0) -> Predictor:
    """Everyone gets the best sellers by ``sum(0.5 ** (age / half_life))``."""
    o = _orders(interactions, now)
    s = pd.Series(np.power(0.5, o["age"].to_numpy() / half_life_days), index=o["item_id"].to_numpy()).groupby(level=0).sum()
    top = _ranked(s, 200)
    return lambda users, k: {u: top[:k] for u in users}


def repurchase_popular_baseline(interactions: pd.DataFrame, now: pd.Timestamp, half_life_days: float = 21.0) -> Predictor:
    """The customer's own items by decayed count, then :func:`popular_decayed_baseline`'s list."""
    o = _orders(interactions, now)
    pop = popular_decayed_baseline(interactions, now)
    o = o.assign(w=np.power(0.5, o["age"].to_numpy() / half_life_days))
    g = o.groupby(["user_id", "item_id"], as_index=False).agg(w=("w", "sum"), age=("age", "min"))
    g = g.sort_values(["user_id", "w", "age", "item_id"], ascending=[True, False, True, True], kind="mergesort")
    own = g.groupby("user_id", sort=False)["item_id"].agg(list).to_dict()

    def predict(users: Sequence[str], k: int) -> dict[str, list[str]]:
        fill = pop(["_"], k * 2)["_"]
        out = {}
        for u in users:
            lst = list(own.get(u, []))[:k]
            lst += [i for i in fill if i not in lst][: k - len(lst)]
            out[u] = lst
        return out

    return predict


BASELINES: dict[str, Callable[[pd.DataFrame, pd.Timestamp], Predictor]] = {
    "popular_last_week": popular_last_week_baseline,
    "popular_decayed": popular_decayed_baseline,
    "repurchase_popular": repurchase_popular_baseline,
}


@dataclass(frozen=True)
class BacktestConfig:
    """``weeks`` test weeks ending at ``end`` (exclusive; default: the day after the last event)."""

    weeks: int = 16
    k: int = 12
    week_days: int = 7
    end: str | None = None
    n_boot: int = 2000
    alpha: float = 0.05
    rng: int = 0
    reference_baseline: str = "repurchase_popular"


@dataclass
class BacktestResult:
    """Per-week metrics per method, per-customer AP for paired comparisons, and what the model learned."""

    config: BacktestConfig
    per_week: pd.DataFrame
    ap: dict[str, list[float]]
    feature_importance: dict[str, float] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    model_info: dict[str, Any] = field(default_factory=dict)
    methods: list[str] = field(default_factory=list)
    baselines: list[str] = field(default_factory=list)

    def summary(self) -> pd.DataFrame:
        """Mean over weeks of every metric per method, plus MAP@k pooled over customers."""
        pw = self.per_week
        m = pw.drop(columns=["week", "n_pairs", "n_recalled"], errors="ignore").groupby("method", sort=False).mean(numeric_only=True)
        m["map_pooled"] = [float(np.mean(self.ap[x])) if self.ap[x] else float("nan") for x in m.index]
        m["n_customers"] = pw.groupby("method", sort=False)["n_customers"].sum()
        if "n_pairs" in pw.columns:  # candidate recall pooled over weeks: recalled purchases / all purchases
            g = pw.groupby("method", sort=False)[["n_pairs", "n_recalled"]].sum()
            m["cand_recall"] = (g["n_recalled"] / g["n_pairs"].where(g["n_recalled"] > 0)).reindex(m.index)
        return m.loc[[x for x in self.methods if x in m.index]]

    def strongest_baseline(self) -> str:
        s = self.summary()
        return str(s.loc[self.baselines, "map"].idxmax())

    def comparison(self, method: str = "fitloop") -> dict[str, Any]:
        """MAP@k of ``method`` against the strongest baseline: paired bootstrap CI and ratios."""
        best = self.strongest_baseline()
        d, lo, hi = paired_bootstrap_ci(self.ap[method], self.ap[best], self.config.n_boot, self.config.alpha, self.config.rng)
        s = self.summary()
        ref = self.config.reference_baseline
        return {
            "method": method,
            "strongest_baseline": best,
            "map_diff": d,
            "ci_low": lo,
            "ci_high": hi,
            "ci_level": 1 - self.config.alpha,
            "ratio_vs_strongest": float(s.loc[method, "map"] / s.loc[best, "map"]) if s.loc[best, "map"] > 0 else float("nan"),
            "ratio_vs_reference": float(s.loc[method, "map"] / s.loc[ref, "map"]) if ref in s.index and s.loc[ref, "map"] > 0 else float("nan"),
            "reference_baseline": ref,
            "homogeneity_method": float(s.loc[method, "homogeneity"]),
            "homogeneity_baseline": float(s.loc[best, "homogeneity"]),
            "n_pairs": len(self.ap[method]),
        }


def _score_week(method: str, week: str, lists: Mapping[str, list[str]], actual: Mapping[str, set[str]], k: int,
                catalog_size: int, attrs: Mapping[str, tuple[object, ...]], pop: Mapping[str, int], n_users: int,
                last_types: Mapping[str, str], item_type: Mapping[str, str], cold: set[str]) -> tuple[dict[str, Any], list[float]]:
    users = sorted(actual)
    preds = [lists.get(u, [])[:k] for u in users]
    acts = [actual[u] for u in users]
    aps = [average_precision_at_k(a, p, k) for a, p in zip(acts, preds, strict=True)]
    row = {
        "week": week,
        "method": method,
        "n_customers": len(users),
        "map": float(np.mean(aps)),
        "recall": float(np.mean([recall_at_k(a, p, k) for a, p in zip(acts, preds, strict=True)])),
        "ndcg": float(np.mean([ndcg_at_k(a, p, k) for a, p in zip(acts, preds, strict=True)])),
        "coverage": catalog_coverage(preds, catalog_size),
        "diversity": intra_list_diversity(preds, attrs),
        "novelty": novelty(preds, pop, n_users),
        "homogeneity": homogeneity_rate(preds, [last_types.get(u) for u in users], item_type),
        "cold_recall": cold_start_recall(acts, preds, cold, k),
    }
    return row, aps


def run_backtest(
    interactions: pd.DataFrame,
    items: pd.DataFrame,
    config: BacktestConfig | None = None,
    variants: Mapping[str, RecommenderConfig] | None = None,
    progress: Callable[[str], None] | None = None,
) -> BacktestResult:
    """Run the rolling backtest; ``variants`` maps method names to recommender configs (default: ``fitloop``)."""
    cfg = config or BacktestConfig()
    say = progress or (lambda _msg: None)
    items = check_items(items)
    variants = dict(variants or {"fitloop": RecommenderConfig()})
    ev = interactions.loc[interactions["item_id"].isin(items["item_id"])]
    end = pd.Timestamp(cfg.end) if cfg.end else pd.Timestamp(ev["ts"].max()).normalize() + DAY
    week = pd.Timedelta(days=cfg.week_days)
    type_of = items.set_index("item_id")["product_type"].astype(str).to_dict() if "product_type" in items.columns else {}
    attr_cols = [c for c in _ATTRS if c in items.columns]
    rows: list[dict[str, Any]] = []
    ap: dict[str, list[float]] = {m: [] for m in [*variants, *BASELINES]}
    timings: dict[str, float] = {m: 0.0 for m in ap}
    importance: dict[str, float] = {}
    info: dict[str, Any] = {}
    for w in range(cfg.weeks, 0, -1):
        start = end - w * week
        label = str(start.date())
        test = ev.loc[(ev["ts"] >= start) & (ev["ts"] < start + week) & (ev["kind"] == "order_completed")]
        if test.empty:
            continue
        train = ev.loc[ev["ts"] < start]
        orders = train.loc[train["kind"] == "order_completed"]
        actual = test.groupby("user_id")["item_id"].agg(set).to_dict()
        buyers = sorted(actual)
        cold = set(test["item_id"]) - set(train["item_id"])
        pop = orders.groupby("item_id")["user_id"].nunique().to_dict()
        n_users = max(int(orders["user_id"].nunique()), 1)
        last = orders.sort_values("ts", kind="mergesort").drop_duplicates("user_id", keep="last").set_index("user_id")["item_id"]
        last_types = {u: type_of[i] for u, i in last.items() if i in type_of}
        recommended = set()
        lists_by_method: dict[str, dict[str, list[str]]] = {}
        recall_by_method: dict[str, dict[str, int]] = {}
        for name, rc in variants.items():
            say(f"week {label}: training {name}")
            t0 = time.perf_counter()
            rec = train_recommender(train, items, rc, as_of=start - DAY, users=buyers)
            lists_by_method[name] = rec.recommend_batch(buyers, cfg.k)
            timings[name] += time.perf_counter() - t0
            # Not timed: these are next week's ranker training rows, computed here a week early.
            recall_by_method[name] = candidate_recall(ev, items, rc, week_start=start)
            if w == 1 and name == next(iter(variants)):  # the first variant is the one reported
                importance = rec.feature_importance
                info = rec.info
        for name, make in BASELINES.items():
            t0 = time.perf_counter()
            lists_by_method[name] = make(train, start)(buyers, cfg.k)
            timings[name] += time.perf_counter() - t0
        for lists in lists_by_method.values():
            for lst in lists.values():
                recommended.update(lst)
        attrs = {}
        if attr_cols:
            sub = items.loc[items["item_id"].isin(recommended), ["item_id", *attr_cols]]
            attrs = {r[0]: tuple(r[1:]) for r in sub.itertuples(index=False, name=None)}
        for name, lists in lists_by_method.items():
            row, aps = _score_week(name, label, lists, actual, cfg.k, len(items), attrs, pop, n_users, last_types,
                                   type_of, cold)
            cr = recall_by_method.get(name)
            row["cand_recall"] = cr["recalled"] / cr["pairs"] if cr and cr["pairs"] else float("nan")
            row["n_pairs"], row["n_recalled"] = (cr["pairs"], cr["recalled"]) if cr else (0, 0)
            rows.append(row)
            ap[name].extend(aps)
        say(f"week {label}: " + ", ".join(f"{r['method']} {r['map']:.4f}" for r in rows[-len(lists_by_method):]))
    return BacktestResult(config=cfg, per_week=pd.DataFrame(rows), ap=ap, feature_importance=importance,
                          timings=timings, model_info=info, methods=list(ap), baselines=list(BASELINES))
