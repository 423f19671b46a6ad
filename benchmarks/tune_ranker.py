"""Honest tuning of the recommender: choose settings on validation weeks strictly before the test window.

    nice -n 10 /work/venv/bin/python benchmarks/tune_ranker.py [--stage ranker features ...] [--data-dir ../shared/data]

``fitloop evaluate --dataset hm`` reports the last ``--test-weeks`` weeks of the H&M sample (the
test window). This script never looks at them: it runs the same rolling backtest
(:func:`fitloop.evaluate.backtest.run_backtest`, same code path, same baselines) on the
``--val-weeks`` weeks that end where the test window starts, for a list of named variants of the
:class:`~fitloop.recommend.RecommenderConfig`. Each variant's ranker also trains only on label weeks
before each validation week, so nothing after the validation window is seen at all.

Every variant it tries is appended to ``--log`` (JSON lines: when, stage, name, note, full config,
validation MAP@12, paired bootstrap CI against the repurchase baseline and against the stage's
reference variant, homogeneity, candidate recall), and ``--docs`` gets a Markdown table of every
record in the log, so the choice of the defaults can be checked and redone. The defaults in the code
are then frozen from the best validation result and the test weeks are reported once.

Stages (each a list of variants; the first one is the reference the others are compared with):

- ``previous``: the defaults before honest tuning (chosen on the test weeks) and today's defaults;
- ``ranker``: label weeks, LightGBM size and rounds, and the objective;
- ``features``: the detailed repurchase/style/rhythm features (``DETAIL_FEATURES``) switched on;
- ``cap``: the homogeneity cap (share of the list that may repeat the last purchase's product type);
- ``candidates``: how many candidates each source contributes.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from fitloop.datasets import hm
from fitloop.evaluate.backtest import BacktestConfig, run_backtest
from fitloop.evaluate.metrics import paired_bootstrap_ci
from fitloop.recommend import RecommenderConfig, articles_frame, transactions_frame
from fitloop.recommend import pipeline as _pipeline
from fitloop.recommend.features import DETAIL_FEATURES

ROOT = Path(__file__).resolve().parents[1]

# Before this script the defaults were chosen on the test weeks: 20 label weeks, and the detailed
# repurchase features (DETAIL_FEATURES) did not exist yet, which excluding them reproduces.
PREVIOUS: dict[str, Any] = {"ranker": {"num_leaves": 3, "n_estimators": 300, "learning_rate": 0.03,
                                       "min_child_samples": 100, "label_weeks": 20, "objective": "lambdarank",
                                       "exclude_features": list(DETAIL_FEATURES)}}

STAGES: dict[str, dict[str, dict[str, Any]]] = {
    "previous": {
        "previous_defaults": PREVIOUS,
        "current_defaults": {},
    },
    "ranker": {
        "current_defaults": {},
        "weeks12": {"ranker": {"label_weeks": 12}},
        "weeks20": {"ranker": {"label_weeks": 20}},
        "weeks52": {"ranker": {"label_weeks": 52}},
        "leaves7": {"ranker": {"num_leaves": 7, "min_child_samples": 50}},
        "rounds600": {"ranker": {"n_estimators": 600}},
        "binary": {"ranker": {"objective": "binary"}},
    },
    "features": {
        "current_defaults": {},
        "with_detail_features": {"ranker": {"exclude_features": []}},
    },
    "cap": {
        "current_defaults": {},
        "cap_0.34": {"homogeneity_cap": 0.34},
        "cap_0.5": {"homogeneity_cap": 0.5},
        "no_cap": {"homogeneity_cap": 1.0},
    },
    "candidates": {
        "current_defaults": {},
        "popular10": {"popular": {"n": 10}},
        "repeat60_style60": {"repeat": {"n": 60}, "style": {"n": 60, "n_anchors": 60}},
        "fewer_als_content": {"als": {"n": 15}, "content": {"n": 10, "n_new": 5}},
    },
}


def _merge(base: Mapping[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for k, v in over.items():
        out[k] = _merge(out[k], v) if isinstance(v, Mapping) and isinstance(out.get(k), Mapping) else v
    return out


def variant_config(overrides: Mapping[str, Any]) -> RecommenderConfig:
    """Today's default config with ``overrides`` (nested dicts) applied.

    >>> variant_config({"ranker": {"num_leaves": 5}}).ranker.num_leaves
    5
    """
    return RecommenderConfig.from_dict(_merge(RecommenderConfig().to_dict(), overrides))


def windows(tx: pd.DataFrame, test_weeks: int, val_weeks: int, offset_weeks: int = 0
            ) -> tuple[pd.Timestamp, pd.Timestamp, pd.Timestamp]:
    """(validation start, validation end, test start), as ``fitloop evaluate`` lays the weeks out.

    The validation window ends ``offset_weeks`` before the test window starts (0: right before it;
    ``val_weeks``: the window before that, to check that a choice replicates on other weeks).
    """
    end = pd.Timestamp(tx["ts"].max()).normalize() + pd.Timedelta(days=1)
    test_start = end - pd.Timedelta(weeks=test_weeks)
    val_end = test_start - pd.Timedelta(weeks=offset_weeks)
    return val_end - pd.Timedelta(weeks=val_weeks), val_end, test_start


def run_stage(tx: pd.DataFrame, items: pd.DataFrame, stage: str, val_end: pd.Timestamp, val_weeks: int,
              n_boot: int, note: str) -> list[dict[str, Any]]:
    """Backtest every variant of ``stage`` on the validation weeks; one record per variant."""
    variants = {name: variant_config(over) for name, over in STAGES[stage].items()}
    ref = next(iter(variants))
    t0 = time.perf_counter()
    res = run_backtest(tx, items, BacktestConfig(weeks=val_weeks, end=str(val_end.date()), n_boot=n_boot), variants,
                       progress=lambda m: print(f"  [{time.perf_counter() - t0:6.0f}s] {m}", flush=True))
    s = res.summary()
    base = "repurchase_popular"
    records = []
    for name in variants:
        d, lo, hi = paired_bootstrap_ci(res.ap[name], res.ap[base], n_boot, 0.05, 0)
        dr, lor, hir = paired_bootstrap_ci(res.ap[name], res.ap[ref], n_boot, 0.05, 0)
        wk = res.per_week.pivot(index="week", columns="method", values="map")
        records.append({
            "when": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "stage": stage, "name": name, "note": note,
            "validation_weeks": [str(w) for w in wk.index], "window": f"{wk.index[0]} .. {wk.index[-1]}",
            "map": float(s.loc[name, "map"]), "map_baseline": float(s.loc[base, "map"]),
            "ratio": float(s.loc[name, "map"] / s.loc[base, "map"]),
            "diff_vs_baseline": [d, lo, hi], "diff_vs_reference": [dr, lor, hir], "reference": ref,
            "weeks_won": int((wk[name] > wk[base]).sum()), "n_weeks": int(len(wk)),
            "homogeneity": float(s.loc[name, "homogeneity"]), "homogeneity_baseline": float(s.loc[base, "homogeneity"]),
            "recall": float(s.loc[name, "recall"]), "cand_recall": float(s.loc[name, "cand_recall"]),
            "n_customer_weeks": int(len(res.ap[name])), "seconds": round(res.timings[name], 1),
            "config": variants[name].to_dict(),
        })
    return records


# What the log shows and what was chosen (kept with the script so that the table and its reading stay together).
FINDINGS = """
## Reading and decision

Window A (2019-11-20 .. 2020-03-04 week starts) is the 16 weeks right before the test window; window B
(2019-07-31 .. 2019-11-13) the 16 before that, used only to check that a choice replicates. Both end
before the first test week (2020-03-11), and the script passes no transaction from the test window on.

- Ranker size, rounds and objective (stage `ranker`, window A, 20 label weeks): every variant lies
  within +-0.003 of the previous defaults with CIs against them that straddle zero; nothing to gain.
- Label weeks: 40 instead of 20 was the one change that helped on both windows: A +0.0007
  [-0.0020, +0.0037], B +0.0031 [+0.0009, +0.0057] (real pipeline, the `previous` rows above: 1.29x ->
  1.32x and 1.16x -> 1.32x the baseline). 52 or 60 weeks were worse on A.
- Detailed repurchase/style/rhythm features (decayed counts with three half-lives, distinct purchase
  days, last-basket flag, style recency and colours bought, the shopper's rebuy share, usual gap between
  shopping days and how overdue she is, style sales, price drop): no gain (see the `features` rows), so
  the default ranker leaves them out (`RankerConfig.exclude_features`).
- Homogeneity cap 0.25 / 0.34 / 0.5 / none (`cap` rows, window A): MAP@12 within +-0.0001 of each
  other; the cap keeps the homogeneity rate well under the baseline's, so it stays at 0.25.
- More candidates (60 own items, 60 other colourways from 60 anchors; scratch harness below): 12 % more
  test purchases among the candidates, but MAP@12 unchanged on A and lower on B: kept at 30 / 20.

Besides the logged runs, a scratch harness (the same weeks, candidates and features cached once, the
ranker retrained per setting, the homogeneity cap re-applied) was used to scan settings quickly; it
reproduced the real pipeline's validation MAP@12 within 0.0003 (0.0280 vs 0.0283 for the previous
defaults). Its readings, MAP@12 of fitloop vs 0.0218 (A) / 0.0179 (B) for the baseline:

| setting | window A | window B |
|---|---|---|
| previous defaults (20 label weeks) | 0.0280 | 0.0208 |
| 40 label weeks (seed 0 / seed 1) | 0.0289 / 0.0290 | 0.0239 / 0.0241 |
| 52 / 60 label weeks | 0.0269 / 0.0269 | 0.0235 / 0.0234 |
| 40 label weeks, binary objective | 0.0266 | 0.0236 |
| 40 label weeks, 7 leaves / 600 rounds | 0.0272 / 0.0274 | 0.0223 / 0.0220 |
| 40 label weeks + detailed features | 0.0276 | 0.0238 |
| 40 label weeks, 60 own + 60 style candidates | 0.0288 | 0.0231 |
| 20 label weeks, 5-seed ensemble | 0.0280 | - |
| candidates perfectly ordered (ceiling of this recall stage) | 0.0791 | - |

The ceiling shows where the headroom is: the candidates hold 6 % of the week's purchases, and a
perfect order of them would give 3.6x the baseline; the ranker gets about a third of that.
Frozen defaults: 40 label weeks, everything else as before.

## Robustness under shift (issue #6, second round): no change worth a new default

On the test weeks (spring 2020, stores closed) the frozen defaults reach 1.11x the baseline with a CI
that straddles zero, against 1.32x on both validation windows. A second round looked for a change that
makes the ranker's gain steadier across time, again chosen only on windows A and B. It used
`benchmarks/ranker_scan.py`, a committed version of the scratch harness: candidates and features of
every week built once by the pipeline's own functions and cached, the ranker retrained per setting, the
lists served by a real `Recommender` (store_n, homogeneity cap, popular fill). It reproduces the real
pipeline exactly for the defaults: A 0.0290 vs baseline 0.0220, +0.0068 [+0.0019, +0.0122], 14/16 weeks,
homogeneity 0.178; B 0.0247 vs 0.0187, +0.0061 [+0.0021, +0.0106], 12/16 -- the same figures as the
`previous`/`current_defaults` rows above. Readings (MAP@12; in brackets the paired bootstrap 95 % CI of
the difference to the defaults over the window's customer-weeks; its log is
`benchmarks/results/ranker_scan.jsonl`):

| setting | window A | window B |
|---|---|---|
| defaults | 0.0290 | 0.0247 |
| blend with the baseline, reciprocal-rank fusion `1/(k+1+r_ranker) + w/(k+1+r_baseline)`, k=10, w=0.1 | 0.0291 (+0.0001 [-0.0001, +0.0003]) | 0.0245 (-0.0002 [-0.0006, +0.0001]) |
| same, w=0.25 | 0.0286 (-0.0002 [-0.0019, +0.0013]) | 0.0235 (-0.0014 [-0.0029, -0.0003]) |
| same, w=0.5 / 1 / 2 | 0.0275 / 0.0257 / 0.0233 | - |
| same, w=0.5 / 1 with k=2 | 0.0288 / 0.0259 | - |
| same, w=0.5 / 1 with k=30 | 0.0272 / 0.0249 | - |
| monotone constraints (+: ui_n, ui_code_n, i_pop_1w, i_pop_decay, src_repeat_score; -: ui_days_since, i_days_since_last) | 0.0276 (-0.0009 [-0.0032, +0.0010]) | 0.0242 (-0.0003 [-0.0020, +0.0014]) |
| label weeks weighted by recency, half-life 10 weeks | 0.0271 (-0.0018 [-0.0047, +0.0007]) | 0.0225 (-0.0023 [-0.0051, +0.0000]) |
| same, half-life 20 weeks | 0.0280 (-0.0010 [-0.0035, +0.0013]) | 0.0231 (-0.0016 [-0.0039, +0.0007]) |
| baseline's order among the candidates as a feature | 0.0278 (-0.0010 [-0.0025, +0.0002]) | 0.0243 (-0.0005 [-0.0016, +0.0004]) |
| baseline's own-item score (decayed count, half-life 21 days) as a feature | 0.0290 (+0.0001 [-0.0014, +0.0016]) | 0.0242 (-0.0004 [-0.0020, +0.0009]) |
| 5 rankers (seeds 0-4, feature_fraction 0.8) averaged by rank | 0.0294 (+0.0005 [-0.0002, +0.0013]) | 0.0248 (+0.0001 [-0.0002, +0.0005]) |

Reading: blending in the baseline's order lowers MAP@12 steadily as its weight grows (on B already at
w=0.25, with a CI below zero): the ranker already uses the repurchase signal (`ui_code_n`,
`ui_days_since`, `src_repeat_score` are among its top features) and the fusion mostly pushes popular
items the ranker had rightly ranked lower. Monotone constraints, recency weighting of the label weeks
(fewer effective weeks: the same direction as 20 instead of 40 label weeks) and a baseline-score
feature are all within noise or worse on both windows. The one setting with a gain on both windows is
seed bagging (5 rankers averaged by rank): +0.0005 on A and +0.0001 on B, both CIs straddling zero, at
five times the ranker's training time -- too small to matter on the test weeks' shift, and not (yet)
taken into the library or confirmed through the real pipeline. No default changed; the test weeks were
not run again for this round. What is left is the recall stage (6 % of purchases among the candidates)
and the small sample (about 70 buyers a week), not the ranker's settings.
"""


def write_docs(records: list[dict[str, Any]], path: Path, val_weeks: int, test_weeks: int) -> None:
    """Every logged variant as a Markdown table, newest run of each (stage, name, note) only."""
    latest: dict[tuple[str, str, str], dict[str, Any]] = {}
    for r in records:
        latest[(r["stage"], r["name"], r["note"], r.get("window", ""))] = r
    lines = [
        "# Recommender tuning on validation weeks (never the test weeks)",
        "",
        f"Written by `benchmarks/tune_ranker.py`; the full log with every config is `benchmarks/results/tune_ranker.jsonl`. "
        f"Each row is a rolling backtest over {val_weeks} validation weeks that end before the {test_weeks} test weeks of "
        "`fitloop evaluate --dataset hm` begin (window A: right before them; window B: the weeks before A), with the "
        "same code and baselines as the evaluation. `current_defaults` is the code's default config at the time of the "
        "run (v0 and v1: 20 label weeks, as before; v2: the frozen defaults); the log has every config in full. "
        "`vs baseline` is the "
        "paired bootstrap 95 % CI of the MAP@12 difference against repurchase + time-decayed popularity, `vs reference` "
        "against the first variant of the same stage (run in the same process). `cand. recall`: share of the weeks' "
        "purchases that are among the candidates at all.",
        "",
        "| weeks (starts) | stage | variant | note | MAP@12 | baseline | ratio | vs baseline | vs reference | weeks won | homogeneity | cand. recall |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in latest.values():
        d, lo, hi = r["diff_vs_baseline"]
        dr, lor, hir = r["diff_vs_reference"]
        lines.append(
            f"| {r.get('window', '')} | {r['stage']} | {r['name']} | {r['note']} | {r['map']:.4f} | {r['map_baseline']:.4f} | {r['ratio']:.2f}x | "
            f"{d:+.4f} [{lo:+.4f}, {hi:+.4f}] | {dr:+.4f} [{lor:+.4f}, {hir:+.4f}] | {r['weeks_won']}/{r['n_weeks']} | "
            f"{r['homogeneity']:.3f} vs {r['homogeneity_baseline']:.3f} | {r['cand_recall']:.3f} |")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n" + FINDINGS, encoding="utf-8")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data-dir", type=Path, default=None)
    ap.add_argument("--stage", nargs="+", default=["previous", "ranker", "features", "candidates"], choices=sorted(STAGES))
    ap.add_argument("--test-weeks", type=int, default=16, help="the weeks fitloop evaluate reports (never used here)")
    ap.add_argument("--val-weeks", type=int, default=16)
    ap.add_argument("--offset-weeks", type=int, default=0,
                    help="end the validation window this many weeks before the test window (replication on older weeks)")
    ap.add_argument("--n-boot", type=int, default=2000)
    ap.add_argument("--docs-only", action="store_true", help="only rewrite --docs from the records in --log")
    ap.add_argument("--note", default="", help="what changed in the code since the last run (kept in the log)")
    ap.add_argument("--log", type=Path, default=ROOT / "benchmarks" / "results" / "tune_ranker.jsonl")
    ap.add_argument("--docs", type=Path, default=ROOT / "docs" / "evaluation" / "recommend_tuning.md")
    args = ap.parse_args()

    if args.docs_only:
        write_docs(_read_log(args.log), args.docs, args.val_weeks, args.test_weeks)
        return
    tx = transactions_frame(hm.load_transactions(args.data_dir))
    items = articles_frame(hm.load_articles(args.data_dir))
    val_start, val_end, test_start = windows(tx, args.test_weeks, args.val_weeks, args.offset_weeks)
    print(f"validation weeks {val_start.date()} .. {(val_end - pd.Timedelta(days=1)).date()}; "
          f"the test weeks from {test_start.date()} on are not used")
    # Only data before the validation window's end is passed on: the test weeks cannot leak into any choice.
    tx = tx.loc[tx["ts"] < val_end]
    _pipeline._ROWS_CACHE_SIZE = 100_000  # one process, many configs: keep every week's rows
    args.log.parent.mkdir(parents=True, exist_ok=True)
    for stage in args.stage:
        print(f"stage {stage}: {', '.join(STAGES[stage])}")
        records = run_stage(tx, items, stage, val_end, args.val_weeks, args.n_boot, args.note)
        with args.log.open("a", encoding="utf-8") as f:
            for r in records:
                f.write(json.dumps(r) + "\n")
        for r in records:
            d, lo, hi = r["diff_vs_baseline"]
            dr, lor, hir = r["diff_vs_reference"]
            print(f"  {r['name']:<24} MAP {r['map']:.4f} (baseline {r['map_baseline']:.4f}, {r['ratio']:.2f}x, "
                  f"CI [{lo:+.4f}, {hi:+.4f}]) vs ref {dr:+.4f} [{lor:+.4f}, {hir:+.4f}] "
                  f"homog {r['homogeneity']:.3f} cand_recall {r['cand_recall']:.3f} {r['seconds']:.0f}s", flush=True)
    write_docs(_read_log(args.log), args.docs, args.val_weeks, args.test_weeks)
    print(f"log: {args.log}; table: {args.docs}")


def _read_log(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


if __name__ == "__main__":
    main()
