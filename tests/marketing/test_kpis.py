"""KPIs on a tiny hand-checked history."""

from __future__ import annotations

import pandas as pd
import pytest

from fitloop.marketing.kpis import compute_kpis


def test_kpis_by_hand() -> None:
    t = pd.Timestamp("2025-01-01 10:00")
    ev = pd.DataFrame(
        [
            ("u1", "a", t, "product_viewed", 1.0, None, None),
            ("u1", "a", t + pd.Timedelta(minutes=1), "product_clicked", 1.0, None, None),
            ("u1", "a", t + pd.Timedelta(hours=1), "order_completed", 1.0, 30.0, "o1"),
            ("u1", "b", t + pd.Timedelta(hours=1), "order_completed", 2.0, 10.0, "o1"),
            ("u1", "c", t + pd.Timedelta(days=3), "order_completed", 1.0, 50.0, "o2"),
            ("u2", "a", t, "product_viewed", 1.0, None, None),
            ("u1", "b", t + pd.Timedelta(days=5), "product_returned", 1.0, None, None),
        ],
        columns=["user_id", "item_id", "ts", "kind", "value", "price", "order_id"],
    )
    imp = pd.DataFrame(
        [("u1", "a", t - pd.Timedelta(minutes=5), "home"), ("u1", "x", t - pd.Timedelta(minutes=5), "home"),
         ("u2", "a", t, "product")],
        columns=["user_id", "item_id", "ts", "slot"],
    )
    k = compute_kpis(ev, imp)
    assert k.totals["orders"] == 2
    assert k.totals["revenue"] == 100.0
    assert k.totals["average_order_value"] == 50.0
    assert k.totals["conversion"] == 0.5           # 1 of 2 viewers bought
    assert k.totals["repurchase_rate"] == 1.0      # u1 bought on two days
    assert k.totals["return_rate"] == pytest.approx(1 / 3, abs=1e-4)
    assert k.by_slot.loc["home", "clicks"] == 1 and k.by_slot.loc["home", "click_rate"] == 0.5
    assert k.totals["revenue_from_recommendations"] == 30.0   # item a, shown on home before the order
    d = k.to_dict()
    assert d["totals"]["orders"] == 2 and d["by_slot"][0]["slot"] in ("home", "product")
