"""Ranking metrics against hand-computed cases and their invariants."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from fitloop.evaluate.metrics import (
    average_precision_at_k,
    catalog_coverage,
    cold_start_recall,
    homogeneity_rate,
    intra_list_diversity,
    map_at_k,
    ndcg_at_k,
    novelty,
    paired_bootstrap_ci,
    recall_at_k,
)


def _kaggle_apk(actual: list[str], predicted: list[str], k: int = 12) -> float:
    """The reference implementation used by the H&M competition (ml_metrics.apk)."""
    if len(predicted) > k:
        predicted = predicted[:k]
    score = 0.0
    num_hits = 0.0
    for i, p in enumerate(predicted):
        if p in actual and p not in predicted[:i]:
            num_hits += 1.0
            score += num_hits / (i + 1.0)
    if not actual:
        return 0.0
    return score / min(len(actual), k)


@pytest.mark.parametrize(
    ("actual", "predicted", "expected"),
    [
        (["a"], ["a"], 1.0),
        (["a"], ["x", "a"], 0.5),
        (["a", "b"], ["a", "x", "b"], (1 + 2 / 3) / 2),
        (["a", "b", "c"], ["x", "y", "c"], (1 / 3) / 3),
        (["a"], ["x"] * 11 + ["a"], 1 / 12),
        (["a"], ["x"] * 12 + ["a"], 0.0),  # beyond k
        ([], ["a"], 0.0),
        ([f"i{j}" for j in range(20)], [f"i{j}" for j in range(12)], 1.0),  # divides by min(|actual|, k)
    ],
)
def test_average_precision_hand_cases(actual: list[str], predicted: list[str], expected: float) -> None:
    assert average_precision_at_k(actual, predicted, 12) == pytest.approx(expected)


def test_map_is_the_mean_over_customers() -> None:
    assert map_at_k([["a"], ["b"], ["c"]], [["a"], ["x", "b"], ["y"]]) == pytest.approx((1 + 0.5 + 0) / 3)
    with pytest.raises(ValueError):
        map_at_k([["a"]], [])


ids = st.lists(st.sampled_from(list("abcdefghijklmnop")), max_size=16)


@given(actual=ids, predicted=ids)
def test_ap_matches_the_kaggle_reference_and_is_bounded(actual: list[str], predicted: list[str]) -> None:
    ap = average_precision_at_k(actual, predicted)
    assert ap == pytest.approx(_kaggle_apk(sorted(set(actual)), predicted))
    assert 0.0 <= ap <= 1.0
    assert 0.0 <= ndcg_at_k(actual, predicted) <= 1.0 + 1e-12
    assert 0.0 <= recall_at_k(actual, predicted) <= 1.0


@given(actual=st.sets(st.sampled_from(list("abcdefghij")), min_size=1))
def test_a_perfect_list_scores_one(actual: set[str]) -> None:
    ranked = sorted(actual)
    assert average_precision_at_k(actual, ranked) == pytest.approx(1.0)
    assert ndcg_at_k(actual, ranked) == pytest.approx(1.0)


def test_recall_and_ndcg_hand_cases() -> None:
    assert recall_at_k({"a", "b", "c", "d"}, ["a", "x", "c"]) == 0.5
    # hits at ranks 1 and 3 of 2 relevant: (1 + 1/log2(4)) / (1 + 1/log2(3))
    assert ndcg_at_k({"a", "c"}, ["a", "x", "c"]) == pytest.approx((1 + 0.5) / (1 + 1 / math.log2(3)))


def test_coverage_diversity_novelty_homogeneity_cold() -> None:
    assert catalog_coverage([["a", "b"], ["a"]], 4) == 0.5
    attrs = {"a": ("dress", "red"), "b": ("dress", "red"), "c": ("top", "blue")}
    assert intra_list_diversity([["a", "b"]], attrs) == 0.0
    assert intra_list_diversity([["a", "c"]], attrs) == 1.0
    assert novelty([["a"]], {"a": 25}, n_users=100) == pytest.approx(2.0)
    assert novelty([["zzz"]], {}, n_users=3) == pytest.approx(2.0)  # never bought: p = 1/(n+1)
    assert homogeneity_rate([["a", "b", "c", "d"]], ["dress"], {"a": "dress", "b": "dress", "c": "top"}) == 0.5
    assert math.isnan(cold_start_recall([["a"]], [["a"]], {"n"}))
    assert cold_start_recall([["n", "m"]], [["m", "x"]], {"n", "m"}) == 0.5


def test_paired_bootstrap_ci_brackets_the_difference() -> None:
    rng = np.random.default_rng(1)
    a = rng.random(400) + 0.1
    b = a - 0.1 + rng.normal(0, 0.01, 400)
    d, lo, hi = paired_bootstrap_ci(a, b, n_boot=500, rng=0)
    assert lo < d < hi and lo > 0.09 and hi < 0.11
    d0, lo0, hi0 = paired_bootstrap_ci(a, a, n_boot=100)
    assert d0 == lo0 == hi0 == 0.0
    assert all(math.isnan(v) for v in paired_bootstrap_ci([], []))
