"""A simulated fashion shop: seeded catalog, shoppers with hidden tastes, city weather, behaviour.

It is the demo's data (``fitloop demo``) and the environment for online experiments:
:meth:`SimulatedShop.respond` shows a slate and returns what the shopper did.

>>> shop = SimulatedShop.generate(ShopConfig(n_items=100, n_shoppers=30, n_events=2_000, n_days=7, seed=1))
>>> sorted(shop.events.counts())[:3]
['cart_added', 'cart_removed', 'dwell']
"""

from fitloop.evaluate.simulator.config import DEFAULT_CITIES, HM_PRICE_SCALE, REAL_FIGURES, ShopConfig
from fitloop.evaluate.simulator.eventlog import EVENT_COLUMNS, EventLog
from fitloop.evaluate.simulator.shop import SimulatedShop, simulate_shop
from fitloop.evaluate.simulator.shoppers import HiddenTastes
from fitloop.evaluate.simulator.weather import CLIMATES, Weather

__all__ = [
    "CLIMATES",
    "DEFAULT_CITIES",
    "EVENT_COLUMNS",
    "HM_PRICE_SCALE",
    "REAL_FIGURES",
    "EventLog",
    "HiddenTastes",
    "ShopConfig",
    "SimulatedShop",
    "Weather",
    "simulate_shop",
]
