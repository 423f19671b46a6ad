"""Differentially private aggregates for sharing outside the shop (segment sizes, trend reports).

Noise comes from OpenDP 0.16 measurements (``make_laplace`` on integers, i.e.
the discrete Laplace / geometric mechanism), and the privacy loss of each
release is what OpenDP's ``map`` says for the declared sensitivity. The
aggregator composes releases sequentially (pure ε-DP: losses add up) and
refuses any release that would exceed ``epsilon_total``. Groups whose *noisy*
count is under ``min_group_size`` are suppressed (thresholding the noisy value
is post-processing and costs no extra budget; thresholding the true value would leak).

Assumptions the caller must keep: each shopper adds at most ``contributions``
to a count (histogram: to the sum over all groups), and the group names of a
histogram are public (a fixed list such as segment names or categories), not
derived from the data.

>>> agg = DPAggregator(epsilon_total=1.0, min_group_size=10)
>>> r = agg.count(5000, epsilon=0.5)
>>> abs(r.value - 5000) < 200, agg.spent
(True, 0.5)
>>> agg.count(5000, epsilon=0.6)  # doctest: +IGNORE_EXCEPTION_DETAIL
Traceback (most recent call last):
...
fitloop.privacy.dp.PrivacyBudgetExceeded: privacy budget exhausted: ...
"""

from __future__ import annotations

import functools
import threading
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from fitloop.errors import Forbidden, InvalidInput

__all__ = ["PrivacyBudgetExceeded", "DPConfig", "DPCount", "DPHistogram", "BudgetCharge", "DPAggregator"]

_TOL = 1e-9


class PrivacyBudgetExceeded(Forbidden):
    """The release would spend more privacy budget than is left."""

    default_code = "privacy_budget_exhausted"


@dataclass(frozen=True, slots=True)
class DPConfig:
    """Config twin of :class:`DPAggregator`."""

    epsilon_total: float = 1.0
    min_group_size: int = 20
    default_epsilon: float = 0.1


@dataclass(frozen=True, slots=True)
class DPCount:
    """A noisy count; ``value`` is None when suppressed (noisy count under the minimum group size)."""

    value: int | None
    epsilon: float
    scale: float

    @property
    def suppressed(self) -> bool:
        return self.value is None


@dataclass(frozen=True, slots=True)
class DPHistogram:
    """Noisy counts of the groups that cleared the minimum size; the others are listed as suppressed."""

    counts: Mapping[str, int]
    suppressed: tuple[str, ...]
    epsilon: float
    scale: float

    def to_dict(self) -> dict[str, Any]:
        return {"counts": dict(self.counts), "suppressed": list(self.suppressed), "epsilon": self.epsilon,
                "mechanism": "discrete Laplace (OpenDP make_laplace)", "scale": self.scale}


@dataclass(frozen=True, slots=True)
class BudgetCharge:
    """One entry of the budget ledger."""

    what: str
    epsilon: float


def _dp() -> Any:
    import opendp.prelude as dp

    dp.enable_features("contrib")
    return dp


@functools.lru_cache(maxsize=64)
def _laplace(vector: bool, scale: float) -> Any:
    """OpenDP's (discrete) Laplace measurement on integers; built once per scale."""
    dp = _dp()
    if vector:
        return dp.m.make_laplace(dp.vector_domain(dp.atom_domain(T=int)), dp.l1_distance(T=int), scale=scale)
    return dp.m.make_laplace(dp.atom_domain(T=int), dp.absolute_distance(T=int), scale=scale)


class DPAggregator:
    """Releases counts and histograms under a total ε budget. Thread-safe.

    ``spent`` lets a restarted process carry on with what was already spent
    (persist :attr:`spent` after each release).
    """

    def __init__(self, epsilon_total: float, min_group_size: int = 20, *, default_epsilon: float = 0.1,
                 spent: float = 0.0) -> None:
        if epsilon_total <= 0 or default_epsilon <= 0:
            raise InvalidInput("epsilon_total and default_epsilon must be positive", code="invalid_epsilon")
        if min_group_size < 0:
            raise InvalidInput("min_group_size must be >= 0", code="invalid_min_group_size")
        self.epsilon_total = float(epsilon_total)
        self.min_group_size = int(min_group_size)
        self.default_epsilon = float(default_epsilon)
        self.spent = float(spent)
        self.charges: list[BudgetCharge] = []
        self._lock = threading.Lock()

    @classmethod
    def from_config(cls, config: DPConfig) -> DPAggregator:
        return cls(config.epsilon_total, config.min_group_size, default_epsilon=config.default_epsilon)

    @property
    def remaining(self) -> float:
        return max(0.0, self.epsilon_total - self.spent)

    def _charge(self, what: str, epsilon: float) -> None:
        # Called with the lock held, before any noisy value exists.
        if self.spent + epsilon > self.epsilon_total + _TOL:
            raise PrivacyBudgetExceeded(
                f"privacy budget exhausted: {what} needs epsilon={epsilon:g} but only {self.remaining:g} of "
                f"{self.epsilon_total:g} is left; release fewer aggregates or start a new budget period",
                details={"needed": epsilon, "remaining": self.remaining, "total": self.epsilon_total})
        self.spent += epsilon
        self.charges.append(BudgetCharge(what, epsilon))

    def _check(self, epsilon: float | None, contributions: int) -> float:
        eps = self.default_epsilon if epsilon is None else float(epsilon)
        if eps <= 0:
            raise InvalidInput("epsilon must be positive", code="invalid_epsilon")
        if contributions < 1:
            raise InvalidInput("contributions (max per shopper) must be >= 1", code="invalid_contributions")
        return eps

    def count(self, true_count: int, *, epsilon: float | None = None, contributions: int = 1,
              what: str = "count") -> DPCount:
        """A noisy count; each shopper adds at most ``contributions`` to ``true_count``."""
        eps = self._check(epsilon, contributions)
        scale = contributions / eps
        meas = _laplace(False, scale)
        loss = float(meas.map(contributions))
        with self._lock:
            self._charge(what, loss)
            noisy = max(0, int(meas(int(true_count))))
        return DPCount(None if noisy < self.min_group_size else noisy, loss, scale)

    def histogram(self, groups: Mapping[str, int] | Iterable[str], *, epsilon: float | None = None,
                  contributions: int = 1, what: str = "histogram") -> DPHistogram:
        """Noisy counts per group. ``groups``: public group name → true count, or one label per shopper.

        ``contributions`` bounds how much one shopper adds over all groups (1 when each shopper is in one group).
        """
        counts = dict(groups) if isinstance(groups, Mapping) else dict(Counter(groups))
        eps = self._check(epsilon, contributions)
        names = sorted(counts)
        if not names:
            raise InvalidInput("histogram needs at least one group", code="empty_histogram")
        scale = contributions / eps
        meas = _laplace(True, scale)
        loss = float(meas.map(contributions))
        with self._lock:
            self._charge(what, loss)
            noisy = [max(0, int(v)) for v in meas([int(counts[n]) for n in names])]
        kept = {n: v for n, v in zip(names, noisy, strict=True) if v >= self.min_group_size}
        return DPHistogram(kept, tuple(n for n in names if n not in kept), loss, scale)
