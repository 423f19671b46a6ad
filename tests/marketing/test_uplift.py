"""Uplift models find the persuadable shoppers on data where the truth is known."""

from __future__ import annotations

import numpy as np
import pytest

from fitloop.errors import InvalidInput, NotTrained
from fitloop.marketing.uplift import UpliftConfig, UpliftModel, qini_coefficient, qini_curve, uplift_at_k


def _campaign(n: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 4))
    true_uplift = 0.25 * (X[:, 0] > 0.5) - 0.05 * (X[:, 1] > 1)   # persuadables and a few sleeping dogs
    base = 0.08 + 0.1 * (X[:, 2] > 0)                               # buys anyway: not the target
    t = rng.random(n) < 0.5
    y = (rng.random(n) < np.clip(base + t * true_uplift, 0, 1)).astype(int)
    return X, t, y, true_uplift


@pytest.mark.parametrize("method", ["t_learner", "transformed"])
def test_uplift_beats_random_targeting(method: str) -> None:
    X, t, y, truth = _campaign(12_000, 0)
    Xt, tt, yt, truth_t = _campaign(12_000, 1)
    m = UpliftModel(UpliftConfig(method=method, n_estimators=100))
    m.train(X, t, y)
    s = m.score(Xt)
    assert np.corrcoef(s, truth_t)[0, 1] > 0.3
    assert qini_coefficient(s, tt, yt) > qini_coefficient(np.random.default_rng(5).random(len(s)), tt, yt)
    assert uplift_at_k(s, tt, yt, 0.3) > uplift_at_k(np.zeros(len(s)), tt, yt, 1.0)


def test_qini_curve_endpoints() -> None:
    u = np.array([0.3, 0.2, 0.1, 0.0])
    t = np.array([1, 0, 1, 0], dtype=bool)
    y = np.array([1, 0, 0, 1])
    x, q = qini_curve(u, t, y, n_points=4)
    assert x[0] == 0 and x[-1] == 1 and q[0] == 0
    # overall: 1 treated buyer − 1 control buyer · (2/2) = 0
    assert q[-1] == pytest.approx(0.0)


def test_errors() -> None:
    with pytest.raises(NotTrained):
        UpliftModel().score(np.zeros((1, 2)))
    with pytest.raises(InvalidInput, match="holdout"):
        UpliftModel().train(np.zeros((4, 2)), np.ones(4, bool), np.zeros(4))
