"""The online loop on the simulated shop: static ranking vs + context vs + context/diversity/bandit.

    /work/venv/bin/python benchmarks/online_loop.py                  # 3 seeds, writes docs + plots
    /work/venv/bin/python benchmarks/online_loop.py --seeds 1 --days 7 --no-write   # a quick look
    # what docs/evaluation/online_loop.md reports: ablations and the MMR λ curve, 4 seeds
    /work/venv/bin/python benchmarks/online_loop.py --seeds 1 2 3 4 --ablation --lambdas 0.7 0.8 --jobs 4

For each seed, three arms run on identical copies of the same simulated shop (same seed, same
visitors each day, same dice per shopper-day; see fitloop.evaluate.online_loop): the trained
recommender alone, the recommender + ContextBoost (weather of the shopper's city and day), and the
recommender + ContextBoost + MMR diversity + exposure memory + LinUCB bandit learning online from
clicks, carts, orders and (late) returns. The recommender is retrained every week on each arm's own
accumulated events. Prints a table per seed and the mean over seeds with a 95 % interval of the
difference to the static arm (paired by seed), writes docs/evaluation/online_loop.md (the
measured part between the markers) and docs/evaluation/img/online_loop_*.png. ``--ablation`` adds
the full arm without MMR, without MMR and exposure, and without the bandit; ``--lambdas`` adds the
full arm at other MMR λ, and with the ablations a table and plot of the λ curve (reward, repetition,
intra-list similarity against context + bandit).
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from scipy import stats  # noqa: E402

from fitloop.evaluate.online_loop import (  # noqa: E402
    LoopResult,
    OnlineLoopConfig,
    ablation_arms,
    default_arms,
    lambda_arms,
    run_online_loop,
)
from fitloop.evaluate.simulator import ShopConfig  # noqa: E402
from fitloop.recommend import RecommenderConfig  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "evaluation" / "online_loop.md"
IMG = ROOT / "docs" / "evaluation" / "img"
BEGIN, END = "<!-- online_loop:begin -->", "<!-- online_loop:end -->"

METRICS = [  # column, label, format
    ("reward", "cumulative reward", "{:.0f}"),
    ("reward_per_shopper_day", "reward / shopper-day", "{:.3f}"),
    ("ctr", "click rate", "{:.2%}"),
    ("orders_per_impression", "orders / impression", "{:.3%}"),
    ("orders_per_shopper_day", "orders / shopper-day", "{:.4f}"),
    ("return_rate", "return rate", "{:.1%}"),
    ("coverage", "catalog coverage", "{:.1%}"),
    ("repetition", "repetition (7 d)", "{:.1%}"),
    ("intra_list_similarity", "intra-list similarity", "{:.3f}"),
    ("mean_true_utility", "true utility / impression", "{:.3f}"),
]
ARM_LABEL = {"static": "static ranking", "context": "+ context", "full": "+ context + diversity + bandit",
             "context+bandit": "ablation: + context + bandit",
             "context+exposure+bandit": "ablation: + context + exposure + bandit (no MMR)",
             "context+diversity+exposure": "ablation: + context + diversity (no bandit)"}


def arm_label(arm: str) -> str:
    if arm.startswith("full@"):
        return f"full, MMR λ = {arm[5:]}"
    return ARM_LABEL.get(arm, arm)


def fmt(col: str, v: float) -> str:
    f = next(f for c, _, f in METRICS if c == col)
    return f.format(v)


def run_seed(seed: int, args: argparse.Namespace) -> LoopResult:
    shop = ShopConfig(n_items=args.items, n_shoppers=args.shoppers, n_events=args.events, n_days=args.history_days,
                      seed=seed, target_ctr=args.target_ctr)
    cfg = OnlineLoopConfig(days=args.days, shoppers_per_day=args.per_day, k=args.k, n_candidates=args.candidates,
                           retrain_every_days=args.retrain_every, seed=seed,
                           recommender=RecommenderConfig(content=None) if args.no_content else RecommenderConfig())
    t0 = time.perf_counter()
    arms = {**default_arms(), **(ablation_arms() if args.ablation else {}), **lambda_arms(args.lambdas)}
    res = run_online_loop(shop, arms, cfg,
                          progress=lambda s: print(f"  seed {seed} [{time.perf_counter() - t0:6.1f} s] {s}", flush=True))
    print(f"seed {seed}: {time.perf_counter() - t0:.0f} s  ({', '.join(f'{k} {v:.0f} s' for k, v in res.seconds.items())})")
    print(res.summary()[[c for c, _, _ in METRICS]].round(4).to_string(), flush=True)
    return res


def run(args: argparse.Namespace) -> list[LoopResult]:
    if args.jobs <= 1:
        return [run_seed(seed, args) for seed in args.seeds]
    # One process per seed: the arms inside a seed share the trained recommender, seeds share nothing.
    with ProcessPoolExecutor(max_workers=args.jobs) as pool:
        return list(pool.map(run_seed, args.seeds, [args] * len(args.seeds)))


def pooled(results: list[LoopResult]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Mean per arm over seeds, and mean difference to static with a 95 % t interval (paired by seed)."""
    per_seed = pd.concat([r.summary().assign(seed=r.config.seed) for r in results])
    per_seed.index.name = "arm"
    per_seed = per_seed.reset_index()
    cols = [c for c, _, _ in METRICS]
    mean = per_seed.groupby("arm", sort=False)[cols].mean()
    rows = {}
    base = per_seed[per_seed.arm == "static"].set_index("seed")[cols]
    for arm in mean.index:
        if arm == "static":
            continue
        d = per_seed[per_seed.arm == arm].set_index("seed")[cols] - base
        n = len(d)
        half = d.std(ddof=1) * stats.t.ppf(0.975, n - 1) / np.sqrt(n) if n > 1 else d.iloc[0] * np.nan
        rows[arm] = {c: (d[c].mean(), half[c]) for c in cols}
    return mean, pd.DataFrame.from_dict(rows, orient="index")


def _cell(row: pd.Series, col: str, f: str) -> str:
    """``level (±difference ± half-width)`` of one λ-curve cell."""
    d, h = row[f"{col}_diff"], row[f"{col}_half"]
    half = f" ± {f.format(h)}" if np.isfinite(h) else ""
    return f"{f.format(row[col])} ({'+' if d >= 0 else '−'}{f.format(abs(d))}{half})"


def markdown(results: list[LoopResult], args: argparse.Namespace, wall: float) -> str:
    mean, diff = pooled(results)
    r0 = results[0]
    lines = [
        f"Measured with `python benchmarks/online_loop.py {' '.join(args.argv)}`".rstrip() + f" on {platform.machine()}, "
        f"{os.cpu_count()} cores ({wall / 60:.1f} min for everything).",
        "",
        f"Shop: {args.items:,} items, {args.shoppers:,} shoppers, {args.history_days} days of history "
        f"(about {args.events:,} events), click rate of a random slate {args.target_ctr:.1%}. "
        f"Loop: {args.days} online days, {args.per_day} visiting shoppers a day, slates of {args.k} from "
        f"{args.candidates} recommender candidates, recommender retrained every {args.retrain_every} days, "
        f"seeds {', '.join(map(str, args.seeds))}; catalog coverage is out of {r0.catalog_size:,} launched items.",
        "",
        f"Mean over {len(results)} seed(s):",
        "",
        "| metric | " + " | ".join(arm_label(a) for a in mean.index) + " |",
        "|---|" + "---:|" * len(mean.index),
    ]
    for col, label, _ in METRICS:
        cells = [fmt(col, mean.loc[a, col]) for a in mean.index]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    lines += ["", "Difference to the static arm, mean over seeds ± half-width of a 95 % t interval (paired by seed):", "",
              "| metric | " + " | ".join(arm_label(a) for a in diff.index) + " |",
              "|---|" + "---:|" * len(diff.index)]
    for col, label, _ in METRICS:
        cells = []
        for a in diff.index:
            m, h = diff.loc[a, col]
            cells.append(f"{'+' if m >= 0 else '−'}{fmt(col, abs(m))} ± {fmt(col, h) if np.isfinite(h) else 'n/a'}")
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    lines += ["", "Per seed:", "", "| seed | arm | " + " | ".join(lbl for _, lbl, _ in METRICS) + " |",
              "|---|---|" + "---:|" * len(METRICS)]
    for r in results:
        s = r.summary()
        for a in s.index:
            lines.append(f"| {r.config.seed} | {arm_label(a)} | "
                         + " | ".join(fmt(c, s.loc[a, c]) for c, _, _ in METRICS) + " |")
    curve = lambda_curve(results)
    if curve is not None and len(curve) > 2:
        lines += ["", "The MMR λ curve of the full arm (λ = 1: no MMR, i.e. context + exposure + bandit): mean over "
                  "seeds, and in brackets the difference to context + bandit ± the half-width of a 95 % t interval "
                  "(paired by seed):",
                  "", "| MMR λ | cumulative reward | repetition (7 d) | intra-list similarity | catalog coverage |",
                  "|---:|---:|---:|---:|---:|"]
        for lam, row in curve.iterrows():
            lines.append(f"| {lam:g} | {_cell(row, 'reward', '{:.0f}')} | {_cell(row, 'repetition', '{:.1%}')} | "
                         f"{_cell(row, 'intra_list_similarity', '{:.3f}')} | {_cell(row, 'coverage', '{:.1%}')} |")
    lines += ["", "![cumulative reward](img/online_loop_reward.png)", "",
              "![daily rates](img/online_loop_daily.png)", ""]
    if curve is not None and len(curve) > 2:
        lines += ["![lambda curve](img/online_loop_lambda.png)", ""]
    return "\n".join(lines)


def plots(results: list[LoopResult]) -> None:
    IMG.mkdir(parents=True, exist_ok=True)
    frames = pd.concat([r.frame().assign(seed=r.config.seed) for r in results])
    colours = {"static": "tab:grey", "context": "tab:blue", "full": "tab:orange", "context+bandit": "tab:green",
               "context+exposure+bandit": "tab:red", "context+diversity+exposure": "tab:purple"}
    frames = frames[frames.arm.isin(list(colours))]  # the λ-curve arms have their own plot
    fig, ax = plt.subplots(figsize=(7, 4))
    for arm, g in frames.groupby("arm", sort=False):
        for seed, gs in g.groupby("seed"):
            ax.plot(gs["day"], gs["cum_reward"], color=colours.get(arm), alpha=0.8,
                    label=arm_label(arm) if seed == frames.seed.min() else None)
    ax.set_xlabel("online day")
    ax.set_ylabel("cumulative reward (click 1, cart 2, order 5, return −4)")
    ax.set_title("Cumulative reward, one line per seed")
    ax.legend()
    fig.tight_layout()
    fig.savefig(IMG / "online_loop_reward.png", dpi=110)
    plt.close(fig)

    daily = frames.groupby(["arm", "day"], sort=False)[["clicks", "orders", "impressions", "repeated", "new_items",
                                                        "true_utility", "reward", "shoppers"]].sum().reset_index()
    cat = results[0].catalog_size * len(results)
    fig, axes = plt.subplots(2, 2, figsize=(10, 7))
    panels = [
        ("click rate", lambda g: g.clicks / g.impressions),
        ("reward / shopper-day", lambda g: g.reward / g.shoppers),
        ("repetition (shown to the same shopper within 7 days)", lambda g: g.repeated / g.impressions),
        ("catalog coverage (cumulative)", lambda g: g.new_items.cumsum() / cat),
    ]
    for ax, (title, f) in zip(axes.ravel(), panels, strict=True):
        for arm, g in daily.groupby("arm", sort=False):
            ax.plot(g["day"], f(g), color=colours.get(arm), label=arm_label(arm))
        ax.set_title(title, fontsize=10)
        ax.set_xlabel("online day")
    axes[0, 0].legend(fontsize=8)
    fig.suptitle("Daily figures, pooled over seeds")
    fig.tight_layout()
    fig.savefig(IMG / "online_loop_daily.png", dpi=110)
    plt.close(fig)

    curve = lambda_curve(results)
    if curve is not None and len(curve) > 2:
        fig, axes = plt.subplots(1, 3, figsize=(12, 3.6))
        for ax, (col, title) in zip(axes, [("reward", "cumulative reward − (context + bandit)"),
                                           ("repetition", "repetition (7 d) − (context + bandit)"),
                                           ("intra_list_similarity", "intra-list similarity − (context + bandit)")],
                                    strict=True):
            ax.errorbar(curve.index, curve[f"{col}_diff"], yerr=curve[f"{col}_half"], marker="o", capsize=3)
            ax.set_title(title, fontsize=10)
            ax.set_xlabel("MMR λ (1 = no MMR)")
        axes[0].axhline(0.0, color="tab:green", lw=0.8)
        fig.suptitle("Full pipeline (context + MMR + exposure + bandit) by MMR λ: difference to context + bandit, "
                     "mean over seeds ± 95 % t", fontsize=10)
        fig.tight_layout()
        fig.savefig(IMG / "online_loop_lambda.png", dpi=110)
        plt.close(fig)


def lambda_curve(results: list[LoopResult]) -> pd.DataFrame | None:
    """Per MMR λ of the full arm: reward, repetition and intra-list similarity (mean over seeds), and the
    difference of each to context + bandit with the half-width of a 95 % t interval (paired by seed).
    λ = 1 is context + exposure + bandit (no MMR)."""
    from fitloop.rerank import MMRConfig

    cols = ["reward", "repetition", "intra_list_similarity", "coverage"]
    rows = []
    for r in results:
        s = r.summary()
        if "context+bandit" not in s.index:
            return None
        lams = {a: float(a[5:]) for a in s.index if a.startswith("full@")}
        lams["full"] = MMRConfig().lambda_
        if "context+exposure+bandit" in s.index:
            lams["context+exposure+bandit"] = 1.0
        for arm, lam in lams.items():
            rows.append({"seed": r.config.seed, "lambda": lam,
                         **{c: s.loc[arm, c] for c in cols},
                         **{f"{c}_diff": s.loc[arm, c] - s.loc["context+bandit", c] for c in cols}})
    df = pd.DataFrame(rows)
    g = df.groupby("lambda")
    out = g[cols + [f"{c}_diff" for c in cols]].mean()
    n = g.size()
    for c in cols:
        out[f"{c}_half"] = (g[f"{c}_diff"].std(ddof=1) * stats.t.ppf(0.975, n - 1) / np.sqrt(n)).where(n > 1)
    return out


def write_doc(block: str) -> None:
    text = DOC.read_text(encoding="utf-8") if DOC.exists() else f"# Online loop\n\n{BEGIN}\n{END}\n"
    if BEGIN not in text:
        text += f"\n{BEGIN}\n{END}\n"
    text = re.sub(re.escape(BEGIN) + r".*?" + re.escape(END), lambda _m: f"{BEGIN}\n{block}\n{END}", text, flags=re.S)
    DOC.write_text(text, encoding="utf-8")


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    p.add_argument("--items", type=int, default=1500)
    p.add_argument("--shoppers", type=int, default=600)
    p.add_argument("--events", type=int, default=60_000)
    p.add_argument("--history-days", type=int, default=28)
    p.add_argument("--target-ctr", type=float, default=0.03,
                   help="click rate of a random slate (the simulator's calibrated 0.38 %% leaves too few clicks)")
    p.add_argument("--days", type=int, default=28)
    p.add_argument("--per-day", type=int, default=150)
    p.add_argument("--k", type=int, default=12)
    p.add_argument("--candidates", type=int, default=60)
    p.add_argument("--retrain-every", type=int, default=7)
    p.add_argument("--no-content", action="store_true", help="switch the content candidate source off (faster)")
    p.add_argument("--ablation", action="store_true",
                   help="also run the full arm without the bandit and without diversity/exposure")
    p.add_argument("--lambdas", type=float, nargs="*", default=[],
                   help="also run the full arm at these MMR lambdas (the relevance/variety curve)")
    p.add_argument("--jobs", type=int, default=1, help="seeds run in parallel processes (default 1)")
    p.add_argument("--no-write", action="store_true", help="print only; do not touch docs/")
    args = p.parse_args(argv)
    args.argv = list(argv) if argv is not None else __import__("sys").argv[1:]
    t0 = time.perf_counter()
    results = run(args)
    wall = time.perf_counter() - t0
    block = markdown(results, args, wall)
    print()
    print(block)
    if not args.no_write:
        plots(results)
        write_doc(block)
        print(f"\nwrote {DOC.relative_to(ROOT)} and {IMG.relative_to(ROOT)}/online_loop_*.png")


if __name__ == "__main__":
    main()
