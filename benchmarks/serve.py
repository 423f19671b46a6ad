"""In-process serving latency of ``Recommender.recommend`` (k=12) on the full H&M catalog.

Trains the pipeline on the H&M sample (or loads a bundle with ``--bundle DIR``), then times
``recommend`` for a mix of known and unknown shoppers, with and without the stock/exclude filters,
and prints a table with the machine and data size. ``--md FILE`` also writes it as Markdown.

    /work/venv/bin/python benchmarks/serve.py [--data-dir DIR] [--bundle models/] [--n 20000] [--md docs/benchmarks/serve.md]
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def _pct(xs: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(xs) * 1000.0, q))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data-dir", default=None)
    ap.add_argument("--bundle", default=None, help="Serve this bundle root instead of training one.")
    ap.add_argument("--n", type=int, default=20000, help="Timed calls per scenario.")
    ap.add_argument("--k", type=int, default=12)
    ap.add_argument("--md", default=None, help="Also write the table as Markdown here.")
    args = ap.parse_args(argv)

    from fitloop.data import Context
    from fitloop.recommend import load_bundle, save_bundle, train_recommender
    from fitloop.recommend.frames import articles_frame, transactions_frame

    t0 = time.perf_counter()
    if args.bundle:
        root = Path(args.bundle)
        train_s = float("nan")
    else:
        from fitloop.datasets import hm

        tx = transactions_frame(hm.load_transactions(args.data_dir))
        items = articles_frame(hm.load_articles(args.data_dir))
        rec = train_recommender(tx, items)
        train_s = time.perf_counter() - t0
        root = Path(tempfile.mkdtemp(prefix="fitloop-bench-"))
        save_bundle(rec, root)
    t1 = time.perf_counter()
    rec = load_bundle(root)
    load_s = time.perf_counter() - t1

    rnd = random.Random(0)
    known = rec.user_ids
    users = [rnd.choice(known) if rnd.random() < 0.8 else f"new-{i}" for i in range(args.n)]
    out_of_stock = set(rnd.sample(rec.item_ids, len(rec.item_ids) // 10))
    exclude = set(rnd.sample(rec.item_ids, 50))
    ctx = Context(channel="web")
    scenarios = {
        "known 80% / unknown 20%, no filters": lambda u: rec.recommend(u, args.k),
        "same, with context, exclude (50) and in_stock (10% out)": lambda u: rec.recommend(
            u, args.k, context=ctx, exclude=exclude, in_stock=lambda i: i not in out_of_stock),
    }
    rows = []
    for name, fn in scenarios.items():
        for u in users[:1000]:  # warm-up
            fn(u)
        lat = []
        for u in users:
            s = time.perf_counter()
            fn(u)
            lat.append(time.perf_counter() - s)
        rows.append((name, _pct(lat, 50), _pct(lat, 99), _pct(lat, 99.9), float(np.mean(lat) * 1000)))

    machine = f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, Python {sys.version.split()[0]}"
    head = [
        "# Serving latency: `Recommender.recommend` in-process",
        "",
        f"Machine: {machine}. Catalog: {len(rec.item_ids):,} articles; {len(known):,} shoppers with a precomputed list; "
        f"k = {args.k}; {args.n:,} timed calls per scenario. Bundle load: {load_s:.2f} s"
        + (f"; training: {train_s:.0f} s" if np.isfinite(train_s) else "") + ".",
        f"Load average while measuring (other jobs on the machine): {os.getloadavg()[0]:.1f}.",
        "Command: `fitloop train --dataset hm --models-dir models && "
        "/work/venv/bin/python benchmarks/serve.py --bundle models --md docs/benchmarks/serve.md` "
        "(without `--bundle` it trains first). Known shoppers are served from their precomputed ranked list "
        "(the ranking itself runs at training time); unknown ones from the channel's popular list.",
        "",
        "| scenario | p50 ms | p99 ms | p99.9 ms | mean ms |",
        "|---|---|---|---|---|",
    ]
    table = [f"| {n} | {a:.3f} | {b:.3f} | {c:.3f} | {d:.3f} |" for n, a, b, c, d in rows]
    text = "\n".join(head + table) + "\n\nTarget: p99 under 10 ms for k = 12 on the 2-core machine.\n"
    print(text)
    if args.md:
        Path(args.md).parent.mkdir(parents=True, exist_ok=True)
        Path(args.md).write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
