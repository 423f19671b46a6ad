"""fitloop.evaluate: splits, metrics, off-policy estimators, and the simulated shop."""

from fitloop.evaluate.simulator import ShopConfig, SimulatedShop, simulate_shop

__all__ = ["ShopConfig", "SimulatedShop", "simulate_shop"]
