"""Trending and popular items, overall and per channel and segment: what new shoppers are shown.

Popularity is a time-decayed count over the last ``window_days`` (half-life ``half_life_days``,
so "popular this week" dominates); trending is the last week's count over the weekly average
of the ``trend_baseline_days`` before it. Lists are kept per value of each ``group_columns``
column found in the events (``channel`` for H&M: store / online; ``segment`` when the caller
adds one), and a shopper gets the lists of the groups they shop in most.

>>> import pandas as pd
>>> from fitloop.data import make_interactions
>>> from fitloop.recommend.frames import TrainData
>>> ev = make_interactions(["u1", "u2", "u3"], ["a", "a", "b"], ["2024-01-05"] * 3)
>>> data = TrainData.build(ev, pd.DataFrame({"item_id": ["a", "b", "c"]}), pd.Timestamp("2024-01-06"),
...                        {"order_completed": 1.0}, ["order_completed"])
>>> src = PopularCandidates(); src.train(data)
>>> [i for i, _ in src.popular(n=2)]
['a', 'b']
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from fitloop.recommend.candidates.base import decay, empty_candidates, require_trained, top_n_per_user
from fitloop.recommend.frames import TrainData

__all__ = ["PopularConfig", "PopularCandidates"]


@dataclass(frozen=True, slots=True)
class PopularConfig:
    n: int = 20
    n_trending: int = 5
    half_life_days: float = 7.0
    window_days: float = 28.0
    trend_baseline_days: float = 28.0
    group_columns: tuple[str, ...] = ("channel", "segment")
    list_size: int = 200


class PopularCandidates:
    """The same short list for everyone in a group: popular now, plus what is rising."""

    name = "popular"

    def __init__(self, config: PopularConfig | None = None) -> None:
        self.config = config or PopularConfig()
        self._lists: dict[str, list[tuple[str, float]]] | None = None
        self._trending: list[tuple[str, float]] = []
        self._user_groups: dict[str, list[str]] = {}
        self.item_popularity: pd.Series = pd.Series(dtype=float)
        self.item_trend: pd.Series = pd.Series(dtype=float)

    def _top(self, ev: pd.DataFrame) -> list[tuple[str, float]]:
        s = pd.Series(ev["weight"].to_numpy() * decay(ev["age_days"], self.config.half_life_days),
                      index=ev["item_id"].to_numpy()).groupby(level=0).sum()
        s = s.loc[s > 0]
        df = pd.DataFrame({"item_id": s.index.astype(str), "score": s.to_numpy()})
        df = df.sort_values(["score", "item_id"], ascending=[False, True], kind="mergesort").head(self.config.list_size)
        return list(zip(df["item_id"].tolist(), df["score"].astype(float).tolist(), strict=True))

    def train(self, data: TrainData) -> None:
        cfg = self.config
        ev = data.purchases if not data.purchases.empty else data.events
        recent = ev.loc[ev["age_days"] <= cfg.window_days]
        if recent.empty:  # a quiet shop: fall back to all of its history
            recent = ev
        lists: dict[str, list[tuple[str, float]]] = {"": self._top(recent)}
        self._user_groups = {}
        for col in cfg.group_columns:
            if col not in ev.columns:
                continue
            for value, part in recent.groupby(col, sort=True):
                lists[f"{col}:{value}"] = self._top(part)
            fav = ev.groupby(["user_id", col], sort=False).size().reset_index(name="c")
            fav = fav.sort_values(["user_id", "c", col], ascending=[True, False, True]).drop_duplicates("user_id")
            for u, v in zip(fav["user_id"].tolist(), fav[col].tolist(), strict=True):
                self._user_groups.setdefault(u, []).append(f"{col}:{v}")
        self._lists = lists
        w = ev["weight"].to_numpy() * decay(ev["age_days"], cfg.half_life_days)
        self.item_popularity = pd.Series(w, index=ev["item_id"].to_numpy()).groupby(level=0).sum()
        last = ev.loc[ev["age_days"] <= 7.0].groupby("item_id").size()
        base = ev.loc[(ev["age_days"] > 7.0) & (ev["age_days"] <= 7.0 + cfg.trend_baseline_days)].groupby("item_id").size()
        base = base.reindex(last.index).fillna(0.0) / (cfg.trend_baseline_days / 7.0)
        self.item_trend = (last / (base + 1.0)).astype(float)
        tr = self.item_trend.loc[last >= 2] if (last >= 2).any() else self.item_trend
        tr = tr.sort_values(ascending=False, kind="mergesort").head(cfg.n_trending)
        self._trending = list(zip(tr.index.astype(str).tolist(), tr.astype(float).tolist(), strict=True))

    @property
    def groups(self) -> list[str]:
        """The list keys: ``""`` (everyone) and ``"column:value"`` per group."""
        require_trained(self._lists is not None, self.name)
        assert self._lists is not None
        return list(self._lists)

    def popular(self, group: str = "", n: int = 12) -> list[tuple[str, float]]:
        """The top ``n`` ``(item_id, score)`` of a group (unknown groups get the overall list)."""
        require_trained(self._lists is not None, self.name)
        assert self._lists is not None
        return self._lists.get(group, self._lists[""])[:n]

    def candidates(self, user_ids: Sequence[str]) -> pd.DataFrame:
        require_trained(self._lists is not None, self.name)
        assert self._lists is not None
        n = self.config.n
        base = self._lists[""][:n]
        top_score = base[0][1] if base else 1.0
        rows: list[tuple[str, str, float, str]] = []
        for u in dict.fromkeys(user_ids):
            for item, score in base:
                rows.append((u, item, score, ""))
            for g in self._user_groups.get(u, []):
                for item, score in self._lists.get(g, [])[:n]:
                    rows.append((u, item, score, g))
            # Rising items get a score just under the top so that they survive the cut to n.
            for item, trend in self._trending:
                rows.append((u, item, top_score * 0.5 * float(np.tanh(trend)), "trending"))
        if not rows:
            return empty_candidates()
        df = pd.DataFrame(rows, columns=["user_id", "item_id", "score", "anchor"])
        df = df.sort_values("score", ascending=False, kind="mergesort").drop_duplicates(["user_id", "item_id"])
        return top_n_per_user(df, n + self.config.n_trending)
