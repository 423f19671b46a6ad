"""The two tables every recommender component trains on, and the adapters that produce them.

Items are a :class:`pandas.DataFrame` with one row per item: ``item_id`` (str) plus whatever
attribute columns the shop has. The standard columns the components look for (each optional)
are ``title``, ``product_code`` (same style, other colour), ``product_type``, ``category``,
``colour``, ``pattern``, ``material``, ``style``, ``occasion``, ``department``, ``section``,
``garment_group``, ``index_name``, ``description``, ``price`` and ``created_at``.

:func:`items_frame` maps the simulator's :class:`~fitloop.data.Item` objects to that table,
:func:`articles_frame` maps H&M ``articles.csv``; :func:`transactions_frame` maps H&M purchases
to the standard interactions frame of :mod:`fitloop.data` (plus a ``channel`` column).

>>> from fitloop.data import Item
>>> df = items_frame([Item("a", "Linen shirt", "tops", "shirt", 25.0, colour="white", product_code="p1")])
>>> df.loc[0, ["item_id", "title", "product_type", "category", "product_code"]].tolist()
['a', 'Linen shirt', 'shirt', 'tops', 'p1']
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from fitloop.data import Item
from fitloop.errors import InvalidInput

__all__ = [
    "items_frame",
    "articles_frame",
    "transactions_frame",
    "check_items",
    "TrainData",
    "DAY",
]

DAY = pd.Timedelta(days=1)

_HM_RENAME = {
    "article_id": "item_id",
    "prod_name": "title",
    "product_type_name": "product_type",
    "product_group_name": "category",
    "colour_group_name": "colour",
    "graphical_appearance_name": "pattern",
    "perceived_colour_master_name": "perceived_colour",
    "department_name": "department",
    "section_name": "section",
    "garment_group_name": "garment_group",
    "detail_desc": "description",
}


def items_frame(items: Iterable[Item]) -> pd.DataFrame:
    """One row per :class:`~fitloop.data.Item`, with the standard column names."""
    rows = [
        {
            "item_id": str(it.item_id),
            "title": it.title,
            "product_code": it.product_code or str(it.item_id),
            "product_type": it.article_type,
            "category": it.category,
            "colour": it.colour,
            "pattern": it.pattern,
            "material": it.material,
            "style": it.style,
            "occasion": it.occasion,
            "seasons": " ".join(it.seasons),
            "eco": bool(it.eco),
            "description": it.description,
            "price": float(it.price),
            "created_at": pd.Timestamp(it.created_at).tz_localize(None) if it.created_at is not None else pd.NaT,
        }
        for it in items
    ]
    if not rows:
        raise InvalidInput("items_frame needs at least one item")
    df = pd.DataFrame(rows)
    df["created_at"] = pd.to_datetime(df["created_at"])
    return check_items(df)


def articles_frame(articles: pd.DataFrame) -> pd.DataFrame:
    """H&M ``articles.csv`` (as :func:`fitloop.datasets.hm.load_articles` returns it) in standard columns.

    >>> a = pd.DataFrame({"article_id": ["0108775015"], "product_code": ["0108775"], "prod_name": ["Strap top"],
    ...                   "product_type_name": ["Vest top"], "detail_desc": ["Jersey top."]})
    >>> articles_frame(a).loc[0, ["item_id", "title", "product_type", "description"]].tolist()
    ['0108775015', 'Strap top', 'Vest top', 'Jersey top.']
    """
    df = articles.rename(columns={k: v for k, v in _HM_RENAME.items() if k in articles.columns})
    return check_items(df)


def transactions_frame(transactions: pd.DataFrame) -> pd.DataFrame:
    """H&M purchases as the standard interactions frame (``kind='order_completed'``) plus ``channel``.

    ``channel`` is ``'store'`` for sales channel 1 and ``'online'`` for 2.
    """
    needed = {"t_dat", "customer_id", "article_id"}
    if not needed <= set(transactions.columns):
        raise InvalidInput(f"H&M transactions need columns {sorted(needed)}; got {list(transactions.columns)}")
    n = len(transactions)
    ch = transactions["sales_channel_id"] if "sales_channel_id" in transactions.columns else pd.Series(2, index=transactions.index)
    df = pd.DataFrame(
        {
            "user_id": transactions["customer_id"].astype(str).to_numpy(),
            "item_id": transactions["article_id"].astype(str).to_numpy(),
            "ts": pd.to_datetime(transactions["t_dat"]).to_numpy(),
            "kind": np.full(n, "order_completed", dtype=object),
            "value": np.ones(n),
            "price": transactions["price"].astype(float).to_numpy() if "price" in transactions.columns else np.full(n, np.nan),
            "channel": np.where(ch.to_numpy() == 1, "store", "online"),
        }
    )
    return df


def check_items(items: pd.DataFrame) -> pd.DataFrame:
    """Return ``items`` with a unique str ``item_id`` and a ``title``; raise :class:`InvalidInput` otherwise."""
    if "item_id" not in items.columns:
        raise InvalidInput("the items frame needs an 'item_id' column (one row per item)")
    if (items.index.equals(pd.RangeIndex(len(items))) and items["item_id"].dtype == object and "title" in items.columns
            and items["title"].dtype == object and items["item_id"].is_unique):
        return items  # already checked: keeping the same object lets per-catalog caches hit
    df = items.reset_index(drop=True).copy()
    df["item_id"] = df["item_id"].astype(str).astype(object)
    if df["item_id"].duplicated().any():
        dup = df.loc[df["item_id"].duplicated(), "item_id"].iloc[0]
        raise InvalidInput(f"the items frame lists item_id {dup!r} more than once; keep one row per item")
    if "title" not in df.columns:
        df["title"] = df["item_id"]
    df["title"] = df["title"].fillna("").astype(str).astype(object)
    return df


@dataclass
class TrainData:
    """Behaviour strictly before ``now`` plus the catalog: what one training run may see.

    ``events`` holds the interactions with ``ts < now`` and two derived columns: ``weight``
    (the event kind's weight, times ``value`` for orders) and ``age_days`` (days before ``now``).
    ``purchases`` is the subset whose kind is one of ``target_kinds``.
    """

    events: pd.DataFrame
    items: pd.DataFrame
    now: pd.Timestamp
    purchases: pd.DataFrame = field(init=False)
    item_index: dict[str, int] = field(init=False)

    @classmethod
    def build(
        cls,
        interactions: pd.DataFrame,
        items: pd.DataFrame,
        now: pd.Timestamp,
        event_weights: dict[str, float],
        target_kinds: Sequence[str],
    ) -> TrainData:
        known = pd.Index(items["item_id"]).get_indexer(interactions["item_id"]) >= 0
        ev = interactions.loc[(interactions["ts"] < now).to_numpy() & known]
        w = ev["kind"].map(event_weights).astype(float).fillna(0.0)
        keep = (w != 0).to_numpy()
        ev = ev.loc[keep].copy()
        ev["weight"] = w.to_numpy()[keep]
        is_order = np.isin(ev["kind"].to_numpy(dtype=object), list(target_kinds))
        ev.loc[is_order, "weight"] = ev.loc[is_order, "weight"] * ev.loc[is_order, "value"].clip(lower=1.0)
        ev["age_days"] = (now - ev["ts"]).dt.total_seconds().to_numpy() / 86400.0
        data = cls(events=ev.reset_index(drop=True), items=items, now=now)
        data.purchases = data.events.loc[np.isin(data.events["kind"].to_numpy(dtype=object), list(target_kinds))].reset_index(drop=True)
        data.item_index = {iid: i for i, iid in enumerate(items["item_id"].tolist())}
        return data

    def users(self) -> list[str]:
        """Every user with at least one event, sorted."""
        return sorted(self.events["user_id"].unique().tolist())
