"""Speed of the online bandit (learn_one, rerank) and of off-policy learning on the Open Bandit sample.

Run: ``/work/venv/bin/python benchmarks/bandit_update.py [--items 10000] [--updates 20000] [--data-dir ../shared/data]``

Prints the machine, then a table of latencies (median, p99, mean in microseconds) for:
``learn_one`` on a bandit that already knows ``--items`` items, and ``rerank`` of 50 / 200 / 1,000
candidates to 12; then the wall time of ``OffPolicyLearner.train`` and ``score`` on the Open Bandit
random log (skipped when the data is absent).

With ``--sim-slates N`` (e.g. 15000; about 2.5 minutes per policy here) it also runs an online
loop in the simulated shop (``fitloop.evaluate.simulator``): each request draws 30 random
candidates ordered by past orders (the plain ranking), a policy picks 6, the simulated shopper
responds, the policy learns. It prints reward per impression (clicks 1, carts 2, orders 5,
returns -4), click, order and return rates for the plain ranking and the bandit. Returns are fed
back with the impression's other events (the simulator reports them at once), not weeks later.
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from collections.abc import Callable
from datetime import date

import numpy as np

from fitloop.data import Context, EventType, ScoredItem
from fitloop.errors import DatasetError
from fitloop.rerank.bandit import BanditConfig, Feedback, LinUCBBandit


def _percentiles(fn: Callable[[int], object], runs: int) -> tuple[float, float, float]:
    times = np.empty(runs)
    for i in range(runs):
        t0 = time.perf_counter_ns()
        fn(i)
        times[i] = (time.perf_counter_ns() - t0) / 1e3
    return float(np.median(times)), float(np.percentile(times, 99)), float(times.mean())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=10_000, help="items the bandit already has feedback for")
    parser.add_argument("--updates", type=int, default=20_000, help="timed learn_one calls")
    parser.add_argument("--reranks", type=int, default=2_000, help="timed rerank calls per candidate count")
    parser.add_argument("--context-dim", type=int, default=16)
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--sim-slates", type=int, default=0, help="online slates in the simulated shop (0: skip)")
    args = parser.parse_args()

    print(f"machine: {platform.machine()} {platform.processor() or ''} {os.cpu_count()} cores, "
          f"Python {platform.python_version()}, numpy {np.__version__}")
    rng = np.random.default_rng(0)
    bandit = LinUCBBandit(BanditConfig(context_dim=args.context_dim, rng=0))
    contexts = [
        Context(slot=s, city=c, day=date(2024, m, 5), temperature_c=float(t), rain_mm=float(r))
        for s in ("home", "pdp", "cart") for c in ("Berlin", "Lyon") for m in (1, 7) for t in (0, 20) for r in (0, 3)
    ]
    items = [f"sku-{i}" for i in range(args.items)]
    for i in range(args.items):  # every item known: the realistic steady state
        bandit.learn_one(Feedback(items[i], contexts[i % len(contexts)], ()))
    events = [(), (EventType.PRODUCT_CLICKED,), (EventType.PRODUCT_CLICKED, EventType.ORDER_COMPLETED)]
    picks = rng.integers(0, args.items, args.updates)
    ctx_pick = rng.integers(0, len(contexts), max(args.updates, args.reranks))
    ev_pick = rng.integers(0, len(events), args.updates)

    rows = []
    med, p99, mean = _percentiles(
        lambda i: bandit.learn_one(Feedback(items[picks[i]], contexts[ctx_pick[i]], events[ev_pick[i]])), args.updates
    )
    rows.append((f"learn_one ({args.items:,} items known, d={args.context_dim})", med, p99, mean))
    for m in (50, 200, 1000):
        cands = [ScoredItem(items[j], 1.0 - k / m) for k, j in enumerate(rng.choice(args.items, m, replace=False))]
        med, p99, mean = _percentiles(
            lambda i, c=cands: bandit.rerank(contexts[ctx_pick[i]], c, 12, user_id="u", request_id=str(i)),
            args.reranks,
        )
        rows.append((f"rerank {m} candidates -> 12", med, p99, mean))
    print("\n| operation | median µs | p99 µs | mean µs |\n|---|---:|---:|---:|")
    for name, med, p99, mean in rows:
        print(f"| {name} | {med:.1f} | {p99:.1f} | {mean:.1f} |")

    if args.sim_slates > 0:
        simulate(args.sim_slates)

    try:
        from fitloop.datasets import obd
        from fitloop.rerank.offpolicy import ObdLog, OffPolicyConfig, OffPolicyLearner

        t0 = time.perf_counter()
        log = ObdLog.from_frame(obd.load_log("random", data_dir=args.data_dir))
        items_ctx = obd.load_item_context(data_dir=args.data_dir)
        t_read = time.perf_counter() - t0
    except DatasetError as exc:
        print(f"\nOpen Bandit data not found ({exc.message}); off-policy timings skipped")
        return
    print(f"\nOpen Bandit random log: {len(log):,} rounds, read in {t_read:.2f} s")
    print("\n| off-policy learner | train s | score s (all rounds) |\n|---|---:|---:|")
    for name, cfg in (("empirical Bayes (context-free)", OffPolicyConfig(context_model="none")),
                      ("empirical Bayes + LightGBM context", OffPolicyConfig(context_model="lightgbm"))):
        learner = OffPolicyLearner(cfg)
        t0 = time.perf_counter()
        learner.train(log, items_ctx)
        t_train = time.perf_counter() - t0
        t0 = time.perf_counter()
        learner.score(log)
        t_score = time.perf_counter() - t0
        print(f"| {name} | {t_train:.2f} | {t_score:.2f} |")


def simulate(n_slates: int, seed: int = 1) -> None:
    """Plain ranking vs the bandit, online, in the same simulated shop (rebuilt for each policy)."""
    from fitloop.evaluate.simulator import ShopConfig, SimulatedShop
    from fitloop.rerank.bandit import PlainPolicy, RewardWeights

    config = ShopConfig(n_items=150, n_shoppers=1000, n_events=20_000, n_days=14, seed=0, target_ctr=0.03)
    weights = RewardWeights()
    print(f"\nsimulated shop: {config.n_items} items, {config.n_shoppers} shoppers, target CTR {config.target_ctr}; "
          f"{n_slates:,} slates of 6 from 30 candidates per policy")
    print("\n| policy | reward / impression | CTR % | orders % | returns % | seconds |\n|---|---:|---:|---:|---:|---:|")
    for name, policy in (("plain ranking", PlainPolicy()), ("LinUCB bandit (defaults)", LinUCBBandit(BanditConfig(rng=0)))):
        shop = SimulatedShop.generate(config)
        orders = shop.events.of_type("order_completed").item_id.value_counts()
        users = [u.user_id for u in shop.shoppers]
        ids = shop.item_ids(config.n_days)
        popularity = np.array([orders.get(i, 0) for i in ids], dtype=float)
        rng = np.random.default_rng(seed)
        total = clicks = ordered = returned = shown = 0.0
        t0 = time.perf_counter()
        for s in range(n_slates):
            user = users[int(rng.integers(len(users)))]
            day = config.n_days + s * 60 // n_slates
            ctx = shop.context(user, day)
            pick = rng.choice(len(ids), 30, replace=False)
            pick = pick[np.argsort(-popularity[pick], kind="stable")]
            cands = [ScoredItem(ids[j], float(popularity[j])) for j in pick]
            out = policy.rerank(ctx, cands, 6, user_id=user, request_id=str(s))
            by_item: dict[str, list[EventType]] = {}
            for ev in shop.respond(user, [o.item_id for o in out], day, rng, ctx):
                if ev.item_id:
                    by_item.setdefault(ev.item_id, []).append(ev.type)
            for o in out:
                evs = tuple(by_item.get(o.item_id, ()))
                total += weights.reward(evs)
                clicks += EventType.PRODUCT_CLICKED in evs
                ordered += EventType.ORDER_COMPLETED in evs
                returned += EventType.PRODUCT_RETURNED in evs
                shown += 1
                policy.learn_one(Feedback(o.item_id, ctx, evs))
        secs = time.perf_counter() - t0
        print(f"| {name} | {total / shown:.4f} | {100 * clicks / shown:.2f} | {100 * ordered / shown:.3f} | "
              f"{100 * returned / shown:.3f} | {secs:.0f} |")


if __name__ == "__main__":
    main()
