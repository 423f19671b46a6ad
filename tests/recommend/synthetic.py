"""A small synthetic shop with real structure (repeat buying, colourways, favourite types) for fast tests."""

from __future__ import annotations

import numpy as np
import pandas as pd

from fitloop.data import make_interactions
from fitloop.recommend import ALSConfig, ContentConfig, RankerConfig, RecommenderConfig

TYPES = ("dress", "top", "trousers", "skirt", "jacket", "socks")
COLOURS = ("black", "white", "red", "blue")


def shop_items(n_codes: int = 40, colours_per_code: int = 2) -> pd.DataFrame:
    rows = []
    for c in range(n_codes):
        t = TYPES[c % len(TYPES)]
        for j in range(colours_per_code):
            rows.append({"item_id": f"{c:04d}{j:02d}", "product_code": f"{c:04d}", "title": f"{t.title()} {c}",
                         "product_type": t, "colour": COLOURS[(c + j) % len(COLOURS)], "category": "garment",
                         "description": f"a {COLOURS[(c + j) % len(COLOURS)]} {t} with pockets" if c % 3 else ""})
    return pd.DataFrame(rows)


def shop_interactions(items: pd.DataFrame, n_users: int = 80, weeks: int = 10, seed: int = 0,
                      start: str = "2024-01-01") -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    ids = items["item_id"].tolist()
    by_type = {t: items.loc[items["product_type"] == t, "item_id"].tolist() for t in TYPES}
    code_of = dict(zip(items["item_id"], items["product_code"], strict=True))
    by_code = items.groupby("product_code")["item_id"].agg(list).to_dict()
    users, its, ts, ch = [], [], [], []
    t0 = pd.Timestamp(start)
    for u in range(n_users):
        fav = TYPES[u % len(TYPES)]
        own: list[str] = []
        channel = "online" if u % 3 else "store"
        for w in range(weeks):
            if rng.random() > 0.55:
                continue
            for _ in range(int(rng.integers(1, 4))):
                r = rng.random()
                if own and r < 0.4:
                    it = own[int(rng.integers(len(own)))]
                elif own and r < 0.6:
                    it = by_code[code_of[own[-1]]][int(rng.integers(len(by_code[code_of[own[-1]]])))]
                elif r < 0.9:
                    it = by_type[fav][int(rng.integers(len(by_type[fav])))]
                else:
                    it = ids[int(rng.integers(len(ids)))]
                own.append(it)
                users.append(f"u{u:03d}")
                its.append(it)
                ts.append(t0 + pd.Timedelta(days=7 * w + int(rng.integers(7))))
                ch.append(channel)
    df = make_interactions(users, its, ts, price=[10.0 + (hash(i) % 7) for i in its])
    df["channel"] = ch
    return df.sort_values("ts", kind="mergesort").reset_index(drop=True)


def small_config(**kw: object) -> RecommenderConfig:
    """Defaults scaled down so a full train takes about a second."""
    base = dict(
        als=ALSConfig(n=10, embedding_size=8, epochs=5),
        content=ContentConfig(n=10, n_new=5, embedding_size=8),
        ranker=RankerConfig(label_weeks=3, n_estimators=20, min_child_samples=5, num_leaves=7),
        store_n=30,
    )
    base.update(kw)
    return RecommenderConfig(**base)  # type: ignore[arg-type]
