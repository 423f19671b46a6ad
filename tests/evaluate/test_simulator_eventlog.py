"""The columnar event log: Event objects, the interactions frame, and the logged slates for off-policy work."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from fitloop.data import INTERACTION_COLUMNS, EventType
from fitloop.errors import InvalidInput
from fitloop.evaluate.simulator import ShopConfig, SimulatedShop

CFG = ShopConfig(n_items=300, n_shoppers=120, n_events=12_000, n_days=20, seed=21)


@pytest.fixture(scope="module")
def shop() -> SimulatedShop:
    return SimulatedShop.generate(CFG)


def test_events_round_trip_the_frame(shop: SimulatedShop) -> None:
    events = list(shop.events)
    f = shop.events.frame
    assert [e.event_id for e in events] == f["event_id"].tolist()
    assert [e.type.value for e in events] == f["type"].tolist()
    orders = [e for e in events if e.type is EventType.ORDER_COMPLETED]
    rows = shop.events.of_type("order_completed")
    assert [(e.item_id, e.size, e.quantity, e.price) for e in orders] == list(
        zip(rows["item_id"], rows["size"], rows["quantity"], rows["price"], strict=True)
    )
    assert all(e.item_id is None and e.size is None for e in events if e.type is EventType.SEARCH)
    assert sum(shop.events.counts().values()) == len(events)


def test_interactions_frame_follows_the_standard(shop: SimulatedShop) -> None:
    inter = shop.events.to_interactions()
    assert list(inter.columns) == list(INTERACTION_COLUMNS)
    assert inter["item_id"].notna().all() and "impression" not in set(inter["kind"])
    assert pd.api.types.is_datetime64_any_dtype(inter["ts"])
    f = shop.events.frame
    orders = inter[inter["kind"] == "order_completed"]
    assert orders["value"].tolist() == f.loc[f["type"] == "order_completed", "quantity"].astype(float).tolist()
    dwell = inter[inter["kind"] == "dwell"]
    assert (dwell["value"] > 0).all()
    clicks = inter[inter["kind"] == "product_clicked"]
    assert (clicks["value"] == 1.0).all()
    with_imp = shop.events.to_interactions(include_impressions=True)
    assert len(with_imp) == len(inter) + len(shop.events.of_type(EventType.IMPRESSION))


def test_history_logs_random_slates_with_propensities(shop: SimulatedShop) -> None:
    log = shop.events.slate_log()
    assert len(log) > 0 and len(log) % CFG.widget_size == 0
    assert set(log["position"]) == set(range(CFG.widget_size))
    assert np.allclose(log["propensity"], 1.0 / CFG.widget_pool)
    assert set(log["item_id"]) <= set(shop.widget_item_ids) and len(shop.widget_item_ids) == CFG.widget_pool
    per_slate = log.groupby("slate_id")
    assert (per_slate["item_id"].nunique() == CFG.widget_size).all()
    assert (per_slate["user_id"].nunique() == 1).all()
    # every logged click is a product_clicked event of that slate
    f = shop.events.frame
    clicks = f[(f["type"] == "product_clicked") & f["slate_id"].notna()]
    assert int(log["click"].sum()) == len(clicks)


def test_respond_records_the_callers_propensities(shop: SimulatedShop) -> None:
    items = shop.item_ids(25)[:3]
    evs = shop.respond("u000004", items, 25, np.random.default_rng(0), propensities=[0.5, 0.3, 0.2])
    imps = [e for e in evs if e.type is EventType.IMPRESSION]
    assert [e.properties["propensity"] for e in imps] == [0.5, 0.3, 0.2]
    evs = shop.respond("u000004", items, 25, np.random.default_rng(0))
    assert all("propensity" not in e.properties for e in evs if e.type is EventType.IMPRESSION)
    with pytest.raises(InvalidInput, match="one per item"):
        shop.respond("u000004", items, 25, np.random.default_rng(0), propensities=[1.0])


def test_no_widget_means_no_impressions() -> None:
    s = SimulatedShop.generate(ShopConfig(n_items=100, n_shoppers=20, n_events=2_000, n_days=5, widget_rate=0.0))
    assert len(s.events.of_type(EventType.IMPRESSION)) == 0
    assert len(s.events.slate_log()) == 0
