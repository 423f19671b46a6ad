"""The online step API: a policy shows a slate, the simulated shopper responds."""

from __future__ import annotations

import numpy as np
import pytest

from fitloop.data import Context, EventType
from fitloop.errors import InvalidInput, NotFound
from fitloop.evaluate.simulator import ShopConfig, SimulatedShop

CFG = ShopConfig(n_items=400, n_shoppers=60, n_events=4_000, n_days=10, seed=5)


@pytest.fixture()
def shop() -> SimulatedShop:
    return SimulatedShop.generate(CFG)


def _best_and_random(shop: SimulatedShop, uid: str, day: int, rng: np.random.Generator, k: int = 5):
    live = shop.item_ids(day)
    z = shop.true_utility(uid, live, day)
    best = [live[i] for i in np.argsort(-z)[:k]]
    rand = [live[i] for i in rng.choice(len(live), k, replace=False)]
    return best, rand


def test_matching_slates_get_more_clicks_than_random_ones() -> None:
    best_clicks = rand_clicks = 0
    for seed in range(4):
        s = SimulatedShop.generate(ShopConfig(n_items=400, n_shoppers=60, n_events=2_000, n_days=10, seed=seed))
        rng = np.random.default_rng(seed)
        for _ in range(150):
            uid = f"u{int(rng.integers(1, 61)):06d}"
            day = int(rng.integers(10, 40))
            best, rand = _best_and_random(s, uid, day, rng)
            best_clicks += sum(e.type is EventType.PRODUCT_CLICKED for e in s.respond(uid, best, day, rng))
            rand_clicks += sum(e.type is EventType.PRODUCT_CLICKED for e in s.respond(uid, rand, day, rng))
    assert best_clicks > 2 * max(rand_clicks, 1)


def test_expected_click_rate_of_random_slates_is_of_obd_order(shop: SimulatedShop) -> None:
    rng = np.random.default_rng(0)
    probs = []
    for _ in range(400):
        uid = f"u{int(rng.integers(1, 61)):06d}"
        day = int(rng.integers(0, 10))
        live = shop.item_ids(day)
        slate = [live[i] for i in rng.choice(len(live), 3, replace=False)]
        probs.append(shop.click_probability(uid, slate, day).mean())
    assert 0.002 < float(np.mean(probs)) < 0.008


def test_slate_events_are_well_formed_and_ids_continue_the_history(shop: SimulatedShop) -> None:
    rng = np.random.default_rng(1)
    uid = "u000003"
    best, _ = _best_and_random(shop, uid, 12, rng, k=8)
    seen: list = []
    for _ in range(40):
        seen += shop.respond(uid, best, 12, rng)
    impressions = [e for e in seen if e.type is EventType.IMPRESSION]
    assert len(impressions) == 40 * 8
    assert [e.properties["position"] for e in impressions[:8]] == list(range(1, 9))
    assert len({e.properties["slate_id"] for e in impressions}) == 40
    ids = [e.event_id for e in seen] + shop.events.frame["event_id"].tolist()
    assert len(ids) == len(set(ids))
    clicks = [e for e in seen if e.type is EventType.PRODUCT_CLICKED]
    assert clicks and all(e.item_id in best for e in clicks)
    assert all(e.user_id == uid for e in seen)


def test_orders_take_stock_and_returns_come_later(shop: SimulatedShop) -> None:
    rng = np.random.default_rng(2)
    stock_before = {i.item_id: {v.size: v.stock for v in i.variants} for i in shop.items}
    orders, cancels, returns = [], [], []
    for n in range(600):
        uid = f"u{n % 60 + 1:06d}"
        best, _ = _best_and_random(shop, uid, 20, rng)
        for e in shop.respond(uid, best, 20, rng):
            {
                EventType.ORDER_COMPLETED: orders,
                EventType.ORDER_CANCELLED: cancels,
                EventType.PRODUCT_RETURNED: returns,
            }.get(e.type, []).append(e)
    assert orders, "600 well-targeted slates should sell something"
    taken: dict[tuple[str, str], int] = {}
    cancelled_orders = {e.properties["order_id"] for e in cancels}
    for e in orders:
        if e.properties["order_id"] not in cancelled_orders:
            taken[(e.item_id, e.size)] = taken.get((e.item_id, e.size), 0) + e.quantity
    stock_after = {i.item_id: {v.size: v.stock for v in i.variants} for i in shop.items}
    for (item_id, size), q in taken.items():
        assert stock_after[item_id][size] == stock_before[item_id][size] - q
    order_ts = {e.properties["order_id"]: e.ts for e in orders}
    for e in returns:
        assert (e.ts - order_ts[e.properties["order_id"]]).days >= 3


def test_same_state_and_rng_give_the_same_response() -> None:
    a, b = SimulatedShop.generate(CFG), SimulatedShop.generate(CFG)
    slate = a.item_ids(15)[:6]
    ra = a.respond("u000010", slate, 15, np.random.default_rng(9))
    rb = b.respond("u000010", slate, 15, np.random.default_rng(9))
    assert ra == rb


def test_weather_in_the_context_moves_true_utility(shop: SimulatedShop) -> None:
    parkas = [i.item_id for i in shop.items if i.article_type == "parka"]
    tops = [i.item_id for i in shop.items if i.article_type == "vest top"]
    assert parkas and tops
    uid = "u000001"
    cold, hot = Context(temperature_c=-8.0, rain_mm=0.0), Context(temperature_c=32.0, rain_mm=0.0)
    assert shop.true_utility(uid, parkas, 5, cold).mean() > shop.true_utility(uid, parkas, 5, hot).mean()
    assert shop.true_utility(uid, tops, 5, hot).mean() > shop.true_utility(uid, tops, 5, cold).mean()


def test_boredom_lowers_utility_of_an_article_type_shown_again_and_again(shop: SimulatedShop) -> None:
    uid = "u000002"
    item = shop.item_ids(30)[0]
    before = shop.true_utility(uid, [item], 30)[0]
    rng = np.random.default_rng(0)
    for _ in range(20):
        shop.respond(uid, [item], 30, rng)
    assert shop.true_utility(uid, [item], 30)[0] < before
    assert shop.true_utility(uid, [item], 60)[0] > shop.true_utility(uid, [item], 30)[0] - 1e-9  # fades


def test_bad_requests_say_what_to_fix(shop: SimulatedShop) -> None:
    rng = np.random.default_rng(0)
    with pytest.raises(NotFound, match="u000001"):
        shop.respond("nobody", shop.item_ids()[:2], 1, rng)
    with pytest.raises(NotFound, match="unknown item"):
        shop.respond("u000001", ["nope"], 1, rng)
    with pytest.raises(InvalidInput, match="at least one"):
        shop.respond("u000001", [], 1, rng)
    with pytest.raises(InvalidInput, match="outside the simulated weather"):
        shop.respond("u000001", shop.item_ids()[:2], CFG.n_days + CFG.online_days + 1, rng)
