"""Segments on the real H&M sample: found, labelled and checked for stability.

``evaluate_segments()`` reproduces the tables in ``docs/evaluation/segments.md``:
H&M purchases are turned into the standard interactions frame, articles into
items whose attributes read well in labels (garment group, product type,
perceived colour, pattern, section, index group), and :func:`build_segments`
picks k, names the segments and measures their stability (ARI across seeds and
80 % subsamples).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from fitloop.profile.segments import SegmentConfig, SegmentModel, build_segments

__all__ = ["HM_SEGMENT_COLUMNS", "hm_items", "hm_interactions", "evaluate_segments"]

#: fitloop attribute name → H&M article column.
HM_SEGMENT_COLUMNS: dict[str, str] = {
    "line": "index_group_name",
    "category": "garment_group_name",
    "article_type": "product_type_name",
    "colour": "perceived_colour_master_name",
    "pattern": "graphical_appearance_name",
    "style": "section_name",
}


def hm_items(articles: pd.DataFrame) -> pd.DataFrame:
    """H&M articles as an items frame (``item_id`` + the attributes in :data:`HM_SEGMENT_COLUMNS`)."""
    out = pd.DataFrame({"item_id": articles["article_id"].astype(str)})
    for name, col in HM_SEGMENT_COLUMNS.items():
        out[name] = articles[col].astype(str).to_numpy()
    return out


def hm_interactions(transactions: pd.DataFrame) -> pd.DataFrame:
    """H&M purchases as the standard interactions frame (one ``order_completed`` per row)."""
    return pd.DataFrame({
        "user_id": transactions["customer_id"].astype(str),
        "item_id": transactions["article_id"].astype(str),
        "ts": transactions["t_dat"],
        "kind": "order_completed",
        "value": 1.0,
        "price": transactions["price"].astype(float),
    })


def evaluate_segments(
    data_dir: str | Path | None = None,
    config: SegmentConfig | None = None,
    transactions: pd.DataFrame | None = None,
    articles: pd.DataFrame | None = None,
) -> tuple[SegmentModel, dict[str, Any]]:
    """Build segments on the H&M sample; returns the model and a JSON-ready report."""
    if transactions is None or articles is None:
        from fitloop.datasets import hm

        transactions = hm.load_transactions(data_dir) if transactions is None else transactions
        articles = hm.load_articles(data_dir) if articles is None else articles
    cfg = config or SegmentConfig(tag_columns=tuple(HM_SEGMENT_COLUMNS), k_max=16, stability_runs=5)
    model = build_segments(hm_interactions(transactions), hm_items(articles), cfg)
    names = articles.set_index(articles["article_id"].astype(str))
    readable = (names["prod_name"].astype(str) + " (" + names["colour_group_name"].astype(str) + ")").to_dict() \
        if {"prod_name", "colour_group_name"} <= set(names.columns) else {}
    segments = model.summary()
    for row in segments:
        row["typical_item_names"] = [readable.get(i, i) for i in row["typical_items"]]
    report = {
        "n_shoppers": len(model.members),
        "k": model.k,
        "k_scores": {k: round(v, 4) for k, v in sorted(model.k_scores.items())},
        "selection": cfg.selection,
        "stability": model.stability,
        "segments": segments,
    }
    return model, report
