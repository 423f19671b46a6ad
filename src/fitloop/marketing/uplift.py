"""Uplift targeting: who buys *because of* the coupon, not who buys anyway.

A two-model ("T-learner") and a transformed-outcome learner over shopper features, both on
LightGBM, and the Qini curve / coefficient to evaluate them on a randomised campaign.

>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> X = rng.normal(size=(4000, 3)); t = rng.random(4000) < 0.5
>>> y = (rng.random(4000) < 0.1 + 0.2 * t * (X[:, 0] > 0)).astype(int)
>>> m = UpliftModel(UpliftConfig(n_estimators=60)); m.train(X, t, y)
>>> s = m.score(X); bool(s[X[:, 0] > 0].mean() > s[X[:, 0] <= 0].mean())
True
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import lightgbm as lgb
import numpy as np

from fitloop.errors import InvalidInput, NotTrained

__all__ = ["UpliftConfig", "UpliftModel", "qini_curve", "qini_coefficient", "uplift_at_k"]


@dataclass(frozen=True, slots=True)
class UpliftConfig:
    """``method``: ``"t_learner"`` (two outcome models) or ``"transformed"`` (one model on the transformed outcome)."""

    method: str = "t_learner"
    n_estimators: int = 200
    learning_rate: float = 0.05
    num_leaves: int = 15
    min_child_samples: int = 40
    rng: int = 0


class UpliftModel:
    """Estimate ``P(buy | coupon) − P(buy | no coupon)`` per shopper."""

    def __init__(self, config: UpliftConfig | None = None) -> None:
        self.config = config or UpliftConfig()
        if self.config.method not in ("t_learner", "transformed"):
            raise InvalidInput("method must be 't_learner' or 'transformed'")
        self._models: list[lgb.LGBMModel] = []

    def _params(self) -> dict[str, Any]:
        c = self.config
        return dict(n_estimators=c.n_estimators, learning_rate=c.learning_rate, num_leaves=c.num_leaves,
                    min_child_samples=c.min_child_samples, random_state=c.rng, verbose=-1, n_jobs=1)

    def train(self, X: np.ndarray, treated: np.ndarray, outcome: np.ndarray) -> None:
        X = np.asarray(X, dtype=float)
        t = np.asarray(treated).astype(bool)
        y = np.asarray(outcome).astype(float)
        if not (len(X) == len(t) == len(y)):
            raise InvalidInput("features, treatment flags and outcomes must have the same length")
        if t.all() or (~t).all():
            raise InvalidInput("uplift needs both treated and untreated shoppers (a holdout group)")
        if self.config.method == "t_learner":
            m1 = lgb.LGBMClassifier(**self._params()).fit(X[t], y[t].astype(int))
            m0 = lgb.LGBMClassifier(**self._params()).fit(X[~t], y[~t].astype(int))
            self._models = [m1, m0]
        else:
            p = t.mean()
            # E[z | x] = uplift(x) for z = y·(t/p − (1−t)/(1−p)) under randomised treatment.
            z = y * (t / p - (~t) / (1 - p))
            self._models = [lgb.LGBMRegressor(**self._params()).fit(X, z)]

    def score(self, X: np.ndarray) -> np.ndarray:
        if not self._models:
            raise NotTrained("the uplift model is not trained; call train() on a randomised campaign first")
        X = np.asarray(X, dtype=float)
        if self.config.method == "t_learner":
            m1, m0 = self._models
            return np.asarray(m1.predict_proba(X)[:, 1] - m0.predict_proba(X)[:, 1], dtype=float)
        return np.asarray(self._models[0].predict(X), dtype=float)


def qini_curve(uplift: np.ndarray, treated: np.ndarray, outcome: np.ndarray, *, n_points: int = 50) -> tuple[np.ndarray, np.ndarray]:
    """Qini curve: for the top fraction φ by predicted uplift, extra buyers ``Y_t − Y_c · N_t/N_c``.

    Returns ``(fractions, incremental_buyers)``; both start at 0.
    """
    order = np.argsort(-np.asarray(uplift), kind="stable")
    t = np.asarray(treated).astype(bool)[order]
    y = np.asarray(outcome).astype(float)[order]
    n = len(order)
    cuts = np.unique(np.linspace(0, n, n_points + 1).astype(int))
    yt = np.concatenate([[0.0], np.cumsum(y * t)])
    yc = np.concatenate([[0.0], np.cumsum(y * ~t)])
    nt = np.concatenate([[0], np.cumsum(t)])
    nc = np.concatenate([[0], np.cumsum(~t)])
    with np.errstate(divide="ignore", invalid="ignore"):
        q = yt[cuts] - np.where(nc[cuts] > 0, yc[cuts] * nt[cuts] / nc[cuts], 0.0)
    return cuts / n, q


def qini_coefficient(uplift: np.ndarray, treated: np.ndarray, outcome: np.ndarray) -> float:
    """Area between the model's Qini curve and the random-targeting diagonal, normalised by the population."""
    x, q = qini_curve(uplift, treated, outcome)
    diagonal = q[-1] * x
    return float(np.trapezoid(q - diagonal, x) / max(len(uplift), 1))


def uplift_at_k(uplift: np.ndarray, treated: np.ndarray, outcome: np.ndarray, k: float = 0.3) -> float:
    """Observed treated-minus-control conversion among the top ``k`` fraction by predicted uplift."""
    order = np.argsort(-np.asarray(uplift), kind="stable")[: max(1, int(len(uplift) * k))]
    t = np.asarray(treated).astype(bool)[order]
    y = np.asarray(outcome).astype(float)[order]
    if t.sum() == 0 or (~t).sum() == 0:
        return 0.0
    return float(y[t].mean() - y[~t].mean())
