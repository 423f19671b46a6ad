"""Speed of the wired privacy path on the embedded store (SQLite): the ingest gate with the stored consent
ledger, recording consent, export and erasure of one shopper.

Run: ``/work/venv/bin/python benchmarks/privacy_wired.py [--shoppers 1000] [--events 20000]``

Prints the machine, then a table of latencies (median, p99 in microseconds or milliseconds) per call.
The gate is measured per event on a warm consent cache (the usual case: a shopper sends several events
a second) and on a cold one (the first event after the 1 s cache expired: one SQL query).
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from fitloop.config import Settings
from fitloop.data import Event, EventType
from fitloop.services.privacy import PrivacyCollectionGate
from fitloop.store import Source
from fitloop.wiring import build


def timed(fn: Callable[[], object], runs: int) -> np.ndarray:
    out = np.empty(runs)
    for i in range(runs):
        t0 = time.perf_counter()
        fn()
        out[i] = time.perf_counter() - t0
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--shoppers", type=int, default=1000)
    ap.add_argument("--events", type=int, default=20000)
    args = ap.parse_args()
    rng = random.Random(0)
    tmp = Path(tempfile.mkdtemp())
    ctr = build(Settings(data_dir=tmp, demo=True, log_json=False, log_level="WARNING"))
    pv = ctr.privacy
    assert pv is not None and ctr.subjects is not None and ctr.ingest is not None
    users = [f"u{i:06d}" for i in range(args.shoppers)]
    t_consent = timed(lambda: pv.record_consent(rng.choice(users), {"analytics": True, "personalisation": True},
                                                source="banner"), args.shoppers)
    for u in users:
        pv.record_consent(u, {"analytics": True, "personalisation": True}, source="banner")
    gate = PrivacyCollectionGate(pv, scrub=str)
    src = Source("web", "ops@shop.example", "h", datetime.now(UTC))
    now = datetime.now(UTC)

    def one(user: str) -> None:
        gate.check(src, Event(f"web:{rng.random()}", EventType.PRODUCT_VIEWED, user, now, item_id="i1",
                              properties={"item_id": "i1", "price": 19.9}, source="web"), ())

    warm = timed(lambda: one(users[0]), args.events)
    cold_users = iter(users * 100)

    def cold() -> None:
        u = next(cold_users)
        pv.invalidate(u)
        one(u)

    cold_t = timed(cold, min(args.events, 5000))
    ctr.ingest.start()
    web, _, _ = ctr.ingest.add_source("bench", "ops@shop.example")
    victims = users[:20]
    for v in victims:
        ctr.ingest.ingest(web, {"batch": [{"type": "track", "event": "product_viewed", "messageId": f"{v}-{i}",
                                           "userId": v, "properties": {"item_id": f"i{i}"}} for i in range(100)]})
        pv.store_identity(v, {"email": f"{v}@example.com"})
    it = iter(victims)
    export_t = timed(lambda: ctr.subjects.export(next(it)), 10)  # type: ignore[union-attr]
    erase_t = timed(lambda: ctr.subjects.erase(next(it)), 10)  # type: ignore[union-attr]
    ctr.close()
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, Python "
          f"{platform.python_version()}; SQLite in {tmp}; {args.shoppers} shoppers")
    print(f"{'call':<44}{'median':>12}{'p99':>12}")
    for name, arr, unit, scale in [
        ("gate check, warm consent cache", warm, "µs", 1e6),
        ("gate check, cold cache (1 SQL read)", cold_t, "µs", 1e6),
        ("record consent (2 purposes, SQL write)", t_consent, "ms", 1e3),
        ("export one shopper (100 events)", export_t, "ms", 1e3),
        ("erase one shopper (100 events, all stores)", erase_t, "ms", 1e3),
    ]:
        print(f"{name:<44}{np.median(arr) * scale:>10.1f}{unit}{np.percentile(arr, 99) * scale:>10.1f}{unit}")


if __name__ == "__main__":
    main()
