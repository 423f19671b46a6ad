"""The hook for the sequence-interest model (:mod:`fitloop.profile.sequence`): next items from order.

Any object with ``train(interactions)`` and ``recommend(recent_item_ids, k) -> [(item_id, score)]``
plugs in (the :class:`SequenceScorer` protocol). Off by default: ``SequenceConfig(enabled=True)``
builds :class:`fitloop.profile.sequence.SequenceModel` (needs the ``torch`` extra), or pass any
scorer to :class:`SequenceCandidates` directly.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import pandas as pd

from fitloop.recommend.candidates.base import empty_candidates, require_trained, top_n_per_user
from fitloop.recommend.frames import TrainData

__all__ = ["SequenceScorer", "SequenceHookConfig", "SequenceCandidates"]


@runtime_checkable
class SequenceScorer(Protocol):
    def train(self, interactions: pd.DataFrame) -> None: ...

    def recommend(self, recent_item_ids: Sequence[str], k: int = 12) -> list[tuple[str, float]]: ...


@dataclass(frozen=True, slots=True)
class SequenceHookConfig:
    enabled: bool = False
    n: int = 20
    max_history: int = 50


class SequenceCandidates:
    """Candidates from a next-item model over each shopper's most recent items."""

    name = "sequence"

    def __init__(self, config: SequenceHookConfig | None = None, model: SequenceScorer | None = None) -> None:
        self.config = config or SequenceHookConfig()
        self._model: Any = model
        self._histories: dict[str, list[str]] | None = None

    def train(self, data: TrainData) -> None:
        if self._model is None:
            from fitloop.profile.sequence import SequenceModel

            self._model = SequenceModel()
        self._model.train(data.events[["user_id", "item_id", "ts", "kind", "value", "price"]])
        ev = data.events.sort_values("ts", kind="mergesort")
        self._histories = {u: g.tolist()[-self.config.max_history:] for u, g in ev.groupby("user_id")["item_id"]}

    def candidates(self, user_ids: Sequence[str]) -> pd.DataFrame:
        require_trained(self._histories is not None, self.name)
        assert self._histories is not None
        rows = [(u, i, float(s), "") for u in dict.fromkeys(user_ids) if u in self._histories
                for i, s in self._model.recommend(self._histories[u], k=self.config.n)]
        if not rows:
            return empty_candidates()
        return top_n_per_user(pd.DataFrame(rows, columns=["user_id", "item_id", "score", "anchor"]), self.config.n)
