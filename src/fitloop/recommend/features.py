"""Ranking features for (shopper, candidate item) pairs: user, item, user x item and context.

Everything is computed from :class:`~fitloop.recommend.frames.TrainData`, i.e. from behaviour
strictly before ``now``, so that training rows (labels from a later week) and serving rows see
the same kind of information. Missing values stay ``NaN``; LightGBM handles them.

>>> import pandas as pd
>>> from fitloop.data import make_interactions
>>> from fitloop.recommend.frames import TrainData
>>> ev = make_interactions(["u", "u"], ["a", "b"], ["2024-01-01", "2024-01-03"])
>>> data = TrainData.build(ev, pd.DataFrame({"item_id": ["a", "b"], "product_type": ["dress", "top"]}),
...                        pd.Timestamp("2024-01-06"), {"order_completed": 1.0}, ["order_completed"])
>>> f = build_features(pd.DataFrame({"user_id": ["u", "u"], "item_id": ["a", "b"]}), data)
>>> f[["ui_n", "ui_last_type_match", "ui_product_type_share"]].values.tolist()
[[1.0, 0.0, 0.5], [1.0, 1.0, 0.5]]
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from fitloop.recommend.candidates.base import decay
from fitloop.recommend.candidates.content import ContentCandidates
from fitloop.recommend.frames import TrainData

__all__ = ["build_features", "feature_columns", "SHARE_COLUMNS"]

#: Item attributes whose share in a shopper's history becomes a feature ("how much of what she buys is
#: a dress").
SHARE_COLUMNS: tuple[str, ...] = ("product_type", "department", "colour", "index_name", "category", "style")


def feature_columns(df: pd.DataFrame) -> list[str]:
    """The model inputs among ``df``'s columns (everything but ids, labels and explanation fields)."""
    return [c for c in df.columns if c.startswith(("u_", "i_", "ui_", "src_", "ctx_"))]


def _user_stats(data: TrainData, p: pd.DataFrame) -> pd.DataFrame:
    g = p.groupby("user_id", sort=False)
    out = pd.DataFrame({
        "u_n": g.size().astype(float),
        "u_n_items": g["item_id"].nunique().astype(float),
        "u_days_since_last": g["age_days"].min(),
        "u_days_since_first": g["age_days"].max(),
        "u_mean_price": g["price"].mean() if "price" in p.columns else np.nan,
        "u_n_4w": p.loc[p["age_days"] <= 28].groupby("user_id").size().astype(float),
        "u_n_events": data.events.groupby("user_id").size().astype(float),
    })
    if "channel" in p.columns:
        out["u_online_share"] = (p["channel"] == "online").groupby(p["user_id"]).mean()
    out["u_n_4w"] = out["u_n_4w"].fillna(0.0)
    return out


def _item_stats(data: TrainData, p: pd.DataFrame) -> pd.DataFrame:
    g = p.groupby("item_id", sort=False)
    w = decay(p["age_days"], 7.0)
    out = pd.DataFrame({
        "i_pop_1w": p.loc[p["age_days"] <= 7].groupby("item_id").size().astype(float),
        "i_pop_4w": p.loc[p["age_days"] <= 28].groupby("item_id").size().astype(float),
        "i_pop_all": g.size().astype(float),
        "i_pop_decay": pd.Series(w, index=p["item_id"].to_numpy()).groupby(level=0).sum(),
        "i_days_since_first": g["age_days"].max(),
        "i_days_since_last": g["age_days"].min(),
        "i_n_users": g["user_id"].nunique().astype(float),
        "i_mean_price": g["price"].mean() if "price" in p.columns else np.nan,
        # Seasonality: what sold in the coming weeks one year ago.
        "i_pop_last_year": p.loc[(p["age_days"] > 336) & (p["age_days"] <= 365)].groupby("item_id").size().astype(float),
    })
    for c in ("i_pop_1w", "i_pop_4w", "i_pop_last_year"):
        out[c] = out[c].fillna(0.0)
    if "channel" in p.columns:
        out["i_online_share"] = (p["channel"] == "online").groupby(p["item_id"]).mean()
    reps = g["user_id"].size() - g["user_id"].nunique()
    out["i_repeat_rate"] = reps.astype(float) / out["i_pop_all"]
    return out


def build_features(cands: pd.DataFrame, data: TrainData, content: ContentCandidates | None = None) -> pd.DataFrame:
    """Add feature columns to ``cands`` (``user_id, item_id`` plus any ``src_*`` columns); rows keep their order."""
    p = data.purchases if not data.purchases.empty else data.events
    items = data.items
    out = cands.reset_index(drop=True).copy()
    out = out.join(_user_stats(data, p), on="user_id")
    out = out.join(_item_stats(data, p), on="item_id")
    for c in ("i_pop_1w", "i_pop_4w", "i_pop_all", "i_pop_decay", "i_pop_last_year"):
        out[c] = out[c].fillna(0.0)
    out["u_n"] = out["u_n"].fillna(0.0)

    attrs = [c for c in SHARE_COLUMNS if c in items.columns]
    cols = ["item_id", *attrs] + (["product_code"] if "product_code" in items.columns else [])
    meta = items[cols].set_index("item_id")
    out = out.join(meta, on="item_id")
    if "price" in items.columns:
        out["i_list_price"] = out["item_id"].map(items.set_index("item_id")["price"]).astype(float)
    ui = p.groupby(["user_id", "item_id"], sort=False).agg(ui_n=("age_days", "size"), ui_days_since=("age_days", "min"))
    out = out.join(ui, on=["user_id", "item_id"])
    out["ui_n"] = out["ui_n"].fillna(0.0).astype(float)
    last = p.sort_values("age_days", kind="mergesort").drop_duplicates("user_id").set_index("user_id")["item_id"]
    pm = p[["user_id", "item_id"]].join(meta, on="item_id")
    for a in attrs:
        share = pm.groupby(["user_id", a], sort=False).size() / pm.groupby("user_id").size()
        share.name = f"ui_{a}_share"
        out = out.join(share, on=["user_id", a])
        out[share.name] = out[share.name].fillna(0.0)
    if "product_type" in attrs:
        last_type = last.map(meta["product_type"])
        out["ui_last_type_match"] = (out["user_id"].map(last_type) == out["product_type"]).astype(float)
    if "product_code" in cols:
        code_n = pm.groupby(["user_id", "product_code"]).size()
        code_n.name = "ui_code_n"
        out = out.join(code_n, on=["user_id", "product_code"])
        out["ui_code_n"] = out["ui_code_n"].fillna(0.0)
    price = out["i_mean_price"] if "i_list_price" not in out.columns else out["i_list_price"].fillna(out["i_mean_price"])
    out["ui_price_ratio"] = price / out["u_mean_price"]
    if content is not None:
        emb = content.embeddings
        idx = data.item_index
        rows = out["item_id"].map(idx).to_numpy(dtype=np.int64)
        users, inv = np.unique(out["user_id"].to_numpy(dtype=str), return_inverse=True)
        dim = emb.shape[1]
        profs = [content.profile(str(u)) for u in users]
        known = np.array([q is not None for q in profs], dtype=bool)
        pm = np.stack([q if q is not None else np.zeros(dim, dtype=np.float32) for q in profs]) if len(users) else np.zeros((0, dim), np.float32)
        sims = np.einsum("ij,ij->i", emb[rows], pm[inv]).astype(float)
        sims[~known[inv]] = np.nan
        out["ui_content_sim"] = sims
    ctx_week = float(data.now.isocalendar().week)
    out["ctx_week_of_year"] = ctx_week
    return out.drop(columns=[c for c in (*attrs, "product_code") if c in out.columns])
