"""Coupon targeting: features from the event log, held-out evaluation against the simulated truth, the profit rule
behind the recommended share, and the CSV."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from fitloop.errors import InvalidInput
from fitloop.evaluate.coupon_trial import coupon_truth, simulate_coupon_trial
from fitloop.evaluate.simulator import ShopConfig, SimulatedShop
from fitloop.marketing.coupons import (
    FEATURES,
    CouponTrial,
    evaluate_targeting,
    profit_curve,
    shopper_features,
    targets_csv,
)


@pytest.fixture(scope="module")
def shop() -> SimulatedShop:
    # The benchmark's scale (docs/evaluation/uplift.md): with thinner histories (say 2,000 shoppers, 40,000 events)
    # the model's edge over random targeting is within the noise of one trial.
    return SimulatedShop.generate(ShopConfig(n_items=800, n_shoppers=6000, n_events=200_000, n_days=60, seed=5))


def _frame(shop: SimulatedShop) -> pd.DataFrame:
    evs = list(shop.events.to_events())
    return pd.DataFrame({"user_id": [e.user_id for e in evs], "item_id": [e.item_id for e in evs],
                         "ts": [e.ts for e in evs], "kind": [str(e.type.value) for e in evs]})


def test_features_count_what_each_shopper_did() -> None:
    t = pd.Timestamp("2026-01-10")
    frame = pd.DataFrame({
        "user_id": ["a", "a", "a", "a", "b"], "item_id": ["i1", "i2", "i1", "i1", "i2"],
        "ts": [t, t + pd.Timedelta(days=1), t + pd.Timedelta(days=1), t + pd.Timedelta(days=2), t],
        "kind": ["product_viewed", "cart_added", "order_completed", "product_returned", "product_viewed"]})
    f = shopper_features(frame, {"i1": 10.0, "i2": 40.0}, ["a", "b", "new"])
    assert list(f.columns) == list(FEATURES) and list(f.index) == ["a", "b", "new"]
    a = f.loc["a"]
    assert (a["events"], a["days"], a["orders"], a["returns"], a["carts"]) == (4, 3, 1, 1, 1)
    assert a["mean_logp_bought"] == pytest.approx(np.log(10.0)) and a["return_share"] == 1.0
    assert f.loc["b", "recency_days"] == 2.0 and f.loc["b", "orders"] == 0
    assert f.loc["new", "events"] == 0 and np.isfinite(f.loc["new"]).all()  # no history: neutral, never NaN


def test_simulated_truth_follows_the_documented_model(shop: SimulatedShop) -> None:
    p0, tau = coupon_truth(shop)
    assert p0.min() >= 0.02 - 1e-9 and p0.max() <= 0.12 + 1e-9
    assert tau.min() >= 0 and tau.max() <= 0.2
    b = shop.hidden_tastes.buy_propensity
    # Loyal, high-propensity shoppers are hardly moved by a coupon ("sure things").
    assert tau[b > np.quantile(b, 0.9)].mean() < tau[b < np.quantile(b, 0.1)].mean()


def test_the_model_targets_truly_persuadable_shoppers_on_held_out_data(shop: SimulatedShop) -> None:
    sim = simulate_coupon_trial(shop, rounds=8, seed=5)
    trial = CouponTrial("sim", "simulated", "simulated", sim.user_ids, sim.treated, sim.bought,
                        true_p0=sim.p0, true_tau=sim.tau)
    feats = shopper_features(_frame(shop), {it.item_id: it.price for it in shop.items},
                             [s.user_id for s in shop.shoppers])
    ev, model = evaluate_targeting(feats, trial, discount=0.25, margin=0.5, seed=1)
    assert ev.truth_known and ev.n_train + ev.n_test == len(sim.user_ids)
    assert ev.true_uplift_model is not None and ev.true_uplift_oracle is not None and ev.true_uplift_mean is not None
    top30 = ev.true_uplift_model[5]  # the x grid is 5 %, 10 %, … so index 5 is 30 %
    # Honest bar: better than random at the top, below the oracle (see docs/evaluation/uplift.md).
    assert ev.true_uplift_mean < top30 < ev.true_uplift_oracle[5]
    assert ev.true_uplift_model[-1] == pytest.approx(ev.true_uplift_mean)
    assert len(ev.qini_model) == len(ev.qini_random) == len(ev.qini_x) and ev.qini_x[0] == 0.0
    assert ev.recommended_share in ev.shares and ev.best_true_share is not None
    assert model.score(feats.to_numpy()[:5]).shape == (5,)


def test_profit_rule_by_hand() -> None:
    # Scores rank u0..u3 first. Top half: treated buy 1/1, untreated 0/1 → (1 − 0)·0.5 − 1·0.2 = 0.3 per shopper.
    score = np.array([4.0, 3.0, 2.0, 1.0])
    treated = np.array([True, False, True, False])
    bought = np.array([1, 0, 0, 1])
    curve = profit_curve(score, treated, bought, discount=0.2, margin=0.5, shares=np.array([0.0, 0.25, 0.5, 1.0]))
    assert curve[0] == 0.0 and np.isnan(curve[1])  # the top 25 % has no untreated shopper to compare with
    assert curve[2] == pytest.approx(1000 * 0.5 * 0.3)
    # Everyone: treated 1/2, untreated 1/2 → (0)·0.5 − 0.5·0.2 = −0.1 per shopper.
    assert curve[3] == pytest.approx(1000 * -0.1)


def test_no_share_is_recommended_when_the_coupon_never_pays(shop: SimulatedShop) -> None:
    sim = simulate_coupon_trial(shop, rounds=4, seed=2)
    trial = CouponTrial("sim", "simulated", "simulated", sim.user_ids, sim.treated, sim.bought)
    feats = shopper_features(_frame(shop), {it.item_id: it.price for it in shop.items},
                             [s.user_id for s in shop.shoppers])
    ev, _ = evaluate_targeting(feats, trial, discount=0.8, margin=0.3)
    assert ev.recommended_share == 0.0 and not ev.truth_known and ev.true_profit is None


def test_a_trial_too_small_or_one_sided_is_refused_with_the_numbers() -> None:
    ids = [f"u{i}" for i in range(40)]
    one_sided = CouponTrial("c", "tiny", "campaign", ids, np.ones(40, dtype=bool), np.ones(40, dtype=int))
    with pytest.raises(InvalidInput, match="40 shoppers with and 0 without"):
        one_sided.check()
    few_buyers = CouponTrial("c", "tiny", "campaign", ids * 2, np.arange(80) % 2 == 0, np.zeros(80, dtype=int))
    with pytest.raises(InvalidInput, match="fewer than 10 buyers"):
        few_buyers.check()
    with pytest.raises(InvalidInput):
        CouponTrial("c", "bad", "campaign", ids, np.ones(3, dtype=bool), np.ones(40, dtype=int))


def test_targets_csv() -> None:
    text = targets_csv([("p1_a", 0.0712), ("p1_b", 0.05)], channel="email", label="coupon-x")
    assert text.splitlines() == ["user_id,channel,coupon_campaign,estimated_uplift_pts,rank",
                                 "p1_a,email,coupon-x,7.12,1", "p1_b,email,coupon-x,5.00,2"]
