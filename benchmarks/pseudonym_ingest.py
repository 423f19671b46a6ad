"""Cost of pseudonymising shopper ids at ingest (issue 4: L3 behaviour keyed by a keyed-HMAC pseudonym).

Run: ``/work/venv/bin/python benchmarks/pseudonym_ingest.py [--runs 20000] [--batch 100] [--shoppers 500]``

Prints microseconds per event (median, p99, mean):

- the bare HMAC (``Pseudonymiser.pseudonym``), for reference;
- :func:`fitloop.services.pseudonyms.pseudonymise_normalised` on one normalised ``track`` message with a
  ``userId`` and an ``anonymousId``: with the LRU cache warm (a shopper's events come in bursts) and cold
  (every id new);
- :meth:`fitloop.services.ingest.IngestService.prepare` of a Segment batch, per event, without and with the
  pseudonymisation step (default gate, in-memory SQLite), so the step is seen against the whole request.
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from collections.abc import Callable
from datetime import UTC, datetime

import numpy as np

from fitloop.collect import normalise
from fitloop.config import Settings
from fitloop.privacy import Pseudonymiser
from fitloop.services.ingest import IngestService
from fitloop.services.pseudonyms import CachedPseudonyms, pseudonymise_normalised
from fitloop.store import Source
from fitloop.wiring import build_stores


def _timeit(fn: Callable[[int], object], runs: int, per: int = 1) -> tuple[float, float, float]:
    times = np.empty(runs)
    for i in range(runs):
        t0 = time.perf_counter_ns()
        fn(i)
        times[i] = (time.perf_counter_ns() - t0) / 1e3 / per
    return float(np.median(times)), float(np.percentile(times, 99)), float(times.mean())


def _message(i: int, shoppers: int) -> dict[str, object]:
    u = i % shoppers
    return {"type": "track", "event": "Product Viewed", "messageId": f"m{i}", "userId": f"customer-{u}",
            "anonymousId": f"anon-{u}", "properties": {"product_id": f"sku-{i % 977}", "position": 3}}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=20000)
    ap.add_argument("--batch", type=int, default=100)
    ap.add_argument("--shoppers", type=int, default=500)
    args = ap.parse_args()
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"Python {platform.python_version()}")
    now = datetime.now(UTC)
    key = b"k" * 32
    rows: list[tuple[str, tuple[float, float, float]]] = []

    raw = Pseudonymiser(key)
    rows.append(("HMAC only (Pseudonymiser.pseudonym)", _timeit(lambda i: raw.pseudonym(f"customer-{i}"), args.runs)))

    normalised = [normalise(_message(i, args.shoppers), source="web", received_at=now) for i in range(args.runs)]
    warm = CachedPseudonyms(Pseudonymiser(key))
    for n in normalised[: args.shoppers]:
        pseudonymise_normalised(n, warm)
    rows.append(("pseudonymise one event, cache warm", _timeit(lambda i: pseudonymise_normalised(normalised[i], warm),
                                                               args.runs)))
    fresh = [normalise({**_message(i, args.runs), "userId": f"new-{i}", "anonymousId": f"newanon-{i}"},
                       source="web", received_at=now) for i in range(args.runs)]
    cold = CachedPseudonyms(Pseudonymiser(key))
    rows.append(("pseudonymise one event, every id new", _timeit(lambda i: pseudonymise_normalised(fresh[i], cold),
                                                                 args.runs)))

    stores = build_stores(Settings(database_url="sqlite:///:memory:", demo=True))
    src = Source("web", "ops@shop.example", "h", now)
    batches = [{"batch": [_message(b * args.batch + j, args.shoppers) for j in range(args.batch)]}
               for b in range(max(1, args.runs // args.batch))]
    plain = IngestService(stores, master_key="m" * 40)
    mapped = IngestService(stores, master_key="m" * 40, pseudonymise=CachedPseudonyms(Pseudonymiser(key)))
    for b in batches[:5]:
        plain.prepare(src, b, received_at=now)  # warm-up (and the cache)
        mapped.prepare(src, b, received_at=now)
    # Interleaved, batch by batch, so that a noisy neighbour on a shared machine hits both alike.
    times = np.empty((2, len(batches)))
    for i, b in enumerate(batches):
        for j, svc in enumerate((plain, mapped)):
            t0 = time.perf_counter_ns()
            svc.prepare(src, b, received_at=now)
            times[j, i] = (time.perf_counter_ns() - t0) / 1e3 / args.batch
    for j, label in enumerate(("prepare() per event, ids as sent", "prepare() per event, pseudonymised")):
        t = times[j]
        rows.append((label, (float(np.median(t)), float(np.percentile(t, 99)), float(t.mean()))))
    d = times[1] - times[0]
    rows.append(("difference (pseudonymised - as sent)", (float(np.median(d)), float(np.percentile(d, 99)),
                                                          float(d.mean()))))
    stores.close()

    print(f"\n{'call':<42} {'median µs':>10} {'p99 µs':>10} {'mean µs':>10}")
    for label, (med, p99, mean) in rows:
        print(f"{label:<42} {med:>10.2f} {p99:>10.2f} {mean:>10.2f}")


if __name__ == "__main__":
    main()
