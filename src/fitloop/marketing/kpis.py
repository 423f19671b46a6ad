"""The overview numbers a marketer watches, computed from events and served lists.

Definitions (also shown in the console):

- **click rate**: clicks on recommended items ÷ recommended items shown (per slot).
- **conversion**: shoppers who ordered ÷ shoppers who viewed anything, per day.
- **average order value**: revenue ÷ orders (an order is one ``order_id``; lines without one count alone).
- **repurchase rate**: shoppers with orders on two or more days ÷ shoppers with any order.
- **return rate**: returned lines ÷ ordered lines.
- **revenue from recommendations**: revenue of order lines whose item was shown to that shopper by a
  recommendation in the ``attribution_days`` before the order (last-touch, per slot).

>>> import pandas as pd
>>> ev = pd.DataFrame({"user_id": ["u", "u"], "item_id": ["a", "a"], "ts": pd.to_datetime(["2025-01-01", "2025-01-02"]),
...                    "kind": ["product_viewed", "order_completed"], "value": [1.0, 2.0], "price": [None, 10.0]})
>>> k = compute_kpis(ev, pd.DataFrame(columns=["user_id", "item_id", "ts", "slot"]))
>>> k.totals["orders"], k.totals["revenue"], k.totals["average_order_value"]
(1, 20.0, 20.0)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["KpiReport", "compute_kpis"]

CLICK_KINDS = ("product_clicked",)
VIEW_KINDS = ("product_viewed", "product_clicked", "page")


@dataclass
class KpiReport:
    totals: dict[str, float]
    by_slot: pd.DataFrame = field(default_factory=pd.DataFrame)
    by_day: pd.DataFrame = field(default_factory=pd.DataFrame)

    def to_dict(self) -> dict[str, Any]:
        return {
            "totals": self.totals,
            "by_slot": self.by_slot.reset_index().to_dict(orient="records"),
            "by_day": self.by_day.reset_index().assign(day=lambda d: d["day"].astype(str)).to_dict(orient="records")
            if len(self.by_day) else [],
        }


def _safe(num: float, den: float) -> float:
    return float(num) / float(den) if den else 0.0


def compute_kpis(events: pd.DataFrame, impressions: pd.DataFrame, *, attribution_days: int = 7) -> KpiReport:
    """``events``: the interactions frame (+ optional ``order_id``); ``impressions``: one row per shown item
    with ``user_id, item_id, ts, slot``."""
    ev = events.copy()
    ev["ts"] = pd.to_datetime(ev["ts"])
    orders = ev[ev["kind"] == "order_completed"].copy()
    orders["revenue"] = orders["price"].fillna(0.0) * orders["value"].fillna(1.0)
    if "order_id" not in orders.columns:
        orders["order_id"] = None
    order_keys = orders["order_id"].where(orders["order_id"].notna(), orders.index.astype(str))
    n_orders = int(order_keys.nunique())
    revenue = float(orders["revenue"].sum())
    returns = int((ev["kind"] == "product_returned").sum())
    buyers_days = orders.assign(day=orders["ts"].dt.normalize()).groupby("user_id")["day"].nunique()
    viewers = ev[ev["kind"].isin(VIEW_KINDS)]["user_id"].nunique()

    imp = impressions.copy()
    by_slot = pd.DataFrame(columns=["shown", "clicks", "click_rate", "attributed_revenue"])
    attributed_total = 0.0
    if len(imp):
        imp["ts"] = pd.to_datetime(imp["ts"])
        clicks = ev[ev["kind"].isin(CLICK_KINDS)][["user_id", "item_id", "ts"]]
        # A click counts for a slot when the item was shown to that shopper in that slot within a day before.
        m = imp.merge(clicks, on=["user_id", "item_id"], suffixes=("_shown", "_click"))
        m = m[(m["ts_click"] >= m["ts_shown"]) & (m["ts_click"] - m["ts_shown"] <= pd.Timedelta(days=1))]
        clicked = m.drop_duplicates(["user_id", "item_id", "ts_shown", "slot"]).groupby("slot").size()
        shown = imp.groupby("slot").size()
        mo = imp.merge(orders[["user_id", "item_id", "ts", "revenue"]], on=["user_id", "item_id"], suffixes=("_shown", "_order"))
        mo = mo[(mo["ts_order"] >= mo["ts_shown"]) & (mo["ts_order"] - mo["ts_shown"] <= pd.Timedelta(days=attribution_days))]
        # Last touch: each order line is credited to the most recent showing before it.
        mo = mo.sort_values("ts_shown").drop_duplicates(["user_id", "item_id", "ts_order"], keep="last")
        attributed = mo.groupby("slot")["revenue"].sum()
        attributed_total = float(attributed.sum())
        by_slot = pd.DataFrame({"shown": shown, "clicks": clicked}).fillna(0)
        by_slot["click_rate"] = by_slot["clicks"] / by_slot["shown"].where(by_slot["shown"] > 0, np.nan)
        by_slot["attributed_revenue"] = attributed.reindex(by_slot.index).fillna(0.0)
        by_slot.index.name = "slot"

    daily = ev.assign(day=ev["ts"].dt.normalize())
    by_day = pd.DataFrame({
        "viewers": daily[daily["kind"].isin(VIEW_KINDS)].groupby("day")["user_id"].nunique(),
        "buyers": daily[daily["kind"] == "order_completed"].groupby("day")["user_id"].nunique(),
        "revenue": orders.assign(day=orders["ts"].dt.normalize()).groupby("day")["revenue"].sum(),
        "returns": daily[daily["kind"] == "product_returned"].groupby("day").size(),
    }).fillna(0.0)
    by_day["conversion"] = by_day["buyers"] / by_day["viewers"].where(by_day["viewers"] > 0, np.nan)
    by_day.index.name = "day"

    totals = {
        "orders": n_orders,
        "order_lines": int(len(orders)),
        "revenue": round(revenue, 2),
        "average_order_value": round(_safe(revenue, n_orders), 2),
        "conversion": round(_safe(int((buyers_days > 0).sum()), viewers), 4),
        "repurchase_rate": round(_safe(int((buyers_days >= 2).sum()), len(buyers_days)), 4),
        "return_rate": round(_safe(returns, len(orders)), 4),
        "click_rate": round(_safe(float(by_slot["clicks"].sum()), float(by_slot["shown"].sum())), 4) if len(by_slot) else 0.0,
        "revenue_from_recommendations": round(attributed_total, 2),
    }
    return KpiReport(totals, by_slot, by_day)
