"""The figures the simulator is calibrated to, measured on real data and on a simulated shop.

:func:`measure_real_figures` reads ../shared/data through :mod:`fitloop.datasets`;
:func:`measure_simulated_figures` computes the same figures on a :class:`SimulatedShop`
(on a copy for the slate figures, so the shop itself is not changed).

>>> from fitloop.evaluate.simulator import ShopConfig
>>> shop = SimulatedShop.generate(ShopConfig(n_items=150, n_shoppers=60, n_events=6_000, n_days=14, seed=2))
>>> figs = measure_simulated_figures(shop, n_slates=200)
>>> 0.0 < figs["ctr_random"] < figs["ctr_targeted"]
True
"""

from __future__ import annotations

import copy
import os

import numpy as np
import pandas as pd

from fitloop.evaluate.simulator.config import HM_PRICE_SCALE
from fitloop.evaluate.simulator.shop import SimulatedShop

__all__ = ["measure_real_figures", "measure_simulated_figures", "figures_table", "FIGURE_LABELS"]


_QUANTILES = {"price_p10": 0.10, "price_p25": 0.25, "price_p50": 0.50, "price_p75": 0.75, "price_p90": 0.90}

FIGURE_LABELS: dict[str, str] = {
    "price_p10": "price of bought articles, 10th percentile",
    "price_p25": "price of bought articles, 25th percentile",
    "price_p50": "price of bought articles, median",
    "price_p75": "price of bought articles, 75th percentile",
    "price_p90": "price of bought articles, 90th percentile",
    "basket_mean": "articles per buying shopper-day, mean",
    "basket_median": "articles per buying shopper-day, median",
    "fit_rate": "sized order lines that fit",
    "small_rate": "sized order lines too small",
    "large_rate": "sized order lines too large",
    "ctr_random": "impression -> click, uniformly random slate",
    "ctr_targeted": "impression -> click, best 3 items by true utility",
}


def measure_real_figures(data_dir: str | os.PathLike[str] | None = None) -> dict[str, float]:
    """Price quantiles and basket sizes (H&M), fit rates (RentTheRunway), CTR (Open Bandit)."""
    from fitloop.datasets import hm, obd, rtr

    out: dict[str, float] = {}
    tx = hm.load_transactions(data_dir)
    price = tx["price"].to_numpy(dtype=float) * HM_PRICE_SCALE
    for name, q in _QUANTILES.items():
        out[name] = float(np.quantile(price, q))
    basket = tx.groupby(["customer_id", "t_dat"]).size()
    out["basket_mean"] = float(basket.mean())
    out["basket_median"] = float(basket.median())
    fit = rtr.load_rentals(data_dir)["fit"].astype(str)
    out["fit_rate"] = float((fit == "fit").mean())
    out["small_rate"] = float((fit == "small").mean())
    out["large_rate"] = float((fit == "large").mean())
    out["ctr_random"] = float(obd.load_log("random", data_dir=data_dir)["click"].mean())
    out["ctr_bts"] = float(obd.load_log("bts", data_dir=data_dir)["click"].mean())
    return out


def measure_simulated_figures(shop: SimulatedShop, n_slates: int = 2000, seed: int = 0) -> dict[str, float]:
    """The same figures on a simulated shop, plus its return and cancellation rates.

    CTRs are expectations (mean click probability over ``n_slates`` 3-item slates shown on random
    days to random shoppers), not noisy click counts; ``ctr_*_sampled`` are the counts from
    :meth:`SimulatedShop.respond` on a copy of the shop.
    """
    out: dict[str, float] = {}
    f = shop.events.frame
    orders = f[f["type"] == "order_completed"]
    if len(orders):
        unit_prices = np.repeat(orders["price"].to_numpy(dtype=float), orders["quantity"].to_numpy())
        for name, q in _QUANTILES.items():
            out[name] = float(np.quantile(unit_prices, q))
        day = orders["ts"].dt.floor("D")
        basket = orders.groupby([orders["user_id"], day])["quantity"].sum()
        out["basket_mean"] = float(basket.mean())
        out["basket_median"] = float(basket.median())
        returns = f[f["type"] == "product_returned"]
        out["return_rate"] = float(returns["quantity"].sum() / orders["quantity"].sum())
        cancelled = f.loc[f["type"] == "order_cancelled", "order_id"].nunique()
        out["cancel_rate"] = float(cancelled / orders["order_id"].nunique())
    rates = shop.fit_rates()
    out["fit_rate"], out["small_rate"], out["large_rate"] = rates["fit"], rates["small"], rates["large"]

    rng = np.random.default_rng(seed)
    sim = copy.deepcopy(shop)
    n_days = shop.config.n_days
    users = [u.user_id for u in shop.shoppers]
    p_rand, p_best, clicks_rand, clicks_best, shown = [], [], 0, 0, 0
    for _ in range(n_slates):
        uid = users[int(rng.integers(len(users)))]
        day = int(rng.integers(n_days))
        live = sim.item_ids(day)
        rand_slate = [live[k] for k in rng.choice(len(live), 3, replace=False)]
        z = sim.true_utility(uid, live, day)
        best_slate = [live[k] for k in np.argsort(-z)[:3]]
        p_rand.append(sim.click_probability(uid, rand_slate, day).mean())
        p_best.append(sim.click_probability(uid, best_slate, day).mean())
        for slate, is_best in ((rand_slate, False), (best_slate, True)):
            n_clicks = sum(e.type.value == "product_clicked" for e in sim.respond(uid, slate, day, rng))
            if is_best:
                clicks_best += n_clicks
            else:
                clicks_rand += n_clicks
        shown += 3
    out["ctr_random"] = float(np.mean(p_rand))
    out["ctr_targeted"] = float(np.mean(p_best))
    out["ctr_random_sampled"] = clicks_rand / shown
    out["ctr_targeted_sampled"] = clicks_best / shown
    out["events"] = float(len(f))
    return out


def figures_table(real: dict[str, float], simulated: dict[str, float]) -> pd.DataFrame:
    """Side-by-side frame: figure, description, real, simulated."""
    names = list(FIGURE_LABELS) + [k for k in simulated if k not in FIGURE_LABELS]
    return pd.DataFrame(
        {
            "figure": names,
            "description": [FIGURE_LABELS.get(n, "") for n in names],
            "real": [real.get(n, np.nan) for n in names],
            "simulated": [simulated.get(n, np.nan) for n in names],
        }
    )
