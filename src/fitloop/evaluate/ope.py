"""Off-policy estimators: what would a new policy have earned on a log another policy wrote?

The formulas are the standard ones of the Open Bandit Pipeline (Saito et al., 2021) for
logs where every round shows one action at one position:

- ``reward[i]``: the observed reward of round ``i`` (a click: 0/1).
- ``action[i]``: the index of the logged action (item), ``0 <= action < n_actions``.
- ``position[i]``: the 0-based slot the action was shown in (all zeros when there is one slot).
- ``pscore[i]``: the probability with which the *logging* policy showed that action at that
  position (the "propensity"), in ``(0, 1]``.
- ``action_dist[i, a, k]``: the probability with which the *evaluated* policy shows action ``a``
  at position ``k`` in round ``i``'s context; for every ``(i, k)`` it sums to 1 over ``a``.
- ``estimated_rewards[i, a, k]``: a reward model's prediction (for DM and DR), same shape.

With importance weight ``w_i = action_dist[i, action_i, position_i] / pscore_i``:

- IPS:   ``mean(w * r)``
- SNIPS: ``sum(w * r) / sum(w)`` (self-normalised; biased but far lower variance)
- DM:    ``mean_i sum_a action_dist[i, a, k_i] * q[i, a, k_i]``
- DR:    ``DM + mean(w * (r - q[i, action_i, k_i]))``

Every estimate can come with a percentile bootstrap confidence interval over rounds.

>>> import numpy as np
>>> reward = np.array([1.0, 0.0]); action = np.array([0, 1]); pscore = np.array([0.5, 0.5])
>>> action_dist = np.array([[[1.0], [0.0]], [[1.0], [0.0]]])  # always shows action 0
>>> ips(reward=reward, action=action, pscore=pscore, action_dist=action_dist)
1.0
>>> snips(reward=reward, action=action, pscore=pscore, action_dist=action_dist)
1.0
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from fitloop.errors import InvalidInput

__all__ = [
    "ESTIMATORS",
    "EstimatorName",
    "Estimate",
    "importance_weights",
    "ips",
    "snips",
    "dm",
    "dr",
    "estimate",
    "estimate_all",
    "bootstrap_mean_ci",
]

EstimatorName = Literal["ips", "snips", "dm", "dr"]
ESTIMATORS: tuple[EstimatorName, ...] = ("ips", "snips", "dm", "dr")

# action_dist rows must sum to one; allow float round-off from softmaxes and Monte-Carlo counts.
_SUM_TOL = 1e-6


@dataclass(frozen=True, slots=True)
class Estimate:
    """One policy-value estimate with its percentile bootstrap interval."""

    estimator: str
    value: float
    ci_low: float
    ci_high: float
    n_rounds: int
    alpha: float = 0.05

    def contains(self, x: float) -> bool:
        """True when ``x`` lies inside the interval."""
        return self.ci_low <= x <= self.ci_high


def _as_1d(name: str, x: object, dtype: type) -> np.ndarray:
    arr: np.ndarray = np.asarray(x, dtype=dtype)
    if arr.ndim != 1:
        raise InvalidInput(f"{name} must be one-dimensional, got shape {arr.shape}")
    return arr


def _checked(
    reward: object,
    action: object,
    pscore: object,
    action_dist: object,
    position: object | None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    r = _as_1d("reward", reward, float)
    a = _as_1d("action", action, np.int64)
    p = _as_1d("pscore", pscore, float)
    pos = np.zeros(len(r), dtype=np.int64) if position is None else _as_1d("position", position, np.int64)
    n = len(r)
    if not (len(a) == len(p) == len(pos) == n):
        raise InvalidInput(
            f"reward, action, pscore and position must have the same length, got {n}, {len(a)}, {len(p)}, {len(pos)}"
        )
    dist = _checked_dist(action_dist, n)
    if n == 0:
        raise InvalidInput("the log is empty; an estimate needs at least one round")
    if np.any(~np.isfinite(r)):
        raise InvalidInput("reward holds NaN or infinite values")
    if np.any(~(p > 0)) or np.any(p > 1 + _SUM_TOL):
        raise InvalidInput("pscore must lie in (0, 1]: a zero propensity means the logging policy could not show it")
    if np.any(a < 0) or np.any(a >= dist.shape[1]):
        raise InvalidInput(f"action must lie in [0, {dist.shape[1]}) (the action axis of action_dist)")
    if np.any(pos < 0) or np.any(pos >= dist.shape[2]):
        raise InvalidInput(f"position must be 0-based and below {dist.shape[2]} (the position axis of action_dist)")
    return r, a, p, dist, pos


def _checked_dist(action_dist: object, n: int) -> np.ndarray:
    dist = np.asarray(action_dist, dtype=float)
    if dist.ndim != 3:
        raise InvalidInput(f"action_dist must have shape (n_rounds, n_actions, n_positions), got {dist.shape}")
    if dist.shape[0] != n:
        raise InvalidInput(f"action_dist has {dist.shape[0]} rounds but the log has {n}")
    if np.any(dist < 0) or np.any(~np.isfinite(dist)):
        raise InvalidInput("action_dist must hold finite, non-negative probabilities")
    sums = dist.sum(axis=1)
    if np.any(np.abs(sums - 1.0) > _SUM_TOL):
        raise InvalidInput("action_dist must sum to 1 over actions for every round and position")
    return dist


def _checked_q(estimated_rewards: object, shape: tuple[int, ...]) -> np.ndarray:
    q = np.asarray(estimated_rewards, dtype=float)
    if q.shape != shape:
        raise InvalidInput(f"estimated_rewards must have the shape of action_dist {shape}, got {q.shape}")
    if np.any(~np.isfinite(q)):
        raise InvalidInput("estimated_rewards holds NaN or infinite values")
    return q


def importance_weights(
    *, action: object, pscore: object, action_dist: object, position: object | None = None
) -> np.ndarray:
    """``w_i = action_dist[i, action_i, position_i] / pscore_i``."""
    a = _as_1d("action", action, np.int64)
    r = np.zeros(len(a))
    _, a, p, dist, pos = _checked(r, a, pscore, action_dist, position)
    return dist[np.arange(len(a)), a, pos] / p


def _parts(
    name: str,
    *,
    reward: object,
    action: object,
    pscore: object,
    action_dist: object,
    position: object | None,
    estimated_rewards: object | None,
) -> tuple[np.ndarray, np.ndarray]:
    """Per-round numerator and denominator: the estimate is ``sum(num) / sum(den)``."""
    r, a, p, dist, pos = _checked(reward, action, pscore, action_dist, position)
    idx = np.arange(len(r))
    w = dist[idx, a, pos] / p
    ones = np.ones_like(r)
    if name == "ips":
        return w * r, ones
    if name == "snips":
        return w * r, w
    if name not in ("dm", "dr"):
        raise InvalidInput(f"unknown estimator {name!r}; choose one of {', '.join(ESTIMATORS)}")
    if estimated_rewards is None:
        raise InvalidInput(f"{name} needs estimated_rewards (a reward model's predictions)")
    q = _checked_q(estimated_rewards, dist.shape)
    direct = np.einsum("ia,ia->i", dist[idx, :, pos], q[idx, :, pos])
    if name == "dm":
        return direct, ones
    return direct + w * (r - q[idx, a, pos]), ones


def ips(*, reward: object, action: object, pscore: object, action_dist: object, position: object | None = None) -> float:
    """Inverse propensity scoring: unbiased when ``pscore`` is the true logging probability."""
    num, den = _parts(
        "ips", reward=reward, action=action, pscore=pscore, action_dist=action_dist, position=position,
        estimated_rewards=None,
    )
    return float(num.sum() / den.sum())


def snips(
    *, reward: object, action: object, pscore: object, action_dist: object, position: object | None = None
) -> float:
    """Self-normalised IPS. Returns 0.0 when no logged action has weight (nothing to learn from)."""
    num, den = _parts(
        "snips", reward=reward, action=action, pscore=pscore, action_dist=action_dist, position=position,
        estimated_rewards=None,
    )
    total = den.sum()
    return float(num.sum() / total) if total > 0 else 0.0


def dm(*, action_dist: object, estimated_rewards: object, position: object | None = None) -> float:
    """Direct method: the reward model's prediction averaged under the evaluated policy."""
    dist = np.asarray(action_dist, dtype=float)
    n = dist.shape[0] if dist.ndim == 3 else 0
    num, den = _parts(
        "dm", reward=np.zeros(n), action=np.zeros(n, dtype=np.int64), pscore=np.ones(n), action_dist=dist,
        position=position, estimated_rewards=estimated_rewards,
    )
    return float(num.sum() / den.sum())


def dr(
    *,
    reward: object,
    action: object,
    pscore: object,
    action_dist: object,
    estimated_rewards: object,
    position: object | None = None,
) -> float:
    """Doubly robust: DM plus an importance-weighted correction of the model's residuals."""
    num, den = _parts(
        "dr", reward=reward, action=action, pscore=pscore, action_dist=action_dist, position=position,
        estimated_rewards=estimated_rewards,
    )
    return float(num.sum() / den.sum())


def _ratio_bootstrap(
    num: np.ndarray, den: np.ndarray, *, n_bootstrap: int, alpha: float, rng: int | np.random.Generator
) -> tuple[float, float]:
    if not 0 < alpha < 1:
        raise InvalidInput("alpha must lie in (0, 1), e.g. 0.05 for a 95 % interval")
    if n_bootstrap < 10:
        raise InvalidInput("n_bootstrap must be at least 10")
    gen = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
    n = len(num)
    stats = np.empty(n_bootstrap)
    # Chunks keep the index matrix small on long logs (chunk x n int64).
    chunk = max(1, min(n_bootstrap, 2_000_000 // max(n, 1)))
    for start in range(0, n_bootstrap, chunk):
        stop = min(n_bootstrap, start + chunk)
        idx = gen.integers(0, n, size=(stop - start, n))
        top = num[idx].sum(axis=1)
        bottom = den[idx].sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            stats[start:stop] = np.where(bottom > 0, top / np.where(bottom > 0, bottom, 1.0), 0.0)
    lo, hi = np.quantile(stats, [alpha / 2, 1 - alpha / 2])
    return float(lo), float(hi)


def bootstrap_mean_ci(
    values: object, *, n_bootstrap: int = 1000, alpha: float = 0.05, rng: int | np.random.Generator = 0
) -> Estimate:
    """The mean of ``values`` with a percentile bootstrap interval (e.g. an observed click rate).

    >>> e = bootstrap_mean_ci([0, 1, 0, 1], n_bootstrap=200, rng=0)
    >>> e.value, 0.0 <= e.ci_low <= e.value <= e.ci_high <= 1.0
    (0.5, True)
    """
    v = _as_1d("values", values, float)
    if len(v) == 0:
        raise InvalidInput("values is empty")
    lo, hi = _ratio_bootstrap(v, np.ones_like(v), n_bootstrap=n_bootstrap, alpha=alpha, rng=rng)
    return Estimate("mean", float(v.mean()), lo, hi, len(v), alpha)


def estimate(
    name: EstimatorName,
    *,
    reward: object,
    action: object,
    pscore: object,
    action_dist: object,
    position: object | None = None,
    estimated_rewards: object | None = None,
    n_bootstrap: int = 1000,
    alpha: float = 0.05,
    rng: int | np.random.Generator = 0,
) -> Estimate:
    """One estimator's value with a percentile bootstrap interval (rounds resampled with replacement).

    >>> import numpy as np
    >>> n = 1000; rng = np.random.default_rng(0)
    >>> action = rng.integers(0, 2, n); reward = (action == 0).astype(float)
    >>> dist = np.zeros((n, 2, 1)); dist[:, 0, 0] = 1.0
    >>> e = estimate("snips", reward=reward, action=action, pscore=np.full(n, 0.5), action_dist=dist)
    >>> e.value, e.ci_low, e.ci_high
    (1.0, 1.0, 1.0)
    """
    num, den = _parts(
        name, reward=reward, action=action, pscore=pscore, action_dist=action_dist, position=position,
        estimated_rewards=estimated_rewards,
    )
    total = den.sum()
    value = float(num.sum() / total) if total > 0 else 0.0
    lo, hi = _ratio_bootstrap(num, den, n_bootstrap=n_bootstrap, alpha=alpha, rng=rng)
    return Estimate(name, value, lo, hi, len(num), alpha)


def estimate_all(
    *,
    reward: object,
    action: object,
    pscore: object,
    action_dist: object,
    position: object | None = None,
    estimated_rewards: object | None = None,
    n_bootstrap: int = 1000,
    alpha: float = 0.05,
    rng: int = 0,
) -> dict[str, Estimate]:
    """IPS and SNIPS, plus DM and DR when ``estimated_rewards`` is given, each with its interval.

    Every estimator resamples with the same seed, so the intervals are comparable.
    """
    names = ESTIMATORS if estimated_rewards is not None else ("ips", "snips")
    return {
        name: estimate(
            name, reward=reward, action=action, pscore=pscore, action_dist=action_dist, position=position,
            estimated_rewards=estimated_rewards, n_bootstrap=n_bootstrap, alpha=alpha, rng=rng,
        )
        for name in names
    }
