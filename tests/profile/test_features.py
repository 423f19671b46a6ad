"""Profile features: incremental == batch, decay math, lifecycle, wording, empty profiles, JSON."""

from __future__ import annotations

import json
import math
from datetime import datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fitloop.data import Event, EventType, Item
from fitloop.errors import InvalidInput
from fitloop.profile.decay import DAY, DecayedCounter, decay_factor
from fitloop.profile.features import Profile, ProfileBuilder, ProfileConfig, category_medians
from fitloop.profile.lifecycle import LifecycleConfig, lifecycle_stage

T0 = datetime(2026, 1, 1, 9, 0)

ITEMS = {
    "d1": Item("d1", "Floral dress", "dresses", "dress", 60.0, colour="red", pattern="floral",
               material="viscose", style="romantic", occasion="party"),
    "d2": Item("d2", "Plain dress", "dresses", "dress", 40.0, colour="black", pattern="plain",
               material="organic cotton", style="minimalist", occasion="work", eco=True),
    "b1": Item("b1", "Blazer", "jackets", "blazer", 120.0, colour="navy", pattern="plain",
               material="wool", style="minimalist", occasion="work"),
    "t1": Item("t1", "Tee", "tops", "t-shirt", 15.0, colour="white", pattern="plain",
               material="organic cotton", style="casual", occasion="everyday", eco=True),
}


def ev(i: int, kind: EventType, day: float, item: str | None = "d1", user: str = "u1", **kw: Any) -> Event:
    props = kw.pop("properties", {})
    return Event(f"e{i}", kind, user, T0 + timedelta(days=day), item, **kw, properties=props)


# ------------------------------------------------------------------ incremental == batch

KINDS = [
    EventType.PRODUCT_VIEWED, EventType.PRODUCT_CLICKED, EventType.CART_ADDED, EventType.FAVOURITED,
    EventType.ORDER_COMPLETED, EventType.ORDER_CANCELLED, EventType.PRODUCT_RETURNED, EventType.DWELL,
    EventType.PAGE,
]

event_st = st.builds(
    lambda i, kind, day, item, user, size, price, disc, reason, channel: Event(
        f"e{i}", kind, user, T0 + timedelta(days=day), item, size, 1, price,
        {"discount": disc, "reason": reason, "channel": channel},
    ),
    i=st.integers(0, 10**9),
    kind=st.sampled_from(KINDS),
    day=st.floats(0, 5000, allow_nan=False),  # years apart: exercises rebasing of the decay landmark
    item=st.sampled_from([*ITEMS, "unknown-item", None]),
    user=st.sampled_from(["u1", "u2", "u3"]),
    size=st.sampled_from(["S", "M", "L", "38", "40", None]),
    price=st.one_of(st.none(), st.floats(1, 500, allow_nan=False)),
    disc=st.sampled_from([None, 0.0, 0.3]),
    reason=st.sampled_from([None, "too_small", "too_large", "quality"]),
    channel=st.sampled_from(["web", "app", None]),
)


def assert_close(a: Any, b: Any, path: str = "") -> None:
    if isinstance(a, dict):
        assert isinstance(b, dict) and set(a) == set(b), f"{path}: keys {set(a) ^ set(b)}"
        for k in a:
            assert_close(a[k], b[k], f"{path}.{k}")
    elif isinstance(a, float) and isinstance(b, float):
        assert math.isclose(a, b, rel_tol=1e-7, abs_tol=1e-9), f"{path}: {a} != {b}"
    else:
        assert a == b, f"{path}: {a!r} != {b!r}"


@settings(max_examples=80, deadline=None)
@given(events=st.lists(event_st, min_size=1, max_size=40), data=st.data())
def test_incremental_in_any_arrival_order_equals_batch_rebuild(events: list[Event], data: st.DataObject) -> None:
    arrival = data.draw(st.permutations(events))
    live = ProfileBuilder.from_items(ITEMS.values())
    for e in arrival:
        live.learn_one(e, ITEMS.get(e.item_id or ""))
    batch = ProfileBuilder().build(events, ITEMS)
    assert set(batch) == set(live.profiles)
    as_of = T0 + timedelta(days=5001)
    for uid, p in batch.items():
        # Compare at the last event and at a common later date (decay applied lazily on read).
        assert_close(live.get(uid).features(), p.features(), uid)
        assert_close(live.get(uid).features(as_of), p.features(as_of), uid)
        # And through a JSON round trip, as stored in the profiles table / Redis.
        restored = Profile.from_dict(json.loads(json.dumps(live.get(uid).to_dict())))
        assert_close(restored.features(as_of), p.features(as_of), uid)


# ------------------------------------------------------------------ decay math


def test_decay_factor_halves_per_half_life() -> None:
    assert decay_factor(0.0, 7.0) == 1.0
    assert decay_factor(7 * DAY, 7.0) == pytest.approx(0.5)
    assert decay_factor(21 * DAY, 7.0) == pytest.approx(0.125)


def test_decayed_counter_equals_direct_sum_and_survives_rebase() -> None:
    c = DecayedCounter(half_life_days=1.0)
    stamps = [0.0, 3 * DAY, 700 * DAY, 1400 * DAY, 2 * DAY]  # past the 600-half-life rebase, one out of order
    for t in stamps:
        c.add("k", 2.0, t)
    as_of = 1401 * DAY
    direct = sum(2.0 * decay_factor(as_of - t, 1.0) for t in stamps)
    assert c.value("k", as_of) == pytest.approx(direct, rel=1e-12)
    assert c.value("k", as_of) == pytest.approx(1.0)  # only the event one day ago still counts: 2 * 0.5
    assert c.value("missing", as_of) == 0.0


def test_short_affinity_fades_faster_than_long() -> None:
    b = ProfileBuilder()
    b.learn_one(ev(1, EventType.PRODUCT_VIEWED, 0, "d1"), ITEMS["d1"])
    p = b.get("u1")
    f = p.features(T0 + timedelta(days=7))
    assert p.short["pattern"].value("floral", (T0 + timedelta(days=7)).timestamp()) == pytest.approx(0.5)
    assert p.long["pattern"].value("floral", (T0 + timedelta(days=90)).timestamp()) == pytest.approx(0.5)
    assert f["affinity_short"]["pattern"] == {"floral": 1.0}


def test_invalid_half_lives_are_refused() -> None:
    with pytest.raises(InvalidInput):
        ProfileConfig(short_half_life_days=30, long_half_life_days=7)
    with pytest.raises(InvalidInput):
        DecayedCounter(half_life_days=0)


# ------------------------------------------------------------------ RFM, price, eco, returns


def test_rfm_price_eco_and_returns() -> None:
    b = ProfileBuilder.from_items(ITEMS.values())
    b.learn_one(ev(1, EventType.ORDER_COMPLETED, 0, "d1", size="M", price=30.0, properties={"discount": 0.5}), ITEMS["d1"])
    b.learn_one(ev(2, EventType.ORDER_COMPLETED, 10, "d2", size="M", price=40.0), ITEMS["d2"])
    b.learn_one(ev(3, EventType.ORDER_COMPLETED, 20, "t1", size="M", price=15.0), ITEMS["t1"])
    b.learn_one(ev(4, EventType.PRODUCT_RETURNED, 25, "d1", size="M", properties={"reason": "too_small"}), ITEMS["d1"])
    f = b.get("u1").features(T0 + timedelta(days=30))
    assert f["frequency_orders"] == 3.0
    assert f["monetary_total"] == pytest.approx(85.0)
    assert f["recency_days"] == pytest.approx(10.0)
    assert f["discount_share"] == pytest.approx(1 / 3)
    # category medians: dresses 50, tops 15 -> paid 30/50, 40/50, 15/15
    assert f["price_index"] == pytest.approx((0.6 * 0.8 * 1.0) ** (1 / 3))
    assert f["eco_share"] == pytest.approx(2 / 3)
    assert f["return_rate"] == pytest.approx(1 / 3)
    assert f["return_reasons"] == {"too_small": 1.0}
    assert f["price_band"]["dresses"]["typical"] == pytest.approx(math.sqrt(30 * 40))
    assert f["sizes"]["dresses"]["too_small"] == 1.0
    assert f["lifecycle"] == "loyal"


def test_cancellation_undoes_the_order() -> None:
    b = ProfileBuilder()
    b.learn_one(ev(1, EventType.ORDER_COMPLETED, 0, "d1", price=60.0), ITEMS["d1"])
    b.learn_one(ev(2, EventType.ORDER_CANCELLED, 1, "d1", price=60.0), ITEMS["d1"])
    f = b.get("u1").features()
    assert f["frequency_orders"] == 0.0 and f["monetary_total"] == 0.0


def test_channel_and_time_habits() -> None:
    b = ProfileBuilder()
    for i in range(3):  # 09:00 UTC on a Thursday, in the app
        b.learn_one(ev(i, EventType.PRODUCT_VIEWED, i * 7, "d1", properties={"channel": "app"}), ITEMS["d1"])
    b.learn_one(ev(9, EventType.PRODUCT_VIEWED, 2.5, "d1", properties={"channel": "web"}), ITEMS["d1"])  # 21:00 Sat
    f = b.get("u1").features()
    assert f["preferred_channel"] == "app" and f["channels"]["app"] == pytest.approx(0.75)
    assert f["preferred_daypart"] == "morning" and f["dayparts"]["evening"] == pytest.approx(0.25)
    assert f["weekend_share"] == pytest.approx(0.25)


# ------------------------------------------------------------------ lifecycle


@pytest.mark.parametrize(
    ("first", "last", "last_order", "orders", "stage"),
    [
        (None, None, None, 0, "unknown"),
        (5, 1, None, 0, "new"),
        (5, 1, 1, 1, "new"),
        (100, 3, None, 0, "exploring"),
        (100, 3, 20, 2, "exploring"),
        (100, 3, 20, 3, "loyal"),
        (300, 3, 61, 5, "at_risk"),
        (300, 3, 181, 5, "lapsed"),
        (300, 200, None, 0, "lapsed"),
    ],
)
def test_lifecycle_rules(first: float | None, last: float | None, last_order: float | None, orders: int,
                         stage: str) -> None:
    got = lifecycle_stage(first_seen_days=first, last_seen_days=last, last_order_days=last_order, orders=orders,
                          config=LifecycleConfig())
    assert got == stage


def test_lifecycle_moves_with_time_without_events() -> None:
    b = ProfileBuilder()
    for i in range(3):
        b.learn_one(ev(i, EventType.ORDER_COMPLETED, i, "d1", price=60.0), ITEMS["d1"])
    p = b.get("u1")
    stages = [p.features(T0 + timedelta(days=d))["lifecycle"] for d in (3, 70, 200)]
    assert stages == ["loyal", "at_risk", "lapsed"]


# ------------------------------------------------------------------ wording


def test_explain_tells_short_trial_from_long_loyalty() -> None:
    b = ProfileBuilder.from_items(ITEMS.values())
    i = 0
    for d in range(0, 180, 6):  # months of minimalist workwear
        for item in ("d2", "b1"):
            i += 1
            b.learn_one(ev(i, EventType.PRODUCT_VIEWED, d, item), ITEMS[item])
    for d in (180, 181, 182, 183):  # a burst of floral dresses this week
        for _ in range(3):
            i += 1
            b.learn_one(ev(i, EventType.PRODUCT_VIEWED, d, "d1"), ITEMS["d1"])
    lines = b.get("u1").explain()
    assert lines[0] == "loves floral red dress lately (last 7 days) but long-term loyal to minimalist work dress"


def test_explain_price_and_returns_wording() -> None:
    b = ProfileBuilder.from_items(ITEMS.values())
    for i, disc in enumerate([0.3, 0.3, 0.0, 0.2, 0.0]):
        b.learn_one(ev(i, EventType.ORDER_COMPLETED, i, "d2", size="M", price=40.0 * (1 - disc),
                       properties={"discount": disc}), ITEMS["d2"])
    b.learn_one(ev(10, EventType.PRODUCT_RETURNED, 6, "d2", size="M", properties={"reason": "too_small"}), ITEMS["d2"])
    b.learn_one(ev(11, EventType.PRODUCT_RETURNED, 6, "d2", size="M", properties={"reason": "too_small"}), ITEMS["d2"])
    lines = b.get("u1").explain()
    assert "price-sensitive: 60 % of purchases discounted" in lines
    assert "usually returns: too small (40 % of items returned)" in lines
    assert "eco-minded: 100 % of purchases in eco materials" in lines
    assert "wears M in dresses" in lines


# ------------------------------------------------------------------ unknown shopper, JSON, misuse


def test_unknown_shopper_gets_an_empty_profile_that_says_so() -> None:
    p = ProfileBuilder().get("nobody")
    assert p.known is False
    f = p.features()
    assert f["known"] is False and f["note"] == "no data yet for this shopper" and f["lifecycle"] == "unknown"
    assert p.explain() == ["no data yet for this shopper"]
    d = json.loads(json.dumps(p.to_dict()))
    assert Profile.from_dict(d).known is False


def test_from_dict_refuses_other_half_lives_and_versions() -> None:
    b = ProfileBuilder()
    b.learn_one(ev(1, EventType.PRODUCT_VIEWED, 0, "d1"), ITEMS["d1"])
    d = b.get("u1").to_dict()
    with pytest.raises(InvalidInput, match="half-lives"):
        Profile.from_dict(d, ProfileConfig(short_half_life_days=3))
    with pytest.raises(InvalidInput, match="version"):
        Profile.from_dict({**d, "version": 99})


def test_event_for_another_shopper_is_refused() -> None:
    with pytest.raises(InvalidInput):
        Profile("u1").learn_one(ev(1, EventType.PRODUCT_VIEWED, 0, "d1", user="u2"), ITEMS["d1"])


def test_category_medians() -> None:
    assert category_medians(ITEMS.values()) == {"dresses": 50.0, "jackets": 120.0, "tops": 15.0}
