"""Matrix factorisation with :mod:`implicit` (ALS or BPR) over time-decayed event weights.

>>> import pandas as pd
>>> from fitloop.data import make_interactions
>>> from fitloop.recommend.frames import TrainData
>>> users = [f"u{i}" for i in range(20) for _ in range(3)]
>>> its = [["a", "b", "c"], ["d", "e", "f"]]
>>> ev = make_interactions(users, [its[i % 2][j] for i in range(20) for j in range(3)], ["2024-01-01"] * 60)
>>> items = pd.DataFrame({"item_id": list("abcdef")})
>>> data = TrainData.build(ev, items, pd.Timestamp("2024-01-06"), {"order_completed": 1.0}, ["order_completed"])
>>> src = ALSCandidates(ALSConfig(n=3, embedding_size=4, epochs=10)); src.train(data)
>>> sorted(src.candidates(["u0"]).item_id)
['a', 'b', 'c']
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd
import scipy.sparse as sp
from threadpoolctl import threadpool_limits

from fitloop.recommend.candidates.base import decay, empty_candidates, require_trained, top_n_per_user
from fitloop.recommend.frames import TrainData

__all__ = ["ALSConfig", "ALSCandidates", "BPRConfig", "BPRCandidates"]


@dataclass(frozen=True, slots=True)
class ALSConfig:
    n: int = 30
    embedding_size: int = 64
    epochs: int = 15
    reg: float = 0.05
    alpha: float = 10.0
    half_life_days: float = 60.0
    window_days: float | None = 365.0
    rng: int = 0


@dataclass(frozen=True, slots=True)
class BPRConfig:
    n: int = 30
    embedding_size: int = 64
    epochs: int = 100
    learning_rate: float = 0.01
    reg: float = 0.01
    half_life_days: float = 60.0
    window_days: float | None = 365.0
    rng: int = 0


class ALSCandidates:
    """Latent-factor recall: items that shoppers with a similar history bought."""

    name = "als"
    _kind: Literal["als", "bpr"] = "als"

    def __init__(self, config: ALSConfig | BPRConfig | None = None) -> None:
        self.config = config or ALSConfig()
        self._model: Any = None
        self._users: dict[str, int] = {}
        self._items: np.ndarray = np.empty(0, dtype=object)
        self._ui: sp.csr_matrix | None = None

    def _make_model(self) -> Any:
        from implicit.cpu.als import AlternatingLeastSquares
        from implicit.cpu.bpr import BayesianPersonalizedRanking

        c = self.config
        if isinstance(c, BPRConfig):
            return BayesianPersonalizedRanking(factors=c.embedding_size, learning_rate=c.learning_rate,
                                               regularization=c.reg, iterations=c.epochs, random_state=c.rng,
                                               num_threads=1, verify_negative_samples=True)
        return AlternatingLeastSquares(factors=c.embedding_size, regularization=c.reg, alpha=c.alpha,
                                       iterations=c.epochs, random_state=c.rng, num_threads=1,
                                       calculate_training_loss=False)

    def train(self, data: TrainData) -> None:
        c = self.config
        ev = data.events
        if c.window_days is not None:
            ev = ev.loc[ev["age_days"] <= c.window_days]
        ev = ev.assign(w=ev["weight"].to_numpy() * decay(ev["age_days"], c.half_life_days))
        g = ev.groupby(["user_id", "item_id"], as_index=False, sort=False)["w"].sum()
        g = g.loc[g["w"] > 0]
        users, u_idx = np.unique(g["user_id"].to_numpy(dtype=str), return_inverse=True)
        self._items, i_idx = np.unique(g["item_id"].to_numpy(dtype=str), return_inverse=True)
        self._users = {u: i for i, u in enumerate(users.tolist())}
        self._ui = sp.csr_matrix((g["w"].to_numpy(dtype=np.float32), (u_idx, i_idx)),
                                 shape=(len(users), len(self._items)))
        self._model = None
        if len(users) < 2 or len(self._items) < 2:
            return
        # implicit warns (and runs slower) when BLAS is multithreaded; one thread is also deterministic.
        with threadpool_limits(1, "blas"):
            model = self._make_model()
            model.fit(self._ui, show_progress=False)
        self._model = model

    def candidates(self, user_ids: Sequence[str]) -> pd.DataFrame:
        require_trained(self._ui is not None, self.name)
        assert self._ui is not None
        known = [u for u in dict.fromkeys(user_ids) if u in self._users]
        if self._model is None or not known:
            return empty_candidates()
        rows = np.array([self._users[u] for u in known], dtype=np.int32)
        n = min(self.config.n, len(self._items))
        with threadpool_limits(1, "blas"):
            ids, scores = self._model.recommend(rows, self._ui[rows], N=n, filter_already_liked_items=False)
        out = pd.DataFrame({
            "user_id": np.repeat(np.array(known, dtype=object), ids.shape[1]),
            "item_id": self._items[np.clip(ids.ravel(), 0, None)],
            "score": scores.ravel().astype(float),
            "anchor": "",
        })
        out = out.loc[(ids.ravel() >= 0) & np.isfinite(out["score"].to_numpy())]
        return top_n_per_user(out, self.config.n)


class BPRCandidates(ALSCandidates):
    """Bayesian personalised ranking: the pairwise-loss twin of :class:`ALSCandidates`."""

    name = "bpr"

    def __init__(self, config: BPRConfig | None = None) -> None:
        super().__init__(config or BPRConfig())
