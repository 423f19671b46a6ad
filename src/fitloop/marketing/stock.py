"""Slow-moving stock: find items that are not selling, and the shoppers most likely to want them.

Moves stock without markdowns: instead of cutting the price for everyone, show the item to the
few shoppers whose tastes fit it.

>>> import pandas as pd
>>> stock = {"a": 50, "b": 50, "c": 0}
>>> sales = pd.DataFrame({"item_id": ["a"] * 30 + ["b"], "ts": pd.Timestamp("2025-01-10")})
>>> [s.item_id for s in slow_movers(stock, sales, now=pd.Timestamp("2025-01-20"), window_days=28)]
['b']
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

__all__ = ["SlowMover", "slow_movers", "best_shoppers_for"]


@dataclass(frozen=True, slots=True)
class SlowMover:
    item_id: str
    stock: int
    sold: int
    weeks_of_cover: float
    reason: str


def slow_movers(
    stock: Mapping[str, int],
    sales: pd.DataFrame,
    *,
    now: pd.Timestamp,
    window_days: int = 28,
    min_weeks_of_cover: float = 12.0,
    limit: int = 100,
) -> list[SlowMover]:
    """Items with stock whose recent sales would take more than ``min_weeks_of_cover`` weeks to clear it."""
    recent = sales[(pd.to_datetime(sales["ts"]) >= now - pd.Timedelta(days=window_days)) & (pd.to_datetime(sales["ts"]) < now)]
    sold = recent.groupby("item_id").size()
    weeks = window_days / 7
    out: list[SlowMover] = []
    for item_id, qty in stock.items():
        if qty <= 0:
            continue
        n = int(sold.get(item_id, 0))
        rate = n / weeks
        cover = float("inf") if rate == 0 else qty / rate
        if cover >= min_weeks_of_cover:
            reason = (f"no sales in {window_days} days with {qty} in stock" if n == 0
                      else f"{n} sold in {window_days} days: {cover:.0f} weeks to clear {qty} in stock")
            out.append(SlowMover(item_id, int(qty), n, cover, reason))
    out.sort(key=lambda s: (-s.weeks_of_cover if np.isfinite(s.weeks_of_cover) else -1e18, -s.stock))
    return out[:limit]


def best_shoppers_for(
    item_ids: Sequence[str],
    shoppers: Sequence[str],
    score: Callable[[str, Sequence[str]], np.ndarray],
    *,
    per_item: int = 50,
) -> dict[str, list[tuple[str, float]]]:
    """For each slow item, the shoppers with the highest predicted affinity (``score(user, items)``)."""
    if not item_ids or not shoppers:
        return {i: [] for i in item_ids}
    matrix = np.vstack([np.asarray(score(u, item_ids), dtype=float) for u in shoppers])  # users × items
    out: dict[str, list[tuple[str, float]]] = {}
    for j, iid in enumerate(item_ids):
        col = matrix[:, j]
        top = np.argsort(-col, kind="stable")[:per_item]
        out[iid] = [(shoppers[i], float(col[i])) for i in top]
    return out
