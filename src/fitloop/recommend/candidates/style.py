"""Same style in other colours: the other articles of an H&M ``product_code`` the shopper bought.

Shoppers who keep a style often buy it again in another colour, and a colourway that has not
sold yet is still a safe suggestion, so this source also covers cold items.

>>> import pandas as pd
>>> from fitloop.data import make_interactions
>>> from fitloop.recommend.frames import TrainData
>>> items = pd.DataFrame({"item_id": ["a1", "a2", "b1"], "product_code": ["a", "a", "b"]})
>>> ev = make_interactions(["u"], ["a1"], ["2024-01-01"])
>>> data = TrainData.build(ev, items, pd.Timestamp("2024-01-06"), {"order_completed": 1.0}, ["order_completed"])
>>> src = SameStyleCandidates(); src.train(data)
>>> src.candidates(["u"])[["item_id", "anchor"]].values.tolist()
[['a2', 'a1']]
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from fitloop.recommend.candidates.base import decay, empty_candidates, require_trained, top_n_per_user
from fitloop.recommend.candidates.history import recent_anchors
from fitloop.recommend.frames import TrainData

__all__ = ["SameStyleConfig", "SameStyleCandidates"]


@dataclass(frozen=True, slots=True)
class SameStyleConfig:
    n: int = 20
    n_anchors: int = 20
    half_life_days: float = 30.0
    popularity_half_life_days: float = 14.0


class SameStyleCandidates:
    """Other colourways (same ``product_code``) of the shopper's items."""

    name = "style"

    def __init__(self, config: SameStyleConfig | None = None) -> None:
        self.config = config or SameStyleConfig()
        self._pairs: pd.DataFrame | None = None

    def train(self, data: TrainData) -> None:
        cfg = self.config
        items = data.items
        if "product_code" not in items.columns:
            self._pairs = pd.DataFrame({"user_id": [], "item_id": [], "score": [], "anchor": []})
            return
        codes = items[["item_id", "product_code"]].astype(str)
        anchors = recent_anchors(data, cfg.n_anchors, cfg.half_life_days)
        anchors = anchors.merge(codes, on="item_id").rename(columns={"item_id": "anchor"})
        pairs = anchors.merge(codes, on="product_code")
        pairs = pairs.loc[pairs["item_id"] != pairs["anchor"]]
        ev = data.events
        pop = pd.Series(ev["weight"].to_numpy() * decay(ev["age_days"], cfg.popularity_half_life_days),
                        index=ev["item_id"].to_numpy()).groupby(level=0).sum()
        # A colourway that sells counts more than one nobody buys; the +1 keeps unsold ones eligible.
        boost = 1.0 + np.log1p(pairs["item_id"].map(pop).fillna(0.0).to_numpy())
        pairs = pairs.assign(score=pairs["weight"].to_numpy() * boost)
        pairs = pairs.sort_values("score", ascending=False, kind="mergesort").drop_duplicates(["user_id", "item_id"])
        self._pairs = pairs[["user_id", "item_id", "score", "anchor"]].set_index("user_id")

    def candidates(self, user_ids: Sequence[str]) -> pd.DataFrame:
        require_trained(self._pairs is not None, self.name)
        assert self._pairs is not None
        sub = self._pairs.loc[self._pairs.index.intersection(pd.Index(list(user_ids)))].reset_index()
        if sub.empty:
            return empty_candidates()
        return top_n_per_user(sub, self.config.n)
