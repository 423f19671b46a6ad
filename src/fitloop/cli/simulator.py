"""``fitloop simulate``: write a simulated fashion shop (catalog, shoppers, weather, events) to a folder.

Files written into ``--out``:

- ``events.csv.gz``: one row per event (columns of :data:`fitloop.evaluate.simulator.EVENT_COLUMNS`);
  item ids are digit strings like H&M's, so read ``item_id`` and ``size`` as ``str``.
- ``items.jsonl``: one catalog item per line, with ``variants`` (size, stock at the end of the window).
- ``shoppers.csv``: the public shopper table (user_id, created_at, city, age_band, channel).
- ``weather.csv``: city, day, temperature_c, rain_mm (window plus the online days).
- ``hidden_tastes.csv``: only with ``--with-hidden`` (ground truth for experiments; never for training).
- ``manifest.json``: the config, the event counts and the generation time.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict
from datetime import date
from pathlib import Path
from typing import Annotated

import pandas as pd
import typer
from rich.console import Console

from fitloop.errors import InvalidInput
from fitloop.evaluate.simulator import ShopConfig, SimulatedShop

__all__ = ["register", "simulate"]


def simulate(
    out: Annotated[Path, typer.Option("--out", help="Folder to write the shop into (created if missing).")],
    seed: Annotated[int, typer.Option(help="Random seed; the same seed writes the same shop.")] = 0,
    items: Annotated[int, typer.Option(help="Catalog items (colourways).")] = 5000,
    shoppers: Annotated[int, typer.Option(help="Shoppers.")] = 2000,
    events: Annotated[int, typer.Option(help="Target number of events.")] = 200_000,
    days: Annotated[int, typer.Option(help="Days of history.")] = 90,
    start: Annotated[str, typer.Option(help="First day, YYYY-MM-DD.")] = "2026-03-01",
    with_hidden: Annotated[bool, typer.Option("--with-hidden", help="Also write the shoppers' hidden tastes.")] = False,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Replace files in a non-empty --out folder.")] = False,
) -> None:
    """Generate a seeded simulated fashion shop and write it as CSV/JSON files."""
    try:
        first_day = date.fromisoformat(start)
    except ValueError:
        raise InvalidInput(f"--start must be a date like 2026-03-01, got {start!r}") from None
    if out.exists() and not out.is_dir():
        raise InvalidInput(f"--out {out} is a file; name a folder")
    if out.is_dir() and any(out.iterdir()) and not overwrite:
        raise InvalidInput(f"--out {out} is not empty; pass --overwrite to replace its files")
    config = ShopConfig(n_items=items, n_shoppers=shoppers, n_events=events, n_days=days, start=first_day, seed=seed)
    console = Console(stderr=True)
    t0 = time.perf_counter()
    with console.status("simulating the shop"):
        shop = SimulatedShop.generate(config)
    seconds = time.perf_counter() - t0
    out.mkdir(parents=True, exist_ok=True)
    with console.status(f"writing {out}"):
        shop.events.frame.to_csv(out / "events.csv.gz", index=False)
        with (out / "items.jsonl").open("w", encoding="utf-8") as fh:
            for it in shop.items:
                row = asdict(it)
                row["created_at"] = it.created_at.isoformat() if it.created_at else None
                row["attributes"] = dict(it.attributes)
                fh.write(json.dumps(row, ensure_ascii=False) + "\n")
        pd.DataFrame(
            {
                "user_id": [u.user_id for u in shop.shoppers],
                "created_at": [u.created_at.isoformat() if u.created_at else "" for u in shop.shoppers],
                "city": [u.city for u in shop.shoppers],
                "age_band": [u.traits.get("age_band") for u in shop.shoppers],
                "channel": [u.traits.get("channel") for u in shop.shoppers],
            }
        ).to_csv(out / "shoppers.csv", index=False)
        shop.weather_frame().to_csv(out / "weather.csv", index=False)
        if with_hidden:
            shop.hidden_tastes.to_frame().to_csv(out / "hidden_tastes.csv")
        manifest = {
            "config": {k: (v.isoformat() if isinstance(v, date) else v) for k, v in asdict(config).items()},
            "events": len(shop.events),
            "event_counts": shop.events.counts(),
            "widget_item_ids": shop.widget_item_ids,
            "generate_seconds": round(seconds, 3),
        }
        (out / "manifest.json").write_text(json.dumps(manifest, indent=2), encoding="utf-8")
    typer.echo(
        f"wrote {len(shop.events):,} events, {len(shop.items):,} items, {len(shop.shoppers):,} shoppers to {out}"
    )


def register(app: typer.Typer) -> None:
    """Add ``simulate`` to the main app."""
    app.command("simulate")(simulate)
