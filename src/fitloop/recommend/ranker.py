"""A learned ranker: LightGBM LambdaRank over the candidate features, stored as LightGBM text.

>>> import numpy as np, pandas as pd
>>> rng = np.random.default_rng(0)
>>> x = pd.DataFrame({"f": rng.random(200), "g": rng.random(200)})
>>> y = (x["f"] > 0.8).astype(int).to_numpy()
>>> r = LambdaRanker(RankerConfig(n_estimators=20, min_child_samples=5))
>>> r.train(x, y, groups=[20] * 10)
>>> s = r.score(x)
>>> bool(s[y == 1].mean() > s[y == 0].mean()), r.feature_names
(True, ['f', 'g'])
>>> LambdaRanker.from_text(r.to_text()).score(x).round(6).tolist() == s.round(6).tolist()
True
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from fitloop.errors import InvalidInput, ModelBundleError, NotTrained
from fitloop.recommend.features import DETAIL_FEATURES

__all__ = ["RankerConfig", "LambdaRanker"]


@dataclass(frozen=True, slots=True)
class RankerConfig:
    """LightGBM LambdaRank hyperparameters; ``label_weeks`` is how many recent weeks supply labels."""

    enabled: bool = True
    # Shallow, slow and many weeks of labels: a 0.1 % sample gives ~15 positives a week, and deeper
    # trees or fewer weeks overfit them. Chosen on validation weeks before the reported test weeks
    # (benchmarks/tune_ranker.py, docs/evaluation/recommend_tuning.md): 40 label weeks beat 20 on both
    # validation windows; tree size, rounds and the objective made no difference beyond noise.
    n_estimators: int = 300
    learning_rate: float = 0.03
    num_leaves: int = 3
    min_child_samples: int = 100
    reg: float = 1.0
    feature_fraction: float = 0.8
    label_weeks: int = 40
    eval_at: int = 12
    rng: int = 0
    # "lambdarank" optimises the order within each shopper's list; "binary" (log loss on bought / not
    # bought, ignoring groups) is steadier when a week brings only a handful of positives.
    objective: str = "lambdarank"
    # Feature columns the ranker must not use (ablations; or a shop whose data lacks a signal).
    exclude_features: tuple[str, ...] = DETAIL_FEATURES

    def __post_init__(self) -> None:
        if self.objective not in ("lambdarank", "binary"):
            raise InvalidInput(f"ranker objective must be 'lambdarank' or 'binary', got {self.objective!r}")


class LambdaRanker:
    """Scores (shopper, item) feature rows so that bought items come first within each shopper."""

    def __init__(self, config: RankerConfig | None = None) -> None:
        self.config = config or RankerConfig()
        self._booster: Any = None
        self.feature_names: list[str] = []

    @property
    def is_trained(self) -> bool:
        return self._booster is not None

    def train(self, x: pd.DataFrame, y: np.ndarray, groups: Sequence[int]) -> None:
        import lightgbm as lgb

        c = self.config
        drop = set(c.exclude_features)
        self.feature_names = [str(col) for col in x.columns if str(col) not in drop]
        x = x[self.feature_names]
        params = {
            "objective": c.objective,
            "metric": "ndcg" if c.objective == "lambdarank" else "binary_logloss",
            "eval_at": [c.eval_at],
            "learning_rate": c.learning_rate,
            "num_leaves": c.num_leaves,
            "min_data_in_leaf": c.min_child_samples,
            "lambda_l2": c.reg,
            "feature_fraction": c.feature_fraction,
            "bagging_fraction": 1.0,
            "lambdarank_truncation_level": 20,
            "seed": c.rng,
            "deterministic": True,
            "force_row_wise": True,
            "num_threads": 1,
            "verbose": -1,
        }
        ds = lgb.Dataset(x.to_numpy(dtype=np.float64), label=np.asarray(y, dtype=np.float64),
                         group=list(groups) if c.objective == "lambdarank" else None,
                         feature_name=self.feature_names, free_raw_data=True)
        self._booster = lgb.train(params, ds, num_boost_round=c.n_estimators)

    def score(self, x: pd.DataFrame) -> np.ndarray:
        if self._booster is None:
            raise NotTrained("the ranker is not trained; call train(x, y, groups) first")
        cols = x.reindex(columns=self.feature_names)
        return np.asarray(self._booster.predict(cols.to_numpy(dtype=np.float64), num_threads=1), dtype=np.float64)

    def feature_importance(self) -> dict[str, float]:
        """Total gain per feature, largest first (empty when untrained)."""
        if self._booster is None:
            return {}
        gains = self._booster.feature_importance(importance_type="gain")
        pairs = sorted(zip(self.feature_names, gains.tolist(), strict=True), key=lambda p: (-p[1], p[0]))
        return {k: float(v) for k, v in pairs}

    def to_text(self) -> str:
        if self._booster is None:
            raise NotTrained("the ranker is not trained; nothing to save")
        return str(self._booster.model_to_string())

    @classmethod
    def from_text(cls, text: str, config: RankerConfig | None = None) -> LambdaRanker:
        import lightgbm as lgb

        r = cls(config)
        try:
            r._booster = lgb.Booster(model_str=text)
        except Exception as exc:  # LightGBM raises its own error type for a malformed model
            raise ModelBundleError(f"the LightGBM ranker model could not be read ({exc}); retrain and save the bundle again") from exc
        r.feature_names = list(r._booster.feature_name())
        return r
