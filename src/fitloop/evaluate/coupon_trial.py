"""A randomised coupon campaign on the simulated shop, with the truth only a simulator knows.

The coupon-response model is the one documented in ``docs/evaluation/uplift.md`` (and used by
``benchmarks/uplift_simulated.py``):

- without a coupon a shopper buys in a campaign week with ``p0 = 0.02 + 0.10 · b``, where ``b`` is their
  hidden buy propensity scaled to 0..1 ("sure things" buy anyway);
- a coupon adds ``tau = 0.20 · s · (1 − b)`` with ``s = sigmoid((median log price of the catalog −
  price_centre) / price_width)``: it persuades price-sensitive shoppers whose favourite price sits below
  what the shop charges and hardly moves loyal, high-propensity ones.

Each shopper takes part in ``rounds`` campaign weeks with fresh random assignment (half get the coupon).
The result carries the hidden ``p0`` and ``tau`` of every row, so targeting can be judged against the truth.

>>> from fitloop.evaluate.simulator import ShopConfig, SimulatedShop
>>> shop = SimulatedShop.generate(ShopConfig(n_items=60, n_shoppers=40, n_events=1500, seed=1))
>>> trial = simulate_coupon_trial(shop, rounds=3, seed=0)
>>> len(trial.user_ids) == 3 * 40, bool(0.3 < trial.treated.mean() < 0.7), bool((trial.tau >= 0).all())
(True, True, True)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from fitloop.errors import InvalidInput
from fitloop.evaluate.simulator import SimulatedShop

__all__ = ["SimulatedCouponTrial", "coupon_truth", "simulate_coupon_trial"]


@dataclass(frozen=True, slots=True)
class SimulatedCouponTrial:
    """One row per shopper and campaign week: who got the coupon, who bought, and the hidden truth."""

    user_ids: list[str]
    treated: np.ndarray
    bought: np.ndarray
    p0: np.ndarray  # true probability of buying without the coupon
    tau: np.ndarray  # true uplift of the coupon
    rounds: int
    seed: int


def coupon_truth(shop: SimulatedShop) -> tuple[np.ndarray, np.ndarray]:
    """``(p0, tau)`` per shopper (in the order of ``shop.shoppers``) from the hidden tastes."""
    t = shop.hidden_tastes
    b = (t.buy_propensity - t.buy_propensity.min()) / max(float(np.ptp(t.buy_propensity)), 1e-9)
    med = float(np.median(np.log([it.price for it in shop.items])))
    s = 1.0 / (1.0 + np.exp(-(med - t.price_centre) / np.maximum(t.price_width, 1e-3)))
    return 0.02 + 0.10 * b, 0.20 * s * (1.0 - b)


def simulate_coupon_trial(shop: SimulatedShop, *, rounds: int = 8, seed: int = 0) -> SimulatedCouponTrial:
    """Run the randomised coupon campaign (``rounds`` weeks, half the shoppers treated each week)."""
    if not 1 <= rounds <= 100:
        raise InvalidInput("rounds: between 1 and 100 campaign weeks")
    p0, tau = coupon_truth(shop)
    n = len(shop.shoppers)
    rng = np.random.default_rng(seed + 1)
    user = np.tile(np.arange(n), rounds)
    treated = rng.random(len(user)) < 0.5
    bought = (rng.random(len(user)) < p0[user] + treated * tau[user]).astype(np.int8)
    ids = [s.user_id for s in shop.shoppers]
    return SimulatedCouponTrial([ids[u] for u in user], treated, bought, p0[user], tau[user], rounds, seed)
