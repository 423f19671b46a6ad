"""Why does diversity cost the bandit reward? Counterfactual slates under one shared state.

    /work/venv/bin/python benchmarks/online_loop_slates.py --seeds 1 2 3     # about 2 CPU-minutes a seed

The context + bandit arm of the online loop (fitloop.evaluate.online_loop) runs as usual. At every
request the same candidates also go through MMR and/or exposure memory in front of the *same*
bandit (same learned state, same exploration dice), and every resulting slate is scored with the
simulator's hidden truth: the true utility and click probability of what it shows, the mean
original rank (in the context-boosted recommender list) of the shown items, the overlap with the
bandit's own slate, and the intra-list similarity. The loop comparison in
docs/evaluation/online_loop.md says what a stage costs over four weeks; this says where the cost
comes from in one decision, free of the run-to-run divergence of separate arms.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import pandas as pd

from fitloop.catalog.features import ItemFeatures
from fitloop.catalog.season_suitability import SuitabilityModel
from fitloop.data import Context, ScoredItem
from fitloop.evaluate.online_loop import ArmSetup, OnlineLoopConfig, run_online_loop
from fitloop.evaluate.simulator import ShopConfig
from fitloop.rerank import (
    BanditConfig,
    ContextBoost,
    ExposureMemory,
    LinUCBBandit,
    MMRDiversifier,
    intra_list_similarity,
)
from fitloop.rerank.diversity import PaddedRows

LAMBDAS = (0.7, 0.8, 0.9)


class Counterfactual:
    """Serves context + bandit; scores what MMR / exposure in front of the same bandit would have shown."""

    def __init__(self, setup: ArmSetup, stats: dict[str, dict[str, float]]) -> None:
        cat = setup.catalog
        self.shop = setup.shop
        self.stats = stats
        self.boost = ContextBoost(cat, SuitabilityModel.default())
        feats = ItemFeatures.fit(list(cat.values()))
        padded = PaddedRows.build(feats)
        self.pairwise = padded.pairwise if padded is not None else feats.pairwise
        self.mmr = {lam: MMRDiversifier(feats, lam, catalog=cat) for lam in LAMBDAS}
        self.exposure = ExposureMemory(cat)
        self.bandit = LinUCBBandit(replace(BanditConfig(), reward=setup.reward, rng=setup.seed), catalog=cat)

    def rerank(self, ctx: Context, candidates: Sequence[ScoredItem], n: int, *, user_id: str | None = None,
               request_id: str | None = None) -> list[ScoredItem]:
        kw: dict[str, Any] = {"user_id": user_id, "request_id": request_id}
        base = self.boost.rerank(ctx, candidates, len(candidates), **kw)
        m = len(base)
        lists: dict[str, list[ScoredItem] | None] = {"recommender + context, top k (no bandit)": None,
                                                     "context + bandit (served)": base,
                                                     "exposure → bandit": self.exposure.rerank(ctx, base, m, **kw)}
        for lam, mmr in self.mmr.items():
            d = mmr.rerank(ctx, base, m, **kw)
            lists[f"MMR λ={lam:g} → bandit"] = d
            lists[f"MMR λ={lam:g} → exposure → bandit"] = self.exposure.rerank(ctx, d, m, **kw)
        assert user_id is not None and ctx.day is not None
        day = (ctx.day - self.shop.config.start).days
        rank = {c.item_id: r for r, c in enumerate(base)}
        served: list[ScoredItem] = []
        served_ids: set[str] = set()
        for name, lst in lists.items():
            slate = base[:n] if lst is None else self.bandit.rerank(ctx, lst, n, **kw)
            ids = [s.item_id for s in slate]
            if lst is base:
                served, served_ids = slate, set(ids)
            st = self.stats.setdefault(name, {"impressions": 0, "slates": 0, "true_utility": 0.0, "click_p": 0.0,
                                              "rank": 0.0, "overlap": 0.0, "similarity": 0.0, "top_kept": 0})
            st["impressions"] += len(ids)
            st["slates"] += 1
            st["true_utility"] += float(self.shop.true_utility(user_id, ids, day).sum())
            st["click_p"] += float(self.shop.click_probability(user_id, ids, day).sum())
            st["rank"] += sum(rank[i] for i in ids)
            st["similarity"] += intra_list_similarity(ids, self.pairwise)
            if served:
                st["overlap"] += len(served_ids & set(ids))
                st["top_kept"] += int(served[0].item_id in ids)
        return served

    def learn_one(self, feedback: Any) -> None:
        self.exposure.learn_one(feedback)
        self.bandit.learn_one(feedback)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    p.add_argument("--days", type=int, default=28)
    args = p.parse_args(argv)
    rows = []
    for seed in args.seeds:
        t0 = time.perf_counter()
        stats: dict[str, dict[str, float]] = {}
        shop = ShopConfig(n_items=1500, n_shoppers=600, n_events=60_000, n_days=28, seed=seed, target_ctr=0.03)
        cfg = OnlineLoopConfig(days=args.days, shoppers_per_day=150, k=12, n_candidates=60, retrain_every_days=7,
                               seed=seed, keep_impressions=False)
        def factory(setup: ArmSetup, st: dict[str, dict[str, float]] = stats) -> Counterfactual:
            return Counterfactual(setup, st)

        run_online_loop(shop, {"counterfactual": factory}, cfg)
        for name, st in stats.items():
            imp = st["impressions"]
            rows.append({"seed": seed, "slate": name, "true utility / impression": st["true_utility"] / imp,
                         "click probability": st["click_p"] / imp, "mean original rank": st["rank"] / imp,
                         "overlap with the bandit's slate": st["overlap"] / imp,
                         "bandit's first pick kept": st["top_kept"] / st["slates"],
                         "intra-list similarity": st["similarity"] / st["slates"]})
        print(f"seed {seed}: {time.perf_counter() - t0:.0f} s", flush=True)
    df = pd.DataFrame(rows)
    mean = df.groupby("slate", sort=False).mean(numeric_only=True).drop(columns="seed")
    fmt = {"true utility / impression": "{:.3f}", "click probability": "{:.2%}", "mean original rank": "{:.1f}",
           "overlap with the bandit's slate": "{:.0%}", "bandit's first pick kept": "{:.0%}",
           "intra-list similarity": "{:.3f}"}
    print(f"\nMean over seeds {', '.join(map(str, args.seeds))} ({args.days} online days, every request):\n")
    print("| slate | " + " | ".join(fmt) + " |")
    print("|---|" + "---:|" * len(fmt))
    for name, row in mean.iterrows():
        print(f"| {name} | " + " | ".join(f.format(row[c]) for c, f in fmt.items()) + " |")
    per = df.pivot(index="slate", columns="seed", values="true utility / impression").reindex(mean.index)
    print("\nTrue utility / impression per seed:\n")
    print(per.round(3).to_string())


if __name__ == "__main__":
    main()
