"""Item-to-item co-occurrence: "often bought with" (purchases) and "often viewed with" (views).

Two items co-occur when one shopper interacted with both within ``window_days`` of the end of
training. A shopper's candidates are the items that co-occur most with their recent items
(``n_anchors``, weighted by recency), scored by ``sum(anchor_weight * cooc / sqrt(n_i * n_j))``.

>>> import pandas as pd
>>> from fitloop.data import make_interactions
>>> from fitloop.recommend.frames import TrainData
>>> ev = make_interactions(["u1", "u1", "u2", "u2", "u3"], ["a", "b", "a", "b", "a"], ["2024-01-01"] * 5)
>>> items = pd.DataFrame({"item_id": ["a", "b", "c"]})
>>> data = TrainData.build(ev, items, pd.Timestamp("2024-01-06"), {"order_completed": 1.0}, ["order_completed"])
>>> src = CoPurchaseCandidates(); src.train(data)
>>> src.candidates(["u3"])[["item_id", "anchor"]].values.tolist()
[['b', 'a']]
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp

from fitloop.recommend.candidates.base import empty_candidates, require_trained, top_n_per_user
from fitloop.recommend.candidates.history import recent_anchors
from fitloop.recommend.frames import TrainData

__all__ = ["CoPurchaseConfig", "CoPurchaseCandidates", "CoViewConfig", "CoViewCandidates"]


@dataclass(frozen=True, slots=True)
class CoPurchaseConfig:
    n: int = 30
    kinds: tuple[str, ...] = ("order_completed",)
    window_days: float | None = 365.0
    n_anchors: int = 10
    half_life_days: float = 30.0


@dataclass(frozen=True, slots=True)
class CoViewConfig:
    n: int = 30
    kinds: tuple[str, ...] = ("product_viewed", "product_clicked", "cart_added", "favourited")
    window_days: float | None = 90.0
    n_anchors: int = 10
    half_life_days: float = 7.0


class CoPurchaseCandidates:
    """Items bought by the same shoppers as the shopper's recent items."""

    name = "copurchase"

    def __init__(self, config: CoPurchaseConfig | CoViewConfig | None = None) -> None:
        self.config = config or CoPurchaseConfig()
        self._cooc: sp.csr_matrix | None = None
        self._items: np.ndarray = np.empty(0, dtype=object)
        self._index: dict[str, int] = {}
        self._anchors: pd.DataFrame | None = None

    def train(self, data: TrainData) -> None:
        cfg = self.config
        ev = data.events.loc[data.events["kind"].isin(list(cfg.kinds))]
        if cfg.window_days is not None:
            ev = ev.loc[ev["age_days"] <= cfg.window_days]
        pairs = ev[["user_id", "item_id"]].drop_duplicates()
        users, u_idx = np.unique(pairs["user_id"].to_numpy(dtype=str), return_inverse=True)
        self._items, i_idx = np.unique(pairs["item_id"].to_numpy(dtype=str), return_inverse=True)
        self._index = {iid: i for i, iid in enumerate(self._items.tolist())}
        x = sp.csr_matrix((np.ones(len(pairs), dtype=np.float32), (u_idx, i_idx)), shape=(len(users), len(self._items)))
        cooc = (x.T @ x).tocsr()
        cooc.setdiag(0)
        cooc.eliminate_zeros()
        n_i = np.asarray(x.sum(axis=0)).ravel()
        norm = 1.0 / np.sqrt(np.maximum(n_i, 1.0))
        self._cooc = (sp.diags(norm) @ cooc @ sp.diags(norm)).tocsr().astype(np.float32)
        anchors = recent_anchors(data, cfg.n_anchors, cfg.half_life_days)
        self._anchors = anchors.loc[anchors["item_id"].isin(self._index)].set_index("user_id")

    def candidates(self, user_ids: Sequence[str]) -> pd.DataFrame:
        require_trained(self._cooc is not None and self._anchors is not None, self.name)
        assert self._cooc is not None and self._anchors is not None
        anchors = self._anchors.loc[self._anchors.index.intersection(pd.Index(list(user_ids)))].reset_index()
        if anchors.empty or self._cooc.nnz == 0:
            return empty_candidates()
        users, u_idx = np.unique(anchors["user_id"].to_numpy(dtype=str), return_inverse=True)
        a_idx = np.fromiter((self._index[i] for i in anchors["item_id"]), dtype=np.int64, count=len(anchors))
        w = anchors["weight"].to_numpy(dtype=np.float32)
        a = sp.csr_matrix((w, (u_idx, a_idx)), shape=(len(users), len(self._items)))
        s = (a @ self._cooc).tocsr()
        rows: list[tuple[str, str, float, str]] = []
        for r in range(len(users)):
            lo, hi = s.indptr[r], s.indptr[r + 1]
            if lo == hi:
                continue
            cols, vals = s.indices[lo:hi], s.data[lo:hi]
            take = np.argsort(-vals, kind="stable")[: self.config.n]
            cols, vals = cols[take], vals[take]
            ar = a.indices[a.indptr[r]: a.indptr[r + 1]]
            aw = a.data[a.indptr[r]: a.indptr[r + 1]]
            # The anchor is the own item contributing most, so the reason names a real purchase.
            contrib = self._cooc[ar][:, cols].toarray() * aw[:, None]
            best = ar[contrib.argmax(axis=0)]
            uid = str(users[r])
            rows.extend(zip([uid] * len(cols), self._items[cols].tolist(), vals.tolist(), self._items[best].tolist(), strict=True))
        if not rows:
            return empty_candidates()
        return top_n_per_user(pd.DataFrame(rows, columns=["user_id", "item_id", "score", "anchor"]), self.config.n)


class CoViewCandidates(CoPurchaseCandidates):
    """The same co-occurrence over browsing events ("often viewed with")."""

    name = "coview"

    def __init__(self, config: CoViewConfig | None = None) -> None:
        super().__init__(config or CoViewConfig())
