"""The simulated shop: reproducibility and the invariants every consumer relies on."""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fitloop.data import RETURN_REASONS, Event, EventType, Item, User
from fitloop.errors import InvalidInput
from fitloop.evaluate.simulator import CLIMATES, ShopConfig, SimulatedShop

SMALL = ShopConfig(n_items=300, n_shoppers=150, n_events=15_000, n_days=30, seed=11)


@pytest.fixture(scope="module")
def shop() -> SimulatedShop:
    return SimulatedShop.generate(SMALL)


def test_same_seed_gives_identical_shop(shop: SimulatedShop) -> None:
    again = SimulatedShop.generate(SMALL)
    pd.testing.assert_frame_equal(shop.events.frame, again.events.frame)
    assert shop.items == again.items
    np.testing.assert_array_equal(shop.weather.temperature_c, again.weather.temperature_c)


def test_different_seed_gives_different_shop(shop: SimulatedShop) -> None:
    other = SimulatedShop.generate(ShopConfig(n_items=300, n_shoppers=150, n_events=15_000, n_days=30, seed=12))
    assert not shop.events.frame["item_id"].equals(other.events.frame["item_id"])
    assert [i.price for i in shop.items] != [i.price for i in other.items]


def test_event_count_lands_near_target(shop: SimulatedShop) -> None:
    assert 0.9 * SMALL.n_events <= len(shop.events) <= 1.1 * SMALL.n_events


def test_event_ids_unique_and_times_inside_window(shop: SimulatedShop) -> None:
    f = shop.events.frame
    assert f["event_id"].is_unique
    start = pd.Timestamp(SMALL.start)
    assert f["ts"].min() >= start
    assert f["ts"].max() < start + pd.Timedelta(days=SMALL.n_days)
    assert f["ts"].is_monotonic_increasing
    assert set(f["type"]) <= {t.value for t in EventType}


def test_every_order_line_names_a_size_the_item_has(shop: SimulatedShop) -> None:
    sizes = {i.item_id: {v.size for v in i.variants} for i in shop.items}
    orders = shop.events.of_type(EventType.ORDER_COMPLETED)
    assert len(orders) > 50
    for item_id, size in zip(orders["item_id"], orders["size"], strict=True):
        assert size in sizes[item_id]
    assert orders["order_id"].notna().all()
    assert (orders["price"] > 0).all() and (orders["quantity"] >= 1).all()


def test_returns_follow_an_earlier_order_of_the_same_shopper(shop: SimulatedShop) -> None:
    f = shop.events.frame
    orders = f[f["type"] == "order_completed"].set_index(["order_id", "item_id"])
    returns = f[f["type"] == "product_returned"]
    assert len(returns) > 10
    assert set(returns["reason"]) <= set(RETURN_REASONS)
    for row in returns.itertuples():
        o = orders.loc[(row.order_id, row.item_id)]
        o = o.iloc[0] if isinstance(o, pd.DataFrame) else o
        assert o["user_id"] == row.user_id
        assert o["ts"] < row.ts
        assert o["size"] == row.size


def test_cancellations_refer_to_orders_and_are_never_returned(shop: SimulatedShop) -> None:
    f = shop.events.frame
    orders = f[f["type"] == "order_completed"]
    cancels = f[f["type"] == "order_cancelled"]
    assert len(cancels) > 0
    first_order_ts = orders.groupby("order_id")["ts"].min()
    assert cancels["order_id"].isin(first_order_ts.index).all()
    assert (cancels["ts"].to_numpy() > first_order_ts.loc[cancels["order_id"]].to_numpy()).all()
    returned = set(f.loc[f["type"] == "product_returned", "order_id"])
    assert not returned & set(cancels["order_id"])


def test_properties_of_behaviour_events(shop: SimulatedShop) -> None:
    events = list(shop.events)
    assert len(events) == len(shop.events) and all(isinstance(e, Event) for e in events[:10])
    by_type: dict[EventType, list[Event]] = {}
    for e in events:
        by_type.setdefault(e.type, []).append(e)
    for e in by_type[EventType.DWELL]:
        assert e.properties["surface"] in ("card", "detail", "buyer_show") and e.properties["dwell_ms"] > 0
    for e in by_type[EventType.SCROLL]:
        assert 0.0 <= e.properties["depth"] <= 1.0 and e.item_id is None
    for e in by_type[EventType.SEARCH]:
        assert isinstance(e.properties["query"], str) and e.properties["query"]
    for e in by_type[EventType.ORDER_COMPLETED]:
        assert e.properties["order_id"].startswith("o") and 0.0 <= e.properties["discount"] < 1.0
    for e in by_type[EventType.PRODUCT_RETURNED]:
        assert e.properties["reason"] in RETURN_REASONS
    for t in (EventType.PRODUCT_CLICKED, EventType.PRODUCT_VIEWED, EventType.CART_ADDED, EventType.FAVOURITED):
        assert by_type[t] and all(e.item_id for e in by_type[t])


def test_nobody_interacts_with_an_item_before_it_arrives(shop: SimulatedShop) -> None:
    created = {i.item_id: i.created_at for i in shop.items}
    start = datetime.combine(SMALL.start, datetime.min.time())
    new = [i for i in shop.items if i.created_at and i.created_at > start]
    assert len(new) > 0.1 * len(shop.items)  # new arrivals over the window
    f = shop.events.frame.dropna(subset=["item_id"])
    arrival = pd.to_datetime(f["item_id"].map(created))
    assert (f["ts"] >= arrival).all()


def test_catalog_structure(shop: SimulatedShop) -> None:
    items = shop.items
    assert len({i.item_id for i in items}) == SMALL.n_items
    by_code: dict[str, list[Item]] = {}
    for i in items:
        by_code.setdefault(i.product_code, []).append(i)
        assert i.variants and i.seasons and i.colour in i.description and i.article_type in i.description
        assert i.eco == (i.material in ("organic cotton", "recycled polyester", "lyocell"))
    assert len(by_code) < len(items)  # colourways share a product code
    for group in by_code.values():
        assert len({(i.article_type, i.price, i.style) for i in group}) == 1
    cats = {i.category for i in items}
    assert {"tops", "bottoms", "dresses", "outerwear", "shoes", "accessories"} <= cats
    assert any(v.stock == 0 for i in items for v in i.variants)  # some sizes sold out


def test_shoppers_and_hidden_tastes_align(shop: SimulatedShop) -> None:
    assert all(isinstance(u, User) and u.city in SMALL.cities for u in shop.shoppers)
    frame = shop.hidden_tastes.to_frame()
    assert list(frame.index) == [u.user_id for u in shop.shoppers]
    assert {"style", "colours", "price_band_low", "size_top", "eco_pref", "boredom"} <= set(frame.columns)
    assert (frame["price_band_low"] < frame["price_band_high"]).all()


def test_weather_follows_each_city_climate(shop: SimulatedShop) -> None:
    w = shop.weather
    assert w.temperature_c.shape == (len(SMALL.cities), SMALL.n_days + SMALL.online_days)
    assert (w.rain_mm >= 0).all()
    year = SimulatedShop.generate(ShopConfig(n_items=50, n_shoppers=5, n_events=50, n_days=1, online_days=364)).weather
    for k, city in enumerate(year.cities):
        cl = CLIMATES[city]
        assert abs(year.temperature_c[k].mean() - (cl.coldest_c + cl.warmest_c) / 2) < 2.5
        assert 0.5 * cl.rain_mm_year < year.rain_mm[k].sum() < 1.6 * cl.rain_mm_year
    ctx = shop.context("u000001", 3)
    assert ctx.city == shop.shoppers[0].city and ctx.day == SMALL.start + timedelta(days=3)


def test_bad_configs_are_refused() -> None:
    with pytest.raises(InvalidInput, match="n_items"):
        ShopConfig(n_items=5)
    with pytest.raises(InvalidInput, match="no climate"):
        SimulatedShop.generate(ShopConfig(n_items=50, n_shoppers=5, n_events=100, n_days=2, cities=("Atlantis",)))


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 10_000), n_items=st.integers(20, 120), n_shoppers=st.integers(1, 40))
def test_invariants_hold_for_any_small_shop(seed: int, n_items: int, n_shoppers: int) -> None:
    cfg = ShopConfig(n_items=n_items, n_shoppers=n_shoppers, n_events=1_500, n_days=8, seed=seed)
    s = SimulatedShop.generate(cfg)
    f = s.events.frame
    assert f["event_id"].is_unique
    assert f["ts"].max() < pd.Timestamp(cfg.start) + pd.Timedelta(days=cfg.n_days)
    assert all(v.stock >= 0 for i in s.items for v in i.variants)
    orders = f[f["type"] == "order_completed"]
    assert set(f.loc[f["type"] == "product_returned", "order_id"]) <= set(orders["order_id"])


def test_history_reflects_hidden_tastes_and_weather(shop: SimulatedShop) -> None:
    f = shop.events.of_type(EventType.PRODUCT_CLICKED)
    items = {i.item_id: i for i in shop.items}
    tastes = shop.hidden_tastes.to_frame()
    clicked_style = f["item_id"].map(lambda i: items[i].style)
    own_style = f["user_id"].map(tastes["style"])
    base = pd.Series([i.style for i in shop.items]).value_counts(normalize=True)
    chance = float(own_style.map(base).mean())
    assert float((clicked_style == own_style).mean()) > 1.5 * chance
    # Eco lovers click eco items more than the least eco-minded third.
    eco = f["item_id"].map(lambda i: items[i].eco).astype(float)
    pref = f["user_id"].map(tastes["eco_pref"])
    assert eco[pref > pref.quantile(2 / 3)].mean() > eco[pref < pref.quantile(1 / 3)].mean()
    # Colder days, warmer clothes.
    temp = [
        shop.weather.at(shop.shoppers[int(u[1:]) - 1].city, ts.date())[0]
        for u, ts in zip(f["user_id"], f["ts"], strict=True)
    ]
    warmth = f["item_id"].map(lambda i: items[i].attributes["warmth"]).astype(float)
    assert np.corrcoef(np.asarray(temp), warmth.to_numpy())[0, 1] < -0.05
