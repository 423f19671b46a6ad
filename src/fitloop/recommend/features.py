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

__all__ = ["build_features", "feature_columns", "SHARE_COLUMNS", "DETAIL_FEATURES"]

#: The detailed repurchase, style and rhythm features of :func:`_repurchase_features`. Built always,
#: but the default ranker leaves them out: on the H&M sample's validation weeks they brought no gain
#: over the coarser ``ui_n`` / ``ui_days_since`` / ``ui_code_n`` (docs/evaluation/recommend_tuning.md),
#: and with ~15 positives a week every extra feature is mostly variance. A shop with more repeat
#: purchases can switch them on with ``RankerConfig(exclude_features=())``.
DETAIL_FEATURES: tuple[str, ...] = (
    "ui_decay_7", "ui_decay_30", "ui_decay_90", "ui_n_days", "ui_first_days", "ui_days_since_rel",
    "u_n_days", "u_median_gap", "u_repeat_share", "u_days_since_last_rel", "i_price_trend",
    "ui_code_decay_30", "ui_code_days_since", "ui_code_n_items", "i_code_pop_all", "i_code_pop_4w",
)

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
    out = _repurchase_features(out, p, meta if "product_code" in cols else None)
    ctx_week = float(data.now.isocalendar().week)
    out["ctx_week_of_year"] = ctx_week
    return out.drop(columns=[c for c in (*attrs, "product_code") if c in out.columns])


def _repurchase_features(out: pd.DataFrame, p: pd.DataFrame, meta: pd.DataFrame | None) -> pd.DataFrame:
    """Who rebuys what, and when: most of what a shopper buys next that a model can foresee is an item or
    a style she bought before, so these features describe that history in detail.

    Per (shopper, item): purchase weight with three half-lives (count and recency in one number), the
    number of distinct purchase days (rebought on another day, not two sizes at once), the first
    purchase, and whether it was in her last basket. Per (shopper, product_code): the same for the style.
    Per shopper: how often she rebuys, her usual gap between shopping days and how overdue she is.
    Per item and style: recent sales of the whole style and whether the price has dropped (a sale).
    """
    p = p.assign(day=np.floor(p["age_days"].to_numpy(dtype=float)))
    age = p["age_days"].to_numpy(dtype=float)
    p = p.assign(d7=decay(age, 7.0), d30=decay(age, 30.0), d90=decay(age, 90.0))
    ui = p.groupby(["user_id", "item_id"], sort=False).agg(
        ui_decay_7=("d7", "sum"), ui_decay_30=("d30", "sum"), ui_decay_90=("d90", "sum"),
        ui_n_days=("day", "nunique"), ui_first_days=("age_days", "max"))
    out = out.join(ui, on=["user_id", "item_id"])
    for c in ("ui_decay_7", "ui_decay_30", "ui_decay_90", "ui_n_days"):
        out[c] = out[c].fillna(0.0)

    days = p[["user_id", "day"]].drop_duplicates().sort_values(["user_id", "day"], kind="mergesort")
    gaps = days.groupby("user_id", sort=False)["day"].diff().abs()
    first_day = p.groupby(["user_id", "item_id"], sort=False)["day"].transform("max")
    rebuy = (p["day"] < first_day).astype(float)  # bought again on a later day than the first time
    u = pd.DataFrame({
        "u_n_days": days.groupby("user_id", sort=False).size().astype(float),
        "u_median_gap": gaps.groupby(days["user_id"], sort=False).median(),
        "u_repeat_share": rebuy.groupby(p["user_id"], sort=False).mean(),
    })
    out = out.join(u, on="user_id")
    out["u_days_since_last_rel"] = out["u_days_since_last"] / out["u_median_gap"].clip(lower=1.0)
    out["ui_days_since_rel"] = out["ui_days_since"] - out["u_days_since_last"]

    recent = p.loc[age <= 28.0]
    if "price" in p.columns and p["price"].notna().any():
        price_4w = recent.groupby("item_id")["price"].mean()
        out["i_price_trend"] = out["item_id"].map(price_4w) / out["i_mean_price"]
    if meta is not None:
        code = p["item_id"].map(meta["product_code"])
        pc = p.assign(product_code=code.to_numpy())
        uc = pc.groupby(["user_id", "product_code"], sort=False).agg(
            ui_code_decay_30=("d30", "sum"), ui_code_days_since=("age_days", "min"), ui_code_n_items=("item_id", "nunique"))
        out = out.join(uc, on=["user_id", "product_code"])
        for c in ("ui_code_decay_30", "ui_code_n_items"):
            out[c] = out[c].fillna(0.0)
        ic = pc.groupby("product_code", sort=False).agg(i_code_pop_all=("age_days", "size"))
        ic["i_code_pop_4w"] = pc.loc[age <= 28.0].groupby("product_code").size()
        out = out.join(ic, on="product_code")
        for c in ("i_code_pop_all", "i_code_pop_4w"):
            out[c] = out[c].fillna(0.0)
    return out
