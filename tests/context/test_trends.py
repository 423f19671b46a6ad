from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from fitloop.context.trends import TrendConfig, TrendTracker
from fitloop.data import Event, EventType
from fitloop.errors import InvalidInput

T0 = datetime(2026, 4, 1)


def _ev(i: int, day: float, item: str = "i", kind: EventType = EventType.PRODUCT_CLICKED) -> Event:
    return Event(f"e{i}", kind, "u", T0 + timedelta(days=day), item)


def test_steady_tag_has_velocity_near_one_and_rising_tag_above() -> None:
    t = TrendTracker()
    n = 0
    for d in range(60):
        for _ in range(5):
            n += 1
            t.learn_one(_ev(n, d), ["denim"])
        if d >= 55:
            for _ in range(10):
                n += 1
                t.learn_one(_ev(n, d, "i2"), ["floral"])
    now = T0 + timedelta(days=60)
    assert 0.8 < t.velocity("denim", now) < 1.25
    assert t.velocity("floral", now) > 2.0
    assert t.item_velocity("i2", now) > t.item_velocity("i", now)
    # Fading: a week later with no events, floral's pace falls below its long-run rate.
    assert t.velocity("floral", now + timedelta(days=10)) < 1.0
    assert t.velocity("never-seen") == 1.0


def test_feed_tags_count_with_their_source() -> None:
    t = TrendTracker()
    t.learn_one(_ev(1, 0), ["linen"])
    t.add_feed_tags(["Linen", "bucket hat"], weight=10, source="weibo", ts=T0 + timedelta(days=1))
    assert t.sources("linen") == {"weibo": 10.0}
    assert t.velocity("bucket hat", T0 + timedelta(days=1)) > 1.5
    assert t.top(2, T0 + timedelta(days=1))[0][0] in {"linen", "bucket hat"}
    with pytest.raises(InvalidInput):
        t.add_feed_tags(["x"], weight=0)


def test_impressions_do_not_count_and_orders_count_more() -> None:
    t = TrendTracker()
    t.learn_one(_ev(1, 0, kind=EventType.IMPRESSION), ["a"])
    assert t.velocity("a") == 1.0
    with pytest.raises(InvalidInput):
        TrendTracker(TrendConfig(short_half_life_days=30, long_half_life_days=7))
