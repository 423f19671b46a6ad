"""Sticky hash assignment of shoppers to A/B arms, and attribution of outcomes to the arm that showed the item."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from fitloop.errors import InvalidInput
from fitloop.marketing.splits import assign_arm, attribute_arms, bucket, look_counts

IDS = [f"shopper-{i}" for i in range(20_000)]


def test_assignment_is_deterministic_and_sticky() -> None:
    first = [assign_arm("exp-1", u, 0.5, salt="s1") for u in IDS[:2000]]
    again = [assign_arm("exp-1", u, 0.5, salt="s1") for u in IDS[:2000]]
    assert first == again
    assert set(first) == {"A", "B"}


@pytest.mark.parametrize("share_b", [0.5, 0.3, 0.1])
def test_allocation_ratio_holds_on_many_ids(share_b: float) -> None:
    n_b = sum(assign_arm("exp-ratio", u, share_b, salt="salt") == "B" for u in IDS)
    # Two-sided exact binomial test: a biased hash would fail this at any reasonable level.
    p = stats.binomtest(n_b, len(IDS), share_b).pvalue
    assert p > 0.001, (n_b, share_b, p)
    assert abs(n_b / len(IDS) - share_b) < 0.015


def test_buckets_are_uniform() -> None:
    u = np.array([bucket("exp-u", x, salt="k") for x in IDS[:5000]])
    assert stats.kstest(u, "uniform").pvalue > 0.001


def test_experiments_and_salts_assign_independently() -> None:
    a = np.array([assign_arm("exp-1", u, 0.5, salt="s") == "B" for u in IDS[:10_000]])
    b = np.array([assign_arm("exp-2", u, 0.5, salt="s") == "B" for u in IDS[:10_000]])
    c = np.array([assign_arm("exp-1", u, 0.5, salt="t") == "B" for u in IDS[:10_000]])
    # Independent fair coins agree half the time; a shared hash would agree (or disagree) far more often.
    for other in (b, c):
        agree = int((a == other).sum())
        assert stats.binomtest(agree, len(a), 0.5).pvalue > 0.001


def test_share_must_be_a_proper_fraction() -> None:
    with pytest.raises(InvalidInput):
        assign_arm("e", "u", 1.0, salt="s")
    with pytest.raises(InvalidInput):
        assign_arm("e", "u", 0.0, salt="s")


T0 = pd.Timestamp("2026-03-02T09:00", tz="UTC")


def _shown(rows: list[tuple[str, str, str, str, pd.Timestamp]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["request_id", "user_id", "arm", "item_id", "ts"])


def _events(rows: list[tuple[str, str, pd.Timestamp, str, float, float]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["user_id", "item_id", "ts", "kind", "value", "price"])


def test_attribution_counts_only_recommended_items_within_the_window() -> None:
    h = pd.Timedelta(hours=1)
    shown = _shown([("r1", "u1", "A", "i1", T0), ("r1", "u1", "A", "i2", T0),
                    ("r2", "u2", "B", "i1", T0), ("r3", "u3", "B", "i5", T0)])
    events = _events([
        ("u1", "i1", T0 + h, "product_clicked", 1, 20.0),
        ("u1", "i1", T0 + 2 * h, "cart_added", 1, 20.0),
        ("u1", "i1", T0 + 3 * h, "order_completed", 2, 20.0),   # 2 × 20 on a recommended item
        ("u1", "i9", T0 + 3 * h, "order_completed", 1, 99.0),   # not recommended: not attributed
        ("u1", "i1", T0 + 50 * h, "product_returned", 1, 20.0),  # late return of an attributed order: counts
        ("u2", "i1", T0 - h, "order_completed", 1, 20.0),       # before the list: not attributed
        ("u2", "i1", T0 + 30 * h, "order_completed", 1, 20.0),  # after the 24 h window: not attributed
        ("u3", "i5", T0 + h, "product_returned", 1, 5.0),       # a return without an attributed order
        ("u9", "i1", T0 + h, "order_completed", 1, 20.0),       # never exposed
    ])
    r = attribute_arms(shown, events, window=timedelta(hours=24))
    a, b = r["A"], r["B"]
    assert (a.shoppers, a.lists, a.items_shown, a.clicks, a.carts, a.orders, a.buyers, a.returns) == (1, 1, 2, 1, 1, 1, 1, 1)
    assert a.revenue == 40.0 and a.click_rate == 0.5
    assert (b.shoppers, b.lists, b.items_shown, b.clicks, b.orders, b.buyers, b.returns, b.revenue) == (2, 2, 2, 0, 0, 0, 0, 0.0)
    assert list(b.revenue_per_shopper) == [0.0, 0.0]
    assert look_counts(r) == {"n_a": 1, "x_a": 1, "orders_a": 1, "returns_a": 1,
                              "n_b": 2, "x_b": 0, "orders_b": 0, "returns_b": 0}


def test_returns_never_exceed_ordered_lines_and_a_shopper_keeps_their_first_arm() -> None:
    h = pd.Timedelta(hours=1)
    shown = _shown([("r1", "u1", "B", "i1", T0), ("r2", "u1", "A", "i1", T0 + h)])
    events = _events([("u1", "i1", T0 + 2 * h, "order_completed", 1, 10.0)]
                     + [("u1", "i1", T0 + 3 * h, "product_returned", 1, 10.0)] * 3)
    r = attribute_arms(shown, events, window=timedelta(days=7))
    assert r["A"].shoppers == 0 and r["B"].shoppers == 1 and r["B"].lists == 1
    assert r["B"].orders == 1 and r["B"].returns == 1


def test_empty_inputs_and_a_bad_window() -> None:
    r = attribute_arms(_shown([]), _events([]), window=timedelta(hours=1))
    assert r["A"].shoppers == 0 and r["B"].orders == 0
    with pytest.raises(InvalidInput):
        attribute_arms(_shown([]), _events([]), window=timedelta(0))
