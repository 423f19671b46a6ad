"""The shopper's own recent and repeat items: fashion shoppers rebuy basics and sizes they trust.

>>> import pandas as pd
>>> from fitloop.data import make_interactions
>>> from fitloop.recommend.frames import TrainData
>>> ev = make_interactions(["u", "u", "u"], ["a", "a", "b"], ["2024-01-01", "2024-01-05", "2024-01-02"])
>>> items = pd.DataFrame({"item_id": ["a", "b", "c"]})
>>> data = TrainData.build(ev, items, pd.Timestamp("2024-01-06"), {"order_completed": 1.0}, ["order_completed"])
>>> src = RepeatCandidates(RepeatConfig(n=5)); src.train(data)
>>> src.candidates(["u"]).item_id.tolist()
['a', 'b']
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pandas as pd

from fitloop.recommend.candidates.base import decay, empty_candidates, require_trained, top_n_per_user
from fitloop.recommend.frames import TrainData

__all__ = ["RepeatConfig", "RepeatCandidates", "recent_anchors"]


@dataclass(frozen=True, slots=True)
class RepeatConfig:
    """``n`` items per shopper, scored by a time-decayed count (``half_life_days``) over ``window_days``."""

    n: int = 30
    half_life_days: float = 21.0
    window_days: float | None = None


class RepeatCandidates:
    """Items the shopper bought (or, with event weights, viewed or carted) before."""

    name = "repeat"

    def __init__(self, config: RepeatConfig | None = None) -> None:
        self.config = config or RepeatConfig()
        self._scores: pd.DataFrame | None = None

    def train(self, data: TrainData) -> None:
        ev = data.events
        if self.config.window_days is not None:
            ev = ev.loc[ev["age_days"] <= self.config.window_days]
        s = ev.assign(score=ev["weight"].to_numpy() * decay(ev["age_days"], self.config.half_life_days))
        self._scores = s.groupby(["user_id", "item_id"], as_index=False, sort=False)["score"].sum()
        self._scores = self._scores.loc[self._scores["score"] > 0].set_index("user_id")

    def candidates(self, user_ids: Sequence[str]) -> pd.DataFrame:
        require_trained(self._scores is not None, self.name)
        assert self._scores is not None
        sub = self._scores.loc[self._scores.index.intersection(pd.Index(list(user_ids)))].reset_index()
        if sub.empty:
            return empty_candidates()
        return top_n_per_user(sub.assign(anchor=sub["item_id"]), self.config.n)


def recent_anchors(data: TrainData, n_anchors: int, half_life_days: float) -> pd.DataFrame:
    """Each shopper's ``n_anchors`` most relevant own items: ``user_id, item_id, weight`` (decayed weight sum)."""
    ev = data.events
    if ev.empty:
        return pd.DataFrame({"user_id": [], "item_id": [], "weight": []})
    s = ev.assign(w=ev["weight"].to_numpy() * decay(ev["age_days"], half_life_days))
    g = s.groupby(["user_id", "item_id"], as_index=False, sort=False)["w"].sum()
    g = g.loc[g["w"] > 0].sort_values(["user_id", "w", "item_id"], ascending=[True, False, True], kind="mergesort")
    g = g.loc[g.groupby("user_id", sort=False).cumcount() < n_anchors]
    return g.rename(columns={"w": "weight"}).reset_index(drop=True)
