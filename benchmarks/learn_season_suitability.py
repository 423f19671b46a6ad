"""Learn the shipped season-suitability model from the real data and print what it learned.

    /work/venv/bin/python benchmarks/learn_season_suitability.py [--data-dir ../shared/data] [--out PATH]

Writes src/fitloop/catalog/season_suitability_default.json (numbers only, no data rows) and
prints the slopes and the suitability of a few reference items at 2 °C and 28 °C.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from fitloop.catalog.season_suitability import DEFAULT_MODEL_FILE, SuitabilityConfig, learn_suitability
from fitloop.context.weather import week_temperatures
from fitloop.data import Item
from fitloop.datasets import hm, myntra


def stockholm_week_temperature() -> dict[int, float]:
    """Typical temperature of each ISO week in Stockholm (H&M's home market), from climate normals."""
    return week_temperatures("Stockholm")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data-dir", default=None)
    ap.add_argument("--out", default=str(Path(__file__).resolve().parents[1] / "src/fitloop/catalog" / DEFAULT_MODEL_FILE))
    args = ap.parse_args()
    t0 = time.time()
    styles = myntra.load_styles(args.data_dir)
    tx = hm.load_transactions(args.data_dir)
    arts = hm.load_articles(args.data_dir)
    model = learn_suitability(styles, tx, arts, stockholm_week_temperature(), SuitabilityConfig())
    model = type(model)(model.types, model.colours, model.materials, model.labels, model.occasions, model.config,
                        dict(model.sources) | {"week_temperature": "Stockholm climate normals by ISO week",
                                               "learned_with": "benchmarks/learn_season_suitability.py"})
    model.save(args.out)
    print(f"learned in {time.time() - t0:.1f} s; wrote {args.out}")
    print(f"{len(model.types)} article types, colours {model.colours}, {len(model.materials)} materials")
    top = sorted(model.types.items(), key=lambda kv: kv[1])
    print("most winter-ish:", [(model.labels.get(k, k), round(v, 3)) for k, v in top[:10]])
    print("most summer-ish:", [(model.labels.get(k, k), round(v, 3)) for k, v in top[-10:]])
    print("materials:", {k: round(v, 3) for k, v in sorted(model.materials.items(), key=lambda kv: kv[1])})
    refs = [
        Item("a", "Linen dress", "dresses", "Dress", 30, colour="light beige", material="linen"),
        Item("b", "Shorts", "bottoms", "Shorts", 20, colour="white"),
        Item("c", "Wool coat", "outerwear", "Coat", 90, colour="black", material="wool"),
        Item("d", "Padded jacket", "outerwear", "Jacket", 60, colour="black", material="padded"),
        Item("e", "Sweater", "tops", "Sweater", 35, colour="grey"),
        Item("f", "T-shirt", "tops", "T-shirt", 10, colour="white", material="cotton"),
        Item("g", "Sandals", "shoes", "Sandals", 25),
        Item("h", "Boots", "shoes", "Boots", 70, colour="black"),
    ]
    print(f"{'item':16} {'2 °C':>6} {'15 °C':>6} {'28 °C':>6}  reason at 28 °C")
    for it in refs:
        s = [model.score(it, t).score for t in (2, 15, 28)]
        print(f"{it.title:16} {s[0]:6.2f} {s[1]:6.2f} {s[2]:6.2f}  {model.score(it, 28, city='Shanghai').reason}")


if __name__ == "__main__":
    main()
