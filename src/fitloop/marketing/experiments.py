"""A/B test statistics a marketer can trust: sample size up front, sound tests, monitoring without peeking bias.

- :func:`sample_size_two_proportions`: shoppers per arm to detect a lift in a rate with given power.
- :func:`two_proportion_test`: z-test for click/conversion rates, with a confidence interval of the difference.
- :func:`revenue_test`: Welch's t-test on per-shopper revenue (heavy tails: also a bootstrap interval).
- :class:`SequentialTest`: a mixture sequential probability ratio test (mSPRT, Johari et al. 2017) whose
  always-valid p-value may be looked at after every batch of data without inflating false positives.
- :func:`guardrail_return_rate`: a one-sided check that the treatment does not raise the return rate.

>>> n = sample_size_two_proportions(0.05, 0.06, alpha=0.05, power=0.8)
>>> 8000 < n < 8300
True
>>> r = two_proportion_test(500, 10_000, 600, 10_000)
>>> round(r.lift, 3), r.p_value < 0.01
(0.2, True)
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import stats

from fitloop.errors import InvalidInput

__all__ = [
    "ComparisonResult",
    "sample_size_two_proportions",
    "two_proportion_test",
    "revenue_test",
    "SequentialTest",
    "guardrail_return_rate",
]


@dataclass(frozen=True, slots=True)
class ComparisonResult:
    """Outcome of a comparison of treatment (B) against control (A)."""

    control: float
    treatment: float
    difference: float
    lift: float
    ci_low: float
    ci_high: float
    p_value: float
    significant: bool
    summary: str


def _check_rate(name: str, p: float) -> None:
    if not 0.0 < p < 1.0:
        raise InvalidInput(f"{name} must be a rate strictly between 0 and 1, got {p}")


def sample_size_two_proportions(p_control: float, p_treatment: float, *, alpha: float = 0.05, power: float = 0.8) -> int:
    """Shoppers needed in *each* arm for a two-sided z-test to detect ``p_control → p_treatment``."""
    _check_rate("p_control", p_control)
    _check_rate("p_treatment", p_treatment)
    if p_control == p_treatment:
        raise InvalidInput("the rates must differ: say which lift you want to be able to detect")
    if not 0 < alpha < 1 or not 0 < power < 1:
        raise InvalidInput("alpha and power must be between 0 and 1")
    z_a = stats.norm.ppf(1 - alpha / 2)
    z_b = stats.norm.ppf(power)
    p_bar = (p_control + p_treatment) / 2
    num = z_a * math.sqrt(2 * p_bar * (1 - p_bar)) + z_b * math.sqrt(
        p_control * (1 - p_control) + p_treatment * (1 - p_treatment)
    )
    return int(math.ceil(num**2 / (p_control - p_treatment) ** 2))


def two_proportion_test(x_a: int, n_a: int, x_b: int, n_b: int, *, alpha: float = 0.05) -> ComparisonResult:
    """Two-sided z-test of ``x_b/n_b`` against ``x_a/n_a`` (pooled variance for the test, unpooled for the CI)."""
    for name, x, n in (("control", x_a, n_a), ("treatment", x_b, n_b)):
        if n <= 0 or x < 0 or x > n:
            raise InvalidInput(f"{name}: successes must be between 0 and the number of shoppers ({x} of {n})")
    pa, pb = x_a / n_a, x_b / n_b
    pooled = (x_a + x_b) / (n_a + n_b)
    se0 = math.sqrt(pooled * (1 - pooled) * (1 / n_a + 1 / n_b))
    z = (pb - pa) / se0 if se0 > 0 else 0.0
    p_value = float(2 * stats.norm.sf(abs(z)))
    se = math.sqrt(pa * (1 - pa) / n_a + pb * (1 - pb) / n_b)
    zc = stats.norm.ppf(1 - alpha / 2)
    diff = pb - pa
    lift = diff / pa if pa > 0 else float("inf") if diff > 0 else 0.0
    sig = p_value < alpha
    summary = (
        f"B {'beats' if diff > 0 else 'trails'} A by {diff * 100:+.2f} points ({lift * 100:+.1f} %); "
        + ("significant" if sig else "not significant")
        + f" (p = {p_value:.3g})"
    )
    return ComparisonResult(pa, pb, diff, lift, diff - zc * se, diff + zc * se, p_value, sig, summary)


def revenue_test(
    revenue_a: np.ndarray, revenue_b: np.ndarray, *, alpha: float = 0.05, n_boot: int = 2000, rng: int = 0
) -> ComparisonResult:
    """Welch's t-test on revenue per shopper (zeros included) with a bootstrap CI of the difference of means."""
    a = np.asarray(revenue_a, dtype=float)
    b = np.asarray(revenue_b, dtype=float)
    if len(a) < 2 or len(b) < 2:
        raise InvalidInput("each arm needs at least two shoppers for a revenue test")
    res = stats.ttest_ind(b, a, equal_var=False)
    gen = np.random.default_rng(rng)
    diffs = gen.choice(b, (n_boot, len(b))).mean(axis=1) - gen.choice(a, (n_boot, len(a))).mean(axis=1)
    lo, hi = np.quantile(diffs, [alpha / 2, 1 - alpha / 2])
    ma, mb = float(a.mean()), float(b.mean())
    diff = mb - ma
    p_value = float(res.pvalue) if np.isfinite(res.pvalue) else 1.0
    sig = p_value < alpha
    lift = diff / ma if ma else 0.0
    summary = f"revenue per shopper {ma:.2f} → {mb:.2f} ({lift * 100:+.1f} %); " + (
        "significant" if sig else "not significant") + f" (p = {p_value:.3g})"
    return ComparisonResult(ma, mb, diff, lift, float(lo), float(hi), p_value, sig, summary)


class SequentialTest:
    """Always-valid monitoring of a conversion-rate difference (mSPRT with a normal mixture).

    Feed cumulative counts as they arrive with :meth:`update`; :attr:`p_value` never increases and
    stays valid however often you look, so stopping as soon as ``p_value < alpha`` keeps the false
    positive rate at ``alpha``. ``tau`` is the prior scale of the effect (in rate points).

    >>> t = SequentialTest(alpha=0.05, tau=0.02)
    >>> t.update(100, 2000, 160, 2000).p_value < 0.05
    True
    """

    def __init__(self, *, alpha: float = 0.05, tau: float = 0.01) -> None:
        if not 0 < alpha < 1 or tau <= 0:
            raise InvalidInput("alpha must be in (0, 1) and tau positive")
        self.alpha = alpha
        self.tau2 = tau * tau
        self.p_value = 1.0
        self.looks = 0

    def update(self, x_a: int, n_a: int, x_b: int, n_b: int) -> SequentialTest:
        if n_a <= 0 or n_b <= 0:
            return self
        pa, pb = x_a / n_a, x_b / n_b
        p = (x_a + x_b) / (n_a + n_b)
        # Variance of the difference estimate; floor it so tiny early counts cannot explode the ratio.
        v = max(p * (1 - p), 1e-6) * (1 / n_a + 1 / n_b)
        d = pb - pa
        lam = math.sqrt(v / (v + self.tau2)) * math.exp(self.tau2 * d * d / (2 * v * (v + self.tau2)))
        self.p_value = min(self.p_value, 1.0 / lam if lam > 0 else 1.0)
        self.looks += 1
        return self

    @property
    def decided(self) -> bool:
        return self.p_value < self.alpha


def guardrail_return_rate(returns_a: int, orders_a: int, returns_b: int, orders_b: int, *,
                          max_increase: float = 0.01, alpha: float = 0.05) -> tuple[bool, str]:
    """Pass unless we are confident the treatment raises the return rate by more than ``max_increase``.

    One-sided: the guardrail fails when the lower confidence bound of (B − A) exceeds ``max_increase``.
    """
    if orders_a <= 0 or orders_b <= 0:
        return True, "no orders yet: guardrail not evaluated"
    ra, rb = returns_a / orders_a, returns_b / orders_b
    se = math.sqrt(max(ra * (1 - ra), 1e-9) / orders_a + max(rb * (1 - rb), 1e-9) / orders_b)
    lower = (rb - ra) - stats.norm.ppf(1 - alpha) * se
    ok = lower <= max_increase
    msg = f"return rate {ra * 100:.1f} % → {rb * 100:.1f} %"
    return ok, msg + ("" if ok else f": raised by more than {max_increase * 100:.1f} points — stop the test")
