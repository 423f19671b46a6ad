"""Settings of the simulated shop and the real-data figures it is calibrated to.

Every constant that shapes a marginal of the simulation says where its value comes
from. The ``REAL_*`` figures were measured on the files in ``../shared/data`` with
``benchmarks/calibrate_simulator.py`` (which recomputes them through
:mod:`fitloop.datasets`), so the simulator never needs the real data at run time.

>>> cfg = ShopConfig(n_items=200, n_shoppers=50, n_events=5_000, n_days=14, seed=3)
>>> cfg.end_date.isoformat(), cfg.n_items
('2026-03-15', 200)
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from fitloop.errors import InvalidInput

__all__ = [
    "ShopConfig",
    "REAL_FIGURES",
    "HM_PRICE_SCALE",
    "DEFAULT_CITIES",
]

#: H&M publishes prices divided by an undisclosed constant. Multiplying by 1,000 puts the
#: median article at 25.4 units, close to H&M's euro shelf prices, so the shop's currency
#: is "EUR-like". This is a convention, not a measured exchange rate.
HM_PRICE_SCALE: float = 1000.0

#: Real figures the simulator is calibrated to: name -> (value, source).
#: Measured on ../shared/data (see docs/SIMULATOR.md for the commands).
REAL_FIGURES: dict[str, tuple[float, str]] = {
    # H&M transactions (28,006 purchases, 1,290 customers), price x HM_PRICE_SCALE.
    "price_p10": (10.05, "H&M transactions.csv.gz price quantile 0.10 x1000"),
    "price_p25": (16.08, "H&M transactions.csv.gz price quantile 0.25 x1000"),
    "price_p50": (25.41, "H&M transactions.csv.gz price quantile 0.50 x1000"),
    "price_p75": (33.88, "H&M transactions.csv.gz price quantile 0.75 x1000"),
    "price_p90": (50.83, "H&M transactions.csv.gz price quantile 0.90 x1000"),
    # Articles bought by one customer on one day (rows of transactions per customer_id, t_dat).
    "basket_mean": (3.64, "H&M transactions.csv.gz rows per (customer_id, t_dat), mean"),
    "basket_median": (2.0, "H&M transactions.csv.gz rows per (customer_id, t_dat), median"),
    # RentTheRunway fit feedback (123,418 rentals).
    "fit_rate": (0.743, "RentTheRunway rentals.csv.gz share fit == 'fit'"),
    "small_rate": (0.127, "RentTheRunway rentals.csv.gz share fit == 'small'"),
    "large_rate": (0.130, "RentTheRunway rentals.csv.gz share fit == 'large'"),
    # Open Bandit Dataset, campaign 'all', 10,000-impression samples.
    "ctr_random": (0.0038, "OBD random_all.csv.gz mean(click) (paper, full data: 0.35 %)"),
    "ctr_bts": (0.0042, "OBD bts_all.csv.gz mean(click) (paper, full data: 0.50 %)"),
}

#: Cities with a climate model in :mod:`fitloop.evaluate.simulator.weather`.
DEFAULT_CITIES: tuple[str, ...] = (
    "Shanghai",
    "Beijing",
    "Guangzhou",
    "London",
    "Paris",
    "Berlin",
    "New York",
    "Stockholm",
)


@dataclass(frozen=True, slots=True)
class ShopConfig:
    """Everything that shapes one simulated shop; same config (and seed) -> same shop.

    Sizes: ``n_items`` catalog items (colourways), ``n_shoppers`` shoppers, about
    ``n_events`` logged events over ``n_days`` days from ``start``. ``online_days`` more days
    of weather exist after the window so :meth:`SimulatedShop.respond` can run an online loop.

    Behaviour knobs (defaults calibrated, see docs/SIMULATOR.md):

    - ``target_ctr``: impression -> click rate of a *uniformly random* slate in
      :meth:`~fitloop.evaluate.simulator.SimulatedShop.respond` (OBD random policy, 0.38 %).
    - ``click_beta``: how much a click depends on the shopper's standardised utility;
      with 0.8 the best-matching slate is clicked roughly 10x as often as a random one.
    - ``choice_beta``: how sharply organic browsing picks liked items from what the shop lists.
    - ``basket_mean``: mean articles per ordering shopper-day (H&M: 3.64).
    - ``size_noise``/``item_size_bias``: spread (in size steps) of a shopper's size choice and of
      how an item runs; together with out-of-stock substitutions they give RentTheRunway's
      74 % fit / 13 % small / 13 % large.
    - ``return_if_misfit``: chance a badly fitting line is returned; ``not_as_pictured_rate``,
      ``quality_rate``, ``changed_mind_rate``: base return reasons; ``cancel_rate``: orders cancelled.
    - ``new_arrival_share``: items launched during the window (the rest exist at the start).
    - ``widget_rate``: share of sessions that open with a ``widget_size``-item "picked for you" slate
      chosen by a uniformly random logging policy from a fixed campaign of ``widget_pool`` items
      (80 like the Open Bandit Dataset's "all" campaign); its impressions carry position and
      propensity, so the history doubles as an off-policy log.
    """

    n_items: int = 5000
    n_shoppers: int = 2000
    n_events: int = 200_000
    n_days: int = 90
    start: date = date(2026, 3, 1)
    cities: tuple[str, ...] = DEFAULT_CITIES
    seed: int = 0
    online_days: int = 365
    # behaviour
    target_ctr: float = 0.0038
    click_beta: float = 0.8
    choice_beta: float = 1.6
    candidates_per_session: int = 60
    buy_session_rate: float = 0.14
    basket_mean: float = 3.64
    size_noise: float = 0.17
    item_size_bias: float = 0.2
    substitute_size_rate: float = 0.35
    return_if_misfit: float = 0.7
    not_as_pictured_rate: float = 0.05
    quality_rate: float = 0.02
    changed_mind_rate: float = 0.05
    cancel_rate: float = 0.03
    new_arrival_share: float = 0.25
    mean_stock_per_item: float = 14.0
    widget_rate: float = 0.3
    widget_size: int = 3
    widget_pool: int = 80

    def __post_init__(self) -> None:
        for name in ("n_items", "n_shoppers", "n_events", "n_days"):
            if getattr(self, name) < 1:
                raise InvalidInput(f"ShopConfig.{name} must be at least 1, got {getattr(self, name)}")
        if self.n_items < 20:
            raise InvalidInput(f"ShopConfig.n_items must be at least 20 for a browsable shop, got {self.n_items}")
        if not self.cities:
            raise InvalidInput("ShopConfig.cities must name at least one city")
        if not 0.0 < self.target_ctr < 0.5:
            raise InvalidInput(f"ShopConfig.target_ctr must be in (0, 0.5), got {self.target_ctr}")
        if self.basket_mean < 1.0:
            raise InvalidInput(f"ShopConfig.basket_mean must be >= 1, got {self.basket_mean}")
        for name in (
            "buy_session_rate",
            "substitute_size_rate",
            "return_if_misfit",
            "not_as_pictured_rate",
            "quality_rate",
            "changed_mind_rate",
            "cancel_rate",
            "new_arrival_share",
            "widget_rate",
        ):
            v = getattr(self, name)
            if not 0.0 <= v <= 1.0:
                raise InvalidInput(f"ShopConfig.{name} must be between 0 and 1, got {v}")
        if not 1 <= self.widget_size <= 10:
            raise InvalidInput(f"ShopConfig.widget_size must be between 1 and 10, got {self.widget_size}")
        if self.widget_pool < 2 * self.widget_size:
            raise InvalidInput(
                f"ShopConfig.widget_pool must hold at least 2 x widget_size items, got {self.widget_pool}"
            )
        if self.candidates_per_session < 5:
            raise InvalidInput("ShopConfig.candidates_per_session must be at least 5")

    @property
    def end_date(self) -> date:
        """The first day after the simulated window."""
        return self.start + timedelta(days=self.n_days)
