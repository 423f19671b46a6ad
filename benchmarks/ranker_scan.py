"""Fast scan of ranker-only settings on the validation windows (never the test weeks).

    nice -n 10 /work/venv/bin/python benchmarks/ranker_scan.py [--window A B] [--setting defaults blend_0.5 ...]

``benchmarks/tune_ranker.py`` backtests each variant through the whole pipeline (a few minutes per
variant and window). Settings that change only the ranker -- LightGBM parameters, per-week training
weights, monotone constraints, seed bagging, blending the ranker's order with the repurchase
baseline's -- leave the candidates and their features unchanged, so this script builds them once per
week (the same code as the pipeline: :func:`~fitloop.recommend.pipeline.generate_candidates`,
:func:`~fitloop.recommend.features.build_features`), caches them as parquet under ``--cache`` and then
only retrains the ranker per setting and week. Lists are served by a real
:class:`~fitloop.recommend.Recommender` (homogeneity cap and popular fill included) and scored like
:func:`~fitloop.evaluate.backtest.run_backtest`: MAP@12 per customer-week, paired bootstrap CI against
the repurchase + popularity baseline and against ``defaults``.

Windows (as in ``tune_ranker.py``): A = the 16 weeks that end where the 16 test weeks of ``fitloop
evaluate --dataset hm`` begin, B = the 16 weeks before A. Only transactions before the end of the
window are loaded, so the test weeks cannot leak into a choice. A setting found here is confirmed
through the real pipeline with ``tune_ranker.py`` before it becomes a default.

For the defaults it reproduces the real pipeline's figures exactly (window A: MAP@12 0.0290 vs 0.0220 for
the baseline, 14/16 weeks won; B: 0.0247 vs 0.0187, 12/16). Building the week cache takes ~4 s a week
(72 weeks for both windows), each setting then ~1-2 min per window on one core. Results are appended to
``--out`` (default ``benchmarks/results/ranker_scan.jsonl``); the readings and what they led to are in
``docs/evaluation/recommend_tuning.md``.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from fitloop.datasets import hm
from fitloop.evaluate.backtest import repurchase_popular_baseline
from fitloop.evaluate.metrics import average_precision_at_k, homogeneity_rate, paired_bootstrap_ci
from fitloop.recommend import RecommenderConfig, articles_frame, transactions_frame
from fitloop.recommend.candidates import PopularCandidates
from fitloop.recommend.candidates.base import decay
from fitloop.recommend.features import build_features, feature_columns
from fitloop.recommend.frames import DAY, TrainData, check_items
from fitloop.recommend.pipeline import Recommender, _content_of, _fit_sources, _prepare_events, generate_candidates
from fitloop.recommend.ranker import LambdaRanker, RankerConfig

WEEK = pd.Timedelta(days=7)
K = 12


# --------------------------------------------------------------------------- per-week cache


def _week_path(cache: Path, start: pd.Timestamp) -> Path:
    return cache / f"{start.date()}.parquet"


def build_week(ev: pd.DataFrame, items: pd.DataFrame, cfg: RecommenderConfig, start: pd.Timestamp
               ) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Candidates + features of every known buyer of the week from ``start`` (sources fitted before it).

    As the pipeline does for a label week, but keeping buyers without a bought candidate too (they are
    scored when the week is an evaluation week; training drops them like the pipeline does). Extra
    columns ``bl_own`` / ``bl_rank``: the repurchase baseline's own score and its order among the
    candidates. ``meta``: every buyer's purchases, the popular list, last product types, baseline lists.
    """
    data = TrainData.build(ev, items, start, dict(cfg.event_weights), cfg.target_kinds)
    lab = ev.loc[(ev["ts"] >= start) & (ev["ts"] < start + WEEK) & ev["kind"].isin(cfg.target_kinds)]
    actual = lab.groupby("user_id")["item_id"].agg(lambda s: sorted(set(s))).to_dict()
    known = set(data.events["user_id"].unique())
    buyers = sorted(set(actual) & known)
    sources = _fit_sources(cfg, data)
    cands = generate_candidates(sources, buyers)
    pos = set(zip(lab["user_id"], lab["item_id"], strict=True))
    cands["label"] = [int((u, i) in pos) for u, i in zip(cands["user_id"], cands["item_id"], strict=True)]
    feats = build_features(cands, data, _content_of(sources))
    p = data.purchases
    own = pd.Series(decay(p["age_days"], 21.0), index=pd.MultiIndex.from_arrays([p["user_id"], p["item_id"]])
                    ).groupby(level=[0, 1]).sum().rename("bl_own")
    feats = feats.join(own, on=["user_id", "item_id"])
    feats["bl_own"] = feats["bl_own"].fillna(0.0)
    feats["bl_rank"] = baseline_rank(feats)
    popular = next(s for s in sources if isinstance(s, PopularCandidates))
    last = p.sort_values(["ts"], kind="mergesort").drop_duplicates("user_id", keep="last").set_index("user_id")["item_id"]
    orders = ev.loc[(ev["ts"] < start) & (ev["kind"] == "order_completed")]
    meta = {
        "actual": actual,
        "popular": [i for i, _ in popular.popular("", cfg.popular.list_size)],
        "popular_scores": [float(s) for _, s in popular.popular("", cfg.popular.list_size)],
        "last_item": {u: last[u] for u in actual if u in last.index},
        "baseline": repurchase_popular_baseline(orders, start)(sorted(actual), K),
    }
    return feats, meta


def baseline_rank(f: pd.DataFrame) -> np.ndarray:
    """Position of each candidate in the repurchase baseline's order for its shopper (0 = first).

    The baseline lists the shopper's own items by decayed count (half-life 21 days), most recent on
    ties, then the best sellers by decayed count (``i_pop_decay``, half-life 7 days).
    """
    key = pd.DataFrame({"user_id": f["user_id"].to_numpy(), "own": -(f["bl_own"].to_numpy() > 0).astype(float),
                        "w": -f["bl_own"].to_numpy(), "age": f["ui_days_since"].fillna(1e9).to_numpy(),
                        "pop": -f["i_pop_decay"].to_numpy(), "item_id": f["item_id"].to_numpy()})
    order = key.sort_values(["user_id", "own", "w", "age", "pop", "item_id"], kind="mergesort").index
    rank = np.empty(len(f))
    rank[order] = key.loc[order].groupby("user_id", sort=False).cumcount().to_numpy()
    return rank


def load_weeks(ev: pd.DataFrame, items: pd.DataFrame, starts: list[pd.Timestamp], cache: Path,
               say: Callable[[str], None]) -> dict[pd.Timestamp, tuple[pd.DataFrame, dict[str, Any]]]:
    cache.mkdir(parents=True, exist_ok=True)
    cfg = RecommenderConfig()
    out = {}
    for s in starts:
        path = _week_path(cache, s)
        if not path.exists():
            t0 = time.perf_counter()
            f, meta = build_week(ev.loc[ev["ts"] < s + WEEK], items, cfg, s)
            f.to_parquet(path)
            path.with_suffix(".json").write_text(json.dumps(meta), encoding="utf-8")
            say(f"week {s.date()}: {len(f)} rows, {int(f['label'].sum())} bought candidates ({time.perf_counter() - t0:.0f}s)")
        out[s] = (pd.read_parquet(path), json.loads(path.with_suffix(".json").read_text(encoding="utf-8")))
    return out


# --------------------------------------------------------------------------- settings


@dataclass(frozen=True)
class Setting:
    """What a scanned variant changes: the ranker config, plus the ranker-only knobs tried here.

    ``recency_half_life``: label weeks weighted by ``0.5 ** (weeks back / half_life)`` (0: equal);
    ``monotone``: feature -> +1 / -1 constraint; ``seeds``: rankers averaged (by rank) over these
    seeds; ``blend``: weight of the baseline's order in a reciprocal-rank fusion with the ranker's
    (0: the ranker alone), ``blend_k``: the fusion's rank offset; ``extra_features``: cached columns
    (e.g. ``bl_own``, ``bl_rank``) given to the ranker as features.
    """

    ranker: RankerConfig = RankerConfig()
    recency_half_life: float = 0.0
    monotone: tuple[tuple[str, int], ...] = ()
    seeds: tuple[int, ...] = (0,)
    blend: float = 0.0
    blend_k: float = 10.0
    extra_features: tuple[str, ...] = ()


MONO = (("ui_n", 1), ("ui_code_n", 1), ("i_pop_1w", 1), ("i_pop_decay", 1), ("ui_days_since", -1),
        ("src_repeat_score", 1), ("i_days_since_last", -1))

SETTINGS: dict[str, Setting] = {
    "defaults": Setting(),
    **{f"blend_{w}": Setting(blend=w) for w in (0.1, 0.25, 0.5)},
    "monotone": Setting(monotone=MONO),
    **{f"recency_{h}": Setting(recency_half_life=float(h)) for h in (10, 20)},
    "bag5": Setting(seeds=(0, 1, 2, 3, 4), ranker=replace(RankerConfig(), feature_fraction=0.8)),
    "feat_bl_rank": Setting(extra_features=("bl_rank",)),
    "feat_bl_own": Setting(extra_features=("bl_own",)),
}


def _train(x: pd.DataFrame, y: np.ndarray, groups: list[int], weight: np.ndarray | None, st: Setting, seed: int) -> Any:
    """LambdaRanker.train's LightGBM call (same parameters), plus weights and monotone constraints."""
    import lightgbm as lgb

    c = replace(st.ranker, rng=seed)
    params: dict[str, Any] = {
        "objective": c.objective, "metric": "ndcg" if c.objective == "lambdarank" else "binary_logloss",
        "eval_at": [c.eval_at], "learning_rate": c.learning_rate, "num_leaves": c.num_leaves,
        "min_data_in_leaf": c.min_child_samples, "lambda_l2": c.reg, "feature_fraction": c.feature_fraction,
        "bagging_fraction": 1.0, "lambdarank_truncation_level": 20, "seed": c.rng, "deterministic": True,
        "force_row_wise": True, "num_threads": 1, "verbose": -1,
    }
    if st.monotone:
        m = dict(st.monotone)
        params["monotone_constraints"] = [m.get(col, 0) for col in x.columns]
        params["monotone_constraints_method"] = "advanced"
    ds = lgb.Dataset(x.to_numpy(dtype=np.float64), label=y.astype(np.float64), weight=weight,
                     group=groups if c.objective == "lambdarank" else None, feature_name=list(x.columns))
    return lgb.train(params, ds, num_boost_round=c.n_estimators)


def _columns(df: pd.DataFrame, st: Setting) -> list[str]:
    drop = set(st.ranker.exclude_features)
    return [c for c in sorted(feature_columns(df)) if c not in drop] + list(st.extra_features)


def _rank_in_user(users: np.ndarray, score: np.ndarray, item: np.ndarray) -> np.ndarray:
    df = pd.DataFrame({"u": users, "s": -score, "i": item})
    order = df.sort_values(["u", "s", "i"], kind="mergesort").index
    r = np.empty(len(df))
    r[order] = df.loc[order].groupby("u", sort=False).cumcount().to_numpy()
    return r


def score_week(weeks: Mapping[pd.Timestamp, tuple[pd.DataFrame, dict[str, Any]]], start: pd.Timestamp, st: Setting,
               item_ctx: dict[str, Any], default_model: bool = False) -> dict[str, list[str]]:
    """Train on the label weeks before ``start``, rank the week's candidates, serve 12 per buyer."""
    label_weeks = [start - w * WEEK for w in range(st.ranker.label_weeks, 0, -1)]
    parts = []
    for i, s in enumerate(label_weeks):
        f = weeks[s][0]
        f = f.loc[f.groupby("user_id")["label"].transform("max") > 0]
        parts.append(f.assign(_back=float(len(label_weeks) - i)))
    tr = pd.concat(parts, ignore_index=True)  # weeks in order, users sorted within: the pipeline's order
    cols = _columns(tr, st)
    groups = tr.groupby(["_back", "user_id"], sort=False).size().tolist()
    weight = (0.5 ** (tr["_back"].to_numpy() / st.recency_half_life)) if st.recency_half_life > 0 else None
    f, meta = weeks[start]
    if default_model:  # the library's own ranker, to check that _train reproduces it
        r = LambdaRanker(st.ranker)
        r.train(tr[cols], tr["label"].to_numpy(), groups)
        score = r.score(f)
    else:
        score = np.zeros(len(f))
        for seed in st.seeds:
            b = _train(tr[cols], tr["label"].to_numpy(), groups, weight, st, seed)
            s = np.asarray(b.predict(f[cols].to_numpy(dtype=np.float64), num_threads=1))
            score += -_rank_in_user(f["user_id"].to_numpy(), s, f["item_id"].to_numpy()) if len(st.seeds) > 1 else s
    if st.blend > 0:
        r1 = _rank_in_user(f["user_id"].to_numpy(), score, f["item_id"].to_numpy())
        score = 1.0 / (st.blend_k + 1.0 + r1) + st.blend / (st.blend_k + 1.0 + f["bl_rank"].to_numpy())
    return serve(f, score, meta, item_ctx)


def serve(f: pd.DataFrame, score: np.ndarray, meta: dict[str, Any], ctx: dict[str, Any]) -> dict[str, list[str]]:
    """12 items per buyer from a real Recommender (store_n, homogeneity cap and popular fill as trained)."""
    cfg = RecommenderConfig()
    c = pd.DataFrame({"user_id": f["user_id"].to_numpy(), "item_id": f["item_id"].to_numpy(), "score": score,
                      "reason": f["reason"].to_numpy(), "anchor": f["anchor"].to_numpy()})
    c = c.sort_values(["user_id", "score", "item_id"], ascending=[True, False, True], kind="mergesort")
    c = c.loc[c.groupby("user_id", sort=False).cumcount() < cfg.store_n]
    idx = ctx["index"]
    users, counts = np.unique(c["user_id"].to_numpy().astype(str), return_counts=True)
    last = meta["last_item"]
    rec = Recommender(
        config=cfg, item_ids=ctx["ids"], item_titles=ctx["titles"], item_type=ctx["types"], type_names=[],
        user_ids=users.tolist(), user_indptr=np.concatenate([[0], np.cumsum(counts)]).astype(int).tolist(),
        list_items=c["item_id"].map(idx).astype(int).tolist(), list_scores=c["score"].astype(float).tolist(),
        list_reasons=c["reason"].astype(int).tolist(), list_anchors=c["anchor"].map(idx).fillna(-1).astype(int).tolist(),
        user_last_type=[ctx["types"][idx[last[u]]] if u in last else -1 for u in users.tolist()],
        popular={"": ([idx[i] for i in meta["popular"]], meta["popular_scores"])},
        trained_until="", created_at="scan", version="scan")
    return rec.recommend_batch(sorted(meta["actual"]), K)


# --------------------------------------------------------------------------- windows and scoring


def window_starts(end: pd.Timestamp, test_weeks: int, val_weeks: int, offset: int) -> list[pd.Timestamp]:
    val_end = end - pd.Timedelta(weeks=test_weeks + offset)
    return [val_end - w * WEEK for w in range(val_weeks, 0, -1)]


def evaluate(weeks: Mapping[pd.Timestamp, tuple[pd.DataFrame, dict[str, Any]]], starts: list[pd.Timestamp], st: Setting,
             ctx: dict[str, Any], default_model: bool = False) -> dict[str, Any]:
    ap: list[float] = []
    ap_base: list[float] = []
    per_week = []
    homog = []
    for s in starts:
        lists = score_week(weeks, s, st, ctx, default_model)
        meta = weeks[s][1]
        users = sorted(meta["actual"])
        a = [average_precision_at_k(meta["actual"][u], lists.get(u, []), K) for u in users]
        b = [average_precision_at_k(meta["actual"][u], meta["baseline"][u], K) for u in users]
        ap += a
        ap_base += b
        per_week.append((float(np.mean(a)), float(np.mean(b))))
        lt = [ctx["type_of"].get(meta["last_item"].get(u, ""), None) for u in users]
        homog.append(homogeneity_rate([lists.get(u, []) for u in users], lt, ctx["type_of"]))
    pw = np.array(per_week)
    return {"ap": ap, "ap_base": ap_base, "map": float(pw[:, 0].mean()), "map_base": float(pw[:, 1].mean()),
            "weeks_won": int((pw[:, 0] > pw[:, 1]).sum()), "homogeneity": float(np.mean(homog))}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data-dir", type=Path, default=None)
    ap.add_argument("--window", nargs="+", default=["A", "B"], choices=["A", "B"])
    ap.add_argument("--setting", nargs="+", default=list(SETTINGS), choices=sorted(SETTINGS))
    ap.add_argument("--test-weeks", type=int, default=16, help="the weeks fitloop evaluate reports (never loaded)")
    ap.add_argument("--val-weeks", type=int, default=16)
    ap.add_argument("--cache", type=Path, default=Path("/tmp/fitloop_ranker_scan"))
    ap.add_argument("--check", action="store_true", help="also score the defaults with the library's LambdaRanker")
    ap.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "results" / "ranker_scan.jsonl",
                    help="append one JSON line per (window, setting) here")
    args = ap.parse_args()

    tx = transactions_frame(hm.load_transactions(args.data_dir))
    items = check_items(articles_frame(hm.load_articles(args.data_dir)))
    end = pd.Timestamp(tx["ts"].max()).normalize() + DAY
    tx = tx.loc[tx["ts"] < end - pd.Timedelta(weeks=args.test_weeks)]  # the test weeks are never loaded
    ev = _prepare_events(tx.loc[tx["item_id"].isin(items["item_id"])])
    codes, _ = pd.factorize(items["product_type"].fillna("").astype(str), sort=True)
    ctx = {"ids": items["item_id"].tolist(), "titles": items["title"].tolist(), "types": codes.tolist(),
           "index": {i: n for n, i in enumerate(items["item_id"].tolist())},
           "type_of": items.set_index("item_id")["product_type"].astype(str).to_dict()}
    max_weeks = max([RankerConfig().label_weeks] + [s.ranker.label_weeks for s in SETTINGS.values()])
    for wname in args.window:
        starts = window_starts(end, args.test_weeks, args.val_weeks, 0 if wname == "A" else args.val_weeks)
        need = sorted({s - w * WEEK for s in starts for w in range(max_weeks + 1)})
        weeks = load_weeks(ev, items, need, args.cache, print)
        ref = evaluate(weeks, starts, SETTINGS["defaults"], ctx)
        print(f"window {wname} ({starts[0].date()} .. {starts[-1].date()}): baseline MAP@12 {ref['map_base']:.4f}")
        if args.check:
            chk = evaluate(weeks, starts, SETTINGS["defaults"], ctx, default_model=True)
            print(f"  check: library LambdaRanker {chk['map']:.4f} vs scan trainer {ref['map']:.4f}")
        for name in args.setting:
            t0 = time.perf_counter()
            r = ref if name == "defaults" else evaluate(weeks, starts, SETTINGS[name], ctx)
            d, lo, hi = paired_bootstrap_ci(r["ap"], r["ap_base"], 2000, 0.05, 0)
            dr, lor, hir = paired_bootstrap_ci(r["ap"], ref["ap"], 2000, 0.05, 0)
            print(f"  {name:<16} MAP {r['map']:.4f} ({r['map'] / r['map_base']:.2f}x) vs base {d:+.4f} [{lo:+.4f}, {hi:+.4f}]"
                  f" vs defaults {dr:+.4f} [{lor:+.4f}, {hir:+.4f}] won {r['weeks_won']}/{len(starts)}"
                  f" homog {r['homogeneity']:.3f} ({time.perf_counter() - t0:.0f}s)", flush=True)
            if args.out:
                with args.out.open("a", encoding="utf-8") as fh:
                    fh.write(json.dumps({"when": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
                                         "window": wname, "weeks": f"{starts[0].date()} .. {starts[-1].date()}",
                                         "setting": name, "n_customer_weeks": len(r["ap"]), "map": r["map"], "map_base": r["map_base"],
                                         "vs_base": [d, lo, hi], "vs_defaults": [dr, lor, hir],
                                         "weeks_won": r["weeks_won"], "homogeneity": r["homogeneity"]}) + "\n")


if __name__ == "__main__":
    main()
