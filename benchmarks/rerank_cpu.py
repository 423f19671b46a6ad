"""CPU per request of the serving path with re-ranking on, in-process (no HTTP), and a fingerprint of what it serves.

Builds the same container ``fitloop serve`` builds (``FITLOOP_RERANK=1``) on a home prepared by
``benchmarks/serve.py --http --home DIR``, teaches the re-ranking chain a deterministic stream of
impressions, clicks and orders (so exposure memory, trends and the bandit have something to say),
then times ``RecommendationService.recommend`` the way ``GET /v1/recommendations`` calls it.

``--snapshot FILE`` writes every served list (ids, scores, reasons, propensities) of a fixed,
varied request set (cities, days, temperatures, known and unknown shoppers) to FILE;
``--compare FILE`` checks the current code serves exactly that. Together they show that an
optimisation changed the cost and nothing else:

    /work/venv/bin/python benchmarks/rerank_cpu.py --home /tmp/fitloop-serve-home --snapshot /tmp/before.json
    # … change the code …
    /work/venv/bin/python benchmarks/rerank_cpu.py --home /tmp/fitloop-serve-home --compare /tmp/before.json

``--profile`` prints the cProfile top functions (cumulative) of the timed loop.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import pstats
import random
import shutil
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from fitloop.config import Settings
from fitloop.data import Context, Event, EventType
from fitloop.wiring import build


def _requests(known: list[str], n: int, *, seed: int, varied: bool) -> list[tuple[str, Context]]:
    """(raw shopper id, context) pairs; ``varied`` adds cities, days, temperatures and slots."""
    rnd = random.Random(seed)
    out = []
    for i in range(n):
        user = rnd.choice(known) if rnd.random() < 0.8 else f"new-{seed}-{i}"
        ctx = Context(slot="home")
        if varied:
            ctx = rnd.choice([
                Context(slot="home"),
                Context(slot="home", city="Stockholm", day=date(2026, 11, 27)),
                Context(slot="product", city="Shanghai", day=date(2026, 7, 14), temperature_c=28.0, rain_mm=8.0),
                Context(slot="home", city="Atlantis", day=date(2026, 4, 2)),
                Context(slot="cart", city="London", day=date(2026, 12, 20)),
            ])
        out.append((user, ctx))
    return out


def _serve(container: Any, reqs: list[tuple[str, Context]], *, ids_raw: bool, tag: str) -> tuple[list[Any], list[float]]:
    svc, privacy = container.recommendations, container.privacy
    lists, cpu = [], []
    for i, (user, ctx) in enumerate(reqs):
        pid = user if ids_raw else privacy.pseudonymise(user)
        t = time.process_time()
        recs = svc.recommend(pid, slot=ctx.slot, k=12, context=ctx, exclude=set(), size=None,
                             request_id=f"{tag}-{i}")
        cpu.append(time.process_time() - t)
        lists.append(recs)
    return lists, cpu


def _teach(container: Any, lists: list[Any], seed: int) -> int:
    """Impressions for every shown item, clicks (and some orders) on a few: deterministic feedback."""
    rnd = random.Random(seed)
    t0 = datetime(2026, 11, 20, tzinfo=UTC)
    events = []
    for j, recs in enumerate(lists):
        ts = t0 + timedelta(seconds=30 * j)
        for pos, it in enumerate(recs.items):
            events.append(Event(f"imp-{j}-{pos}", EventType.IMPRESSION, recs.user_id, ts, it.item_id))
            if rnd.random() < 0.04:
                events.append(Event(f"clk-{j}-{pos}", EventType.PRODUCT_CLICKED, recs.user_id, ts, it.item_id))
                if rnd.random() < 0.3:
                    events.append(Event(f"ord-{j}-{pos}", EventType.ORDER_COMPLETED, recs.user_id, ts, it.item_id))
    policies = container.recommendations.policies
    return int(policies.learn(events)) if policies is not None else 0


def _fingerprint(lists: list[Any]) -> list[dict[str, Any]]:
    return [{"user": r.user_id, "version": r.policy_version, "cold": r.cold_start,
             "items": [[it.item_id, round(float(it.score), 9), it.reason, round(float(it.propensity), 12), it.source]
                       for it in r.items]} for r in lists]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--home", required=True, help="A home prepared by benchmarks/serve.py --http --home DIR.")
    ap.add_argument("--n", type=int, default=3000, help="Timed requests (HTTP-like: slot home, no context).")
    ap.add_argument("--snapshot", default=None, help="Write the served lists of the varied request set here.")
    ap.add_argument("--compare", default=None, help="Check the varied request set serves exactly this snapshot.")
    ap.add_argument("--profile", action="store_true", help="Print cProfile's top functions of the timed loop.")
    args = ap.parse_args(argv)

    home = Path(args.home)
    # A fresh models folder: the bandit state a previous run saved there would change what is served.
    # (The recommender bundle is found through the registry, by its absolute path.)
    models = Path(tempfile.mkdtemp(prefix="rerank-cpu-models-"))
    container = build(Settings(data_dir=home, models_dir=models, demo=True, database_url="", redis_url=None,
                               rerank=True))
    container.recommendations.start()
    try:
        model = container.recommendations._model
        known = sorted(getattr(model, "user_ids", ()))  # a recommender bundle names its shoppers
        # Known shoppers by their raw ids (the bundle's ids), so the personal lists are exercised too;
        # the HTTP route pseudonymises, which makes every benchmark shopper a new one for this bundle.
        warm = _requests(known, 1500, seed=1, varied=True)
        lists, _ = _serve(container, warm, ids_raw=True, tag="warm")
        updates = _teach(container, lists, seed=2)
        print(f"taught the chain: {updates} bandit updates", flush=True)

        varied = _requests(known, 1000, seed=3, varied=True)
        served, cpu_v = _serve(container, varied, ids_raw=True, tag="snap")
        fp = _fingerprint(served)
        if args.snapshot:
            Path(args.snapshot).write_text(json.dumps(fp), encoding="utf-8")
            print(f"snapshot of {len(fp)} lists written to {args.snapshot}")
        if args.compare:
            want = json.loads(Path(args.compare).read_text(encoding="utf-8"))
            bad = [i for i, (a, b) in enumerate(zip(want, fp, strict=True)) if a != b]
            print(f"compare: {len(fp) - len(bad)}/{len(fp)} lists identical to {args.compare}")
            for i in bad[:3]:
                print(" want", want[i], "\n got ", fp[i])

        timed = _requests(known, args.n, seed=4, varied=False)
        prof = cProfile.Profile() if args.profile else None
        if prof is not None:
            prof.enable()
        _, cpu = _serve(container, timed, ids_raw=False, tag="http")
        if prof is not None:
            prof.disable()
        _, cpu_known = _serve(container, timed[: args.n // 2], ids_raw=True, tag="known")
        ms = np.asarray(cpu) * 1000
        print(f"HTTP-like requests (pseudonymised ids, slot home): {len(ms)} calls, CPU mean {ms.mean():.3f} ms, "
              f"p50 {np.percentile(ms, 50):.3f}, p99 {np.percentile(ms, 99):.3f} ms")
        mk = np.asarray(cpu_known) * 1000
        print(f"known shoppers by raw id (80 %): {len(mk)} calls, CPU mean {mk.mean():.3f} ms, "
              f"p99 {np.percentile(mk, 99):.3f} ms")
        mv = np.asarray(cpu_v) * 1000
        print(f"varied contexts (snapshot set): {len(mv)} calls, CPU mean {mv.mean():.3f} ms")
        if prof is not None:
            pstats.Stats(prof, stream=sys.stdout).sort_stats("cumulative").print_stats(45)
        if args.compare and bad:
            return 1
    finally:
        container.recommendations.stop()
        container.stores.close()
        shutil.rmtree(models, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
