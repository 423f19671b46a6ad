"""Calibration: the simulated marginals stay near the real figures they were tuned to."""

from __future__ import annotations

from pathlib import Path

import pytest

from fitloop.evaluate.simulator import REAL_FIGURES, ShopConfig, SimulatedShop
from fitloop.evaluate.simulator.calibration import figures_table, measure_real_figures, measure_simulated_figures
from tests.conftest import require_data_file


@pytest.fixture(scope="module")
def figures() -> dict[str, float]:
    shop = SimulatedShop.generate(ShopConfig(n_items=1000, n_shoppers=500, n_events=60_000, n_days=60, seed=3))
    return measure_simulated_figures(shop, n_slates=150)


def real(name: str) -> float:
    return REAL_FIGURES[name][0]


def test_fit_small_large_rates_match_rent_the_runway(figures: dict[str, float]) -> None:
    for name in ("fit_rate", "small_rate", "large_rate"):
        assert figures[name] == pytest.approx(real(name), abs=0.05), name


def test_basket_sizes_match_hm(figures: dict[str, float]) -> None:
    assert figures["basket_mean"] == pytest.approx(real("basket_mean"), rel=0.25)
    assert figures["basket_median"] == pytest.approx(real("basket_median"), abs=1.0)


def test_bought_prices_match_hm_quantiles(figures: dict[str, float]) -> None:
    # A 1000-item shop has only ~450 styles, so its price quartiles wander more than the default shop's.
    assert figures["price_p50"] == pytest.approx(real("price_p50"), rel=0.2)
    for name in ("price_p25", "price_p75"):
        assert figures[name] == pytest.approx(real(name), rel=0.3), name
    assert figures["price_p10"] < figures["price_p50"] < figures["price_p90"]


def test_click_rates_of_obd_order_and_targeting_pays(figures: dict[str, float]) -> None:
    assert figures["ctr_random"] == pytest.approx(real("ctr_random"), rel=0.35)
    assert figures["ctr_targeted"] > 3 * figures["ctr_random"]


def test_returns_and_cancellations_are_plausible(figures: dict[str, float]) -> None:
    # Online fashion returns run at roughly 15-40 % of articles; cancellations are a few percent.
    assert 0.12 < figures["return_rate"] < 0.4
    assert 0.0 < figures["cancel_rate"] < 0.08


def test_figures_table_lines_up_real_and_simulated(figures: dict[str, float]) -> None:
    table = figures_table({k: v for k, (v, _) in REAL_FIGURES.items()}, figures)
    row = table.set_index("figure").loc["fit_rate"]
    assert row["real"] == real("fit_rate") and row["simulated"] == figures["fit_rate"]


@pytest.mark.realdata
def test_documented_real_figures_match_the_data(shared_data_dir: Path) -> None:
    for rel in ("hm/transactions.csv.gz", "rtr/rentals.csv.gz", "obd/random_all.csv.gz", "obd/bts_all.csv.gz"):
        require_data_file(shared_data_dir, rel)
    measured = measure_real_figures(shared_data_dir)
    for name, (value, source) in REAL_FIGURES.items():
        assert measured[name] == pytest.approx(value, rel=0.01), f"{name}: {source}"
