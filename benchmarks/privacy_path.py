"""Speed of the privacy data path: gate, vault, pseudonyms, compliance monitor, scrubbing, DP.

Run: ``/work/venv/bin/python benchmarks/privacy_path.py [--runs 20000] [--texts 2000] [--data-dir ../shared/data]``

Prints the machine, then a table of latencies (median, p99, mean in microseconds) per call.
Scrubbing runs on real fashion free text: ``--texts`` H&M product descriptions (``detail_desc``;
skipped when the data is absent). They hold no personal data, so every finding printed is a false
positive.
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import numpy as np

from fitloop.errors import DatasetError
from fitloop.privacy import (
    ComplianceMonitor,
    ConsentLedger,
    DPAggregator,
    InMemoryDataKeyStore,
    MasterKeyring,
    Observation,
    PrivacyGate,
    Pseudonymiser,
    Vault,
    default_manifest,
    default_rules,
)
from fitloop.privacy.scrub import Scrubber


def _timeit(fn: Callable[[int], object], runs: int) -> tuple[float, float, float]:
    times = np.empty(runs)
    for i in range(runs):
        t0 = time.perf_counter_ns()
        fn(i)
        times[i] = (time.perf_counter_ns() - t0) / 1e3
    return float(np.median(times)), float(np.percentile(times, 99)), float(times.mean())


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=20000)
    ap.add_argument("--texts", type=int, default=2000)
    ap.add_argument("--data-dir", default=None)
    args = ap.parse_args()
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"Python {platform.python_version()}")
    rng = random.Random(0)
    t0 = datetime(2026, 3, 1, tzinfo=UTC)
    manifest = default_manifest()
    ledger = ConsentLedger(manifest)
    for u in range(10_000):
        for p in ("analytics", "personalisation", "marketing_email"):
            if rng.random() < 0.6:
                ledger.grant(f"u{u}", p, t0)
    gate = PrivacyGate(manifest)
    vault = Vault(MasterKeyring({1: os.urandom(32)}, current=1), InMemoryDataKeyStore())
    pseudo = Pseudonymiser(os.urandom(32))
    monitor = ComplianceMonitor(default_rules(manifest), None)
    fields = {"item_id": "sku-1", "price": 19.9, "list_id": "home", "position": 3, "phone": "13800138000"}
    cts = [vault.encrypt(f"p{i}", "identity", "email", str(i), f"p{i}@example.com") for i in range(1000)]

    rows: list[tuple[str, tuple[float, float, float]]] = [
        ("gate.check_for (10k shoppers)", _timeit(
            lambda i: gate.check_for(ledger, f"u{i % 10_000}", "product_viewed", fields), args.runs)),
        ("ledger.allowed", _timeit(lambda i: ledger.allowed(f"u{i % 10_000}", "analytics"), args.runs)),
        ("vault.encrypt (existing key)", _timeit(
            lambda i: vault.encrypt(f"p{i % 1000}", "identity", "email", "r", "anna@example.com"), args.runs)),
        ("vault.decrypt", _timeit(
            lambda i: vault.decrypt(f"p{i % 1000}", "identity", "email", str(i % 1000), cts[i % 1000]), args.runs)),
        ("pseudonym", _timeit(lambda i: pseudo.pseudonym(f"u{i}"), args.runs)),
        ("monitor.observe (6 rules)", _timeit(
            lambda i: monitor.observe(Observation(f"src{i % 50}", ts=t0 + timedelta(milliseconds=i),
                                                  event_type="product_viewed", purposes=("analytics",))),
            args.runs)),
    ]
    agg = DPAggregator(epsilon_total=1e9, min_group_size=20)
    groups = {f"segment-{k}": rng.randint(0, 5000) for k in range(50)}
    rows.append(("dp.histogram (50 groups)", _timeit(lambda i: agg.histogram(groups, epsilon=0.1), 500)))

    b0 = time.perf_counter()
    scrubber = Scrubber()
    build_s = time.perf_counter() - b0
    texts: list[str] = []
    try:
        from fitloop.datasets.hm import load_articles

        pool = load_articles(args.data_dir)["detail_desc"].dropna().astype(str)
        pool = pool[pool.str.len() > 20]
        texts = pool.sample(min(args.texts, len(pool)), random_state=0).tolist()
    except DatasetError as exc:
        print(f"(scrub on real text skipped: {exc})")
    findings: Counter[str] = Counter()
    if texts:
        def one(i: int) -> None:
            findings.update(f.entity for f in scrubber.scrub(texts[i]).findings)

        rows.append((f"scrub (H&M description, mean {np.mean([len(t) for t in texts]):.0f} chars)", _timeit(one, len(texts))))
    print(f"\nscrubber build: {build_s:.2f} s (once per process)")
    print("\n| operation | median µs | p99 µs | mean µs |\n|---|---:|---:|---:|")
    for name, (med, p99, mean) in rows:
        print(f"| {name} | {med:.1f} | {p99:.1f} | {mean:.1f} |")
    if texts:
        print(f"\nscrub findings in {len(texts)} H&M product descriptions (all false positives): "
              f"{dict(findings) or 'none'}")


if __name__ == "__main__":
    main()
