"""Experiment statistics against known answers and by simulation."""

from __future__ import annotations

import numpy as np
import pytest

from fitloop.errors import InvalidInput
from fitloop.marketing.experiments import (
    SequentialTest,
    guardrail_return_rate,
    revenue_test,
    sample_size_two_proportions,
    two_proportion_test,
)


def test_sample_size_matches_the_textbook_formula() -> None:
    # Fleiss' formula without continuity correction: 10 % → 12 %, alpha 0.05, power 0.8 → 3,841 per arm.
    assert sample_size_two_proportions(0.10, 0.12) == 3841
    with pytest.raises(InvalidInput):
        sample_size_two_proportions(0.1, 0.1)
    with pytest.raises(InvalidInput):
        sample_size_two_proportions(0.0, 0.1)


def test_two_proportion_test_known_values() -> None:
    r = two_proportion_test(200, 1000, 250, 1000)
    # z = 0.05 / sqrt(0.225*0.775*0.002) = 2.6854 → p = 0.00725
    assert r.p_value == pytest.approx(0.00725, abs=2e-4)
    assert r.significant and r.ci_low > 0 and "beats" in r.summary
    with pytest.raises(InvalidInput):
        two_proportion_test(5, 4, 1, 10)


def test_z_test_false_positive_rate_is_alpha() -> None:
    rng = np.random.default_rng(1)
    hits = sum(two_proportion_test(rng.binomial(2000, 0.1), 2000, rng.binomial(2000, 0.1), 2000).significant
               for _ in range(2000))
    assert 0.03 < hits / 2000 < 0.07


def test_revenue_test_detects_a_real_difference() -> None:
    rng = np.random.default_rng(2)
    a = rng.exponential(20, 3000) * (rng.random(3000) < 0.1)
    b = rng.exponential(26, 3000) * (rng.random(3000) < 0.1)
    r = revenue_test(a, b)
    assert r.ci_low < r.difference < r.ci_high


def test_sequential_test_controls_peeking() -> None:
    # Look after every 200 shoppers per arm, 25 times, under no effect: false positives stay near alpha,
    # whereas stopping at the first naive p < 0.05 would be far above it.
    rng = np.random.default_rng(3)
    seq_fp = naive_fp = 0
    runs = 300
    for _ in range(runs):
        t = SequentialTest(alpha=0.05, tau=0.02)
        xa = xb = na = nb = 0
        naive = False
        for _ in range(25):
            xa += rng.binomial(200, 0.1); xb += rng.binomial(200, 0.1); na += 200; nb += 200  # noqa: E702
            t.update(xa, na, xb, nb)
            naive = naive or two_proportion_test(xa, na, xb, nb).significant
        seq_fp += t.decided
        naive_fp += naive
    assert seq_fp / runs <= 0.07
    assert naive_fp / runs > seq_fp / runs


def test_sequential_test_finds_a_real_effect() -> None:
    rng = np.random.default_rng(4)
    t = SequentialTest(alpha=0.05, tau=0.02)
    xa = xb = n = 0
    for _ in range(40):
        xa += rng.binomial(500, 0.10); xb += rng.binomial(500, 0.13); n += 500  # noqa: E702
        t.update(xa, n, xb, n)
    assert t.decided


def test_guardrail() -> None:
    ok, msg = guardrail_return_rate(100, 1000, 104, 1000)
    assert ok
    bad, msg = guardrail_return_rate(100, 2000, 300, 2000)
    assert not bad and "stop the test" in msg
