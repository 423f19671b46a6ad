"""Calibration and speed of the simulated shop: real figures next to simulated ones.

Run: ``python benchmarks/calibrate_simulator.py [--seed 0] [--slates 2000] [--data-dir ../shared/data]``

Prints the machine, the generation time of the default shop (5,000 items, 2,000 shoppers,
about 200,000 events over 90 days), and a table: figure, real value (measured now on
../shared/data through fitloop.datasets), simulated value.
"""

from __future__ import annotations

import argparse
import copy
import os
import platform
import time

import numpy as np

from fitloop.errors import DatasetError
from fitloop.evaluate.simulator import REAL_FIGURES, ShopConfig, SimulatedShop
from fitloop.evaluate.simulator.calibration import figures_table, measure_real_figures, measure_simulated_figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--slates", type=int, default=2000, help="3-item slates shown to measure click rates")
    parser.add_argument("--data-dir", default=None, help="real data folder (default: fitloop.datasets lookup)")
    parser.add_argument("--repeats", type=int, default=3, help="timed generations of the default shop")
    args = parser.parse_args()

    cfg = ShopConfig(seed=args.seed)
    print(
        f"machine: {platform.machine()} {platform.processor() or ''} {os.cpu_count()} cores, Python {platform.python_version()}"
    )
    print(
        f"config: n_items={cfg.n_items} n_shoppers={cfg.n_shoppers} n_events={cfg.n_events} "
        f"n_days={cfg.n_days} cities={len(cfg.cities)} seed={cfg.seed}"
    )
    times = []
    shop = None
    for _ in range(args.repeats):
        t = time.perf_counter()
        shop = SimulatedShop.generate(cfg)
        times.append(time.perf_counter() - t)
    assert shop is not None
    t = time.perf_counter()
    n_ev = sum(1 for _ in shop.events)
    t_iter = time.perf_counter() - t
    t = time.perf_counter()
    shop._items_cache = None  # time a fresh build of the Item objects
    n_items = len(shop.items)
    t_items = time.perf_counter() - t
    t = time.perf_counter()
    inter = shop.events.to_interactions()
    t_inter = time.perf_counter() - t
    print(
        f"generate default shop: median {np.median(times):.2f} s over {args.repeats} runs ({len(shop.events):,} events, {shop.n_sessions:,} sessions)"
    )
    print(
        f"iterate {n_ev:,} Event objects: {t_iter:.2f} s; build {n_items:,} Items: {t_items:.2f} s; to_interactions ({len(inter):,} rows): {t_inter:.2f} s"
    )
    rng = np.random.default_rng(args.seed)
    live = shop.item_ids(cfg.n_days)
    users = [u.user_id for u in shop.shoppers]
    online = copy.deepcopy(shop)
    t = time.perf_counter()
    n_steps = 2000
    for k in range(n_steps):
        slate = [live[j] for j in rng.choice(len(live), 10, replace=False)]
        online.respond(users[k % len(users)], slate, cfg.n_days + k // 200, rng)
    t_step = time.perf_counter() - t
    print(f"respond() to a 10-item slate: {1000 * t_step / n_steps:.2f} ms per call ({n_steps} calls)")
    print("events per type:", ", ".join(f"{k}={v:,}" for k, v in shop.events.counts().items()))

    try:
        real = measure_real_figures(args.data_dir)
        where = "measured now"
    except DatasetError as exc:
        real = {k: v for k, (v, _) in REAL_FIGURES.items()}
        where = f"documented constants (real data unavailable: {exc})"
    t = time.perf_counter()
    sim = measure_simulated_figures(shop, n_slates=args.slates, seed=args.seed)
    t_fig = time.perf_counter() - t
    table = figures_table(real, sim)
    print(f"\nreal values: {where}; simulated: seed {args.seed}, {args.slates} slates ({t_fig:.1f} s)")
    print(f"{'figure':<22} {'real':>10} {'simulated':>10}  description")
    for row in table.itertuples():
        r = "" if np.isnan(row.real) else f"{row.real:10.4g}"
        print(f"{row.figure:<22} {r:>10} {row.simulated:10.4g}  {row.description}")
    if "ctr_bts" in real:
        print(f"{'ctr_bts (OBD, real)':<22} {real['ctr_bts']:10.4g} {'':>10}  Bernoulli TS policy on OBD, for scale")


if __name__ == "__main__":
    main()
