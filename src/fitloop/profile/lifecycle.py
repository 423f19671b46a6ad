"""Lifecycle stage of a shopper: new, exploring, loyal, at risk, lapsed.

The stage is a pure function of a few dates and counts, evaluated at read time (``as_of``) so that
a shopper drifts from *loyal* to *at risk* to *lapsed* without any event arriving.

>>> cfg = LifecycleConfig()
>>> lifecycle_stage(first_seen_days=3, last_seen_days=1, last_order_days=None, orders=0, config=cfg)
'new'
>>> lifecycle_stage(first_seen_days=400, last_seen_days=2, last_order_days=10, orders=5, config=cfg)
'loyal'
>>> lifecycle_stage(first_seen_days=400, last_seen_days=80, last_order_days=80, orders=5, config=cfg)
'at_risk'
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from fitloop.errors import InvalidInput

__all__ = ["LifecycleStage", "LifecycleConfig", "lifecycle_stage"]


class LifecycleStage(enum.StrEnum):
    """Where a shopper stands in their relationship with the shop (wire names)."""

    UNKNOWN = "unknown"
    NEW = "new"
    EXPLORING = "exploring"
    LOYAL = "loyal"
    AT_RISK = "at_risk"
    LAPSED = "lapsed"


@dataclass(frozen=True, slots=True)
class LifecycleConfig:
    """Thresholds, in days and orders, that separate the stages.

    - ``new_days``: first seen at most this long ago (and not yet loyal) -> *new*.
    - ``loyal_min_orders``: at least this many purchases (order lines kept net of cancellations),
      the last one within ``at_risk_days`` -> *loyal*.
    - ``at_risk_days``: a buyer whose last purchase is older than this -> *at risk*.
    - ``lapsed_days``: no activity at all (or, for buyers, no purchase) for longer than this -> *lapsed*.
    """

    new_days: float = 30.0
    loyal_min_orders: int = 3
    at_risk_days: float = 60.0
    lapsed_days: float = 180.0

    def __post_init__(self) -> None:
        if not (self.new_days > 0 and 0 < self.at_risk_days < self.lapsed_days):
            raise InvalidInput(
                f"LifecycleConfig needs new_days > 0 and 0 < at_risk_days < lapsed_days, got {self}"
            )
        if self.loyal_min_orders < 1:
            raise InvalidInput(f"LifecycleConfig.loyal_min_orders must be >= 1, got {self.loyal_min_orders}")


def lifecycle_stage(
    *,
    first_seen_days: float | None,
    last_seen_days: float | None,
    last_order_days: float | None,
    orders: float,
    config: LifecycleConfig,
) -> str:
    """The stage (a :class:`LifecycleStage` value) from ages in days at read time.

    Rules, first match wins: nothing seen -> unknown; buyers whose last purchase (others: whose last
    visit) is older than ``lapsed_days`` -> lapsed; buyers whose last purchase is older than
    ``at_risk_days`` -> at risk; ``loyal_min_orders`` or more purchases -> loyal; first seen within
    ``new_days`` -> new; everyone else -> exploring.
    """
    if first_seen_days is None or last_seen_days is None:
        return LifecycleStage.UNKNOWN.value
    is_buyer = orders > 0 and last_order_days is not None
    idle = last_order_days if is_buyer else last_seen_days
    assert idle is not None
    if idle > config.lapsed_days:
        return LifecycleStage.LAPSED.value
    if is_buyer and idle > config.at_risk_days:
        return LifecycleStage.AT_RISK.value
    if orders >= config.loyal_min_orders:
        return LifecycleStage.LOYAL.value
    if first_seen_days <= config.new_days:
        return LifecycleStage.NEW.value
    return LifecycleStage.EXPLORING.value
