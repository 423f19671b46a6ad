"""`fitloop bandit train` / `score` on full-size logs in the Open Bandit format (synthetic, same file format).

The full Open Bandit Dataset, campaign "all", has about 1.37 M rows in the random log and 12 M in the
BTS log (80 items, 3 positions). This script writes a synthetic log in exactly that file format and
times the CLI on it, so the memory and time of a full-size run are known before anyone runs it on
the real files:

- a leading unnamed index column, then ``timestamp`` (``2019-11-24 00:00:34.762830+00:00``),
  ``item_id`` (int), ``position`` (1, 2, 3), ``click`` (0/1), ``propensity_score`` (float),
  ``user_feature_0..3`` (32-hex-digit hashes; 3, 5, 8 and 8 distinct values as in the sample),
  ``user-item_affinity_0..79`` (``0.0`` in ~95.5 % of rows; small counts 1.0-3.0 otherwise, as in
  the sample);
- gzip CSV (``.csv.gz``) or plain CSV (``.csv``), chosen by the file name;
- ``--policy bts`` draws items from a skewed fixed distribution and writes its probability as the
  propensity (the real BTS log's propensities also vary per row); ``random`` writes 1/80.

Run (writes to /tmp; never commit the files)::

    python benchmarks/obd_scale.py generate --rows 1400000 --out /tmp/obd_scale/random_1p4m.csv.gz
    python benchmarks/obd_scale.py generate --rows 12000000 --policy bts --out /tmp/obd_scale/bts_12m.csv.gz
    python benchmarks/obd_scale.py items --out /tmp/obd_scale/item_context_all.csv
    python benchmarks/obd_scale.py measure --label "score 12M" -- fitloop bandit score --model M --log L --out O

``measure`` runs the command under ``/usr/bin/time -v`` and prints wall time and peak RSS (and appends
them to ``benchmarks/results/obd_scale.jsonl``).
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import io
import json
import os
import platform
import re
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

N_ITEMS = 80
LEN_LIST = 3
USER_CARDINALITY = (3, 5, 8, 8)  # distinct values of user_feature_0..3 in the 10,000-row sample
AFFINITY_ROW_SHARE = 0.045  # rows with any non-zero affinity in the sample
START = np.datetime64("2019-11-24T00:00:00", "us")
SPAN_US = 7 * 24 * 3600 * 10**6  # one week, as the campaign "all" logs


def _hashes(prefix: str, n: int) -> list[str]:
    return [hashlib.md5(f"{prefix}{i}".encode()).hexdigest() for i in range(n)]


def header(n_items: int = N_ITEMS) -> str:
    cols = ["", "timestamp", "item_id", "position", "click", "propensity_score"]
    cols += [f"user_feature_{i}" for i in range(4)] + [f"user-item_affinity_{a}" for a in range(n_items)]
    return ",".join(cols)


def _chunk_lines(start: int, n: int, total: int, policy: str, rng: np.random.Generator) -> str:
    """``n`` data lines starting at row ``start`` of ``total`` (timestamps rise through the week)."""
    rows = np.arange(start, start + n)
    ts = START + (rows * (SPAN_US // total) + rng.integers(0, max(SPAN_US // total, 1), n)).astype("timedelta64[us]")
    ts_txt = np.datetime_as_string(ts, unit="us")
    position = rng.integers(0, LEN_LIST, n)
    if policy == "random":
        item = rng.integers(0, N_ITEMS, n)
        pscore = np.full(n, 1.0 / N_ITEMS)
    else:
        # A fixed skewed distribution (Zipf-like over items, different per position).
        w = 1.0 / (1.0 + np.arange(N_ITEMS)) ** 1.1
        probs = np.stack([np.roll(w, 7 * k) / w.sum() for k in range(LEN_LIST)])
        cum = probs.cumsum(axis=1)
        item = np.minimum((rng.random(n)[:, None] > cum[position]).sum(axis=1), N_ITEMS - 1)
        pscore = probs[position, item]
    users = [rng.integers(0, c, n) for c in USER_CARDINALITY]
    has_aff = rng.random(n) < AFFINITY_ROW_SHARE
    aff_item = rng.integers(0, N_ITEMS, n)
    aff_value = rng.integers(1, 4, n)
    # Clicks: item quality x position x user_feature_0 x a lift when the user has an affinity to the item.
    quality = 0.002 + 0.008 * (np.arange(N_ITEMS) % 9 == 0) + 0.002 * (np.arange(N_ITEMS) % 4 == 1)
    ctr = quality[item] * np.array([1.2, 1.0, 0.8])[position] * np.array([0.8, 1.0, 1.3])[users[0]]
    ctr = np.where(has_aff & (aff_item == item), ctr * 3.0, ctr)
    click = (rng.random(n) < ctr).astype(np.int8)
    names = [_hashes(f"uf{j}-", c) for j, c in enumerate(USER_CARDINALITY)]
    zero_aff = ",0.0" * N_ITEMS
    # Plain Python values: numpy 2 scalars would print as np.float64(...).
    rows_l, item_l, pos_l, click_l = rows.tolist(), item.tolist(), (position + 1).tolist(), click.tolist()
    ps_l, aff_item_l, aff_value_l = pscore.astype(float).tolist(), aff_item.tolist(), aff_value.tolist()
    u0, u1, u2, u3 = ([nm[u] for u in us.tolist()] for nm, us in zip(names, users, strict=True))
    out = io.StringIO()
    for i in range(n):
        if has_aff[i]:
            vals = ["0.0"] * N_ITEMS
            vals[aff_item_l[i]] = f"{aff_value_l[i]:.1f}"
            aff = "," + ",".join(vals)
        else:
            aff = zero_aff
        t = ts_txt[i]
        out.write(
            f"{rows_l[i]},{t[:10]} {t[11:]}+00:00,{item_l[i]},{pos_l[i]},{click_l[i]},{ps_l[i]!r},"
            f"{u0[i]},{u1[i]},{u2[i]},{u3[i]}{aff}\n"
        )
    return out.getvalue()


def generate(rows: int, out: Path, policy: str = "random", seed: int = 0, chunk: int = 200_000) -> Path:
    """Write a ``rows``-row log in the Open Bandit file format to ``out`` (gzip when it ends in .gz)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    opener = (lambda p: gzip.open(p, "wt", compresslevel=1)) if out.suffix == ".gz" else (
        lambda p: open(p, "w", encoding="utf-8"))
    tmp = out.with_name(out.name + ".partial")
    with opener(tmp) as fh:
        fh.write(header() + "\n")
        for start in range(0, rows, chunk):
            fh.write(_chunk_lines(start, min(chunk, rows - start), rows, policy, rng))
    tmp.replace(out)
    return out


def write_item_context(out: Path, seed: int = 0) -> Path:
    """``item_context_all.csv``: unnamed index, item_id, item_feature_0 (float), item_feature_1..3 (hashes)."""
    rng = np.random.default_rng(seed)
    f1, f2, f3 = _hashes("if1-", 12), _hashes("if2-", 4), _hashes("if3-", 3)
    lines = [",item_id,item_feature_0,item_feature_1,item_feature_2,item_feature_3"]
    for a in range(N_ITEMS):
        lines.append(f"{a},{a},{rng.normal()!r},{f1[a % 12]},{f2[a % 4]},{f3[a % 3]}")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return out


def measure(command: list[str], label: str, results: Path | None) -> dict[str, object]:
    """Run ``command`` under ``/usr/bin/time -v``; wall seconds and peak RSS (MiB)."""
    t0 = time.perf_counter()
    proc = subprocess.run(["/usr/bin/time", "-v", *command], capture_output=True, text=True)
    wall = time.perf_counter() - t0
    rss = re.search(r"Maximum resident set size \(kbytes\): (\d+)", proc.stderr)
    user = re.search(r"User time \(seconds\): ([\d.]+)", proc.stderr)
    row: dict[str, object] = {
        "label": label, "command": " ".join(command), "rc": proc.returncode, "wall_s": round(wall, 1),
        "user_s": float(user.group(1)) if user else None,
        "peak_rss_mib": round(int(rss.group(1)) / 1024) if rss else None,
        "load_1min": round(os.getloadavg()[0], 1), "machine": f"{platform.machine()} {os.cpu_count()} cores",
        "date": time.strftime("%Y-%m-%d %H:%M"),
    }
    print(proc.stdout.strip())
    if proc.returncode != 0:
        print(proc.stderr[-3000:], file=sys.stderr)
    print(json.dumps(row))
    if results is not None:
        results.parent.mkdir(parents=True, exist_ok=True)
        with results.open("a", encoding="utf-8") as fh:
            fh.write(json.dumps(row) + "\n")
    return row


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    g = sub.add_parser("generate", help="write a synthetic log in the Open Bandit file format")
    g.add_argument("--rows", type=int, required=True)
    g.add_argument("--out", type=Path, required=True, help="file name ending in .csv.gz or .csv")
    g.add_argument("--policy", choices=("random", "bts"), default="random")
    g.add_argument("--seed", type=int, default=0)
    it = sub.add_parser("items", help="write item_context_all.csv")
    it.add_argument("--out", type=Path, required=True)
    m = sub.add_parser("measure", help="time a command (wall, peak RSS) with /usr/bin/time -v")
    m.add_argument("--label", required=True)
    m.add_argument("--results", type=Path, default=Path(__file__).parent / "results" / "obd_scale.jsonl")
    m.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    if args.cmd == "generate":
        t0 = time.perf_counter()
        path = generate(args.rows, args.out, args.policy, args.seed)
        print(f"wrote {args.rows:,} rows to {path} ({path.stat().st_size / 2**20:,.0f} MiB) "
              f"in {time.perf_counter() - t0:.0f} s")
    elif args.cmd == "items":
        print(f"wrote {write_item_context(args.out)}")
    else:
        cmd = args.command[1:] if args.command[:1] == ["--"] else args.command
        measure(cmd, args.label, args.results)


if __name__ == "__main__":
    main()
