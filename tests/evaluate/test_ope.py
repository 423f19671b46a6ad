"""Off-policy estimators: hand-computed cases, input checks, and unbiasedness by simulation."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fitloop.errors import InvalidInput
from fitloop.evaluate.ope import (
    bootstrap_mean_ci,
    dm,
    dr,
    estimate,
    estimate_all,
    importance_weights,
    ips,
    snips,
)

# Three rounds, two actions, two positions (0-based).
REWARD = np.array([1.0, 0.0, 1.0])
ACTION = np.array([0, 1, 1])
POSITION = np.array([0, 1, 0])
PSCORE = np.array([0.5, 0.25, 0.5])
DIST = np.array(
    [
        [[0.8, 0.5], [0.2, 0.5]],  # round 0: action 0 at pos 0 with 0.8
        [[0.6, 0.1], [0.4, 0.9]],  # round 1: action 1 at pos 1 with 0.9
        [[0.3, 0.5], [0.7, 0.5]],  # round 2: action 1 at pos 0 with 0.7
    ]
)
Q = np.array(
    [
        [[0.5, 0.1], [0.2, 0.3]],
        [[0.1, 0.0], [0.4, 0.2]],
        [[0.2, 0.2], [0.6, 0.4]],
    ]
)
KW = dict(reward=REWARD, action=ACTION, pscore=PSCORE, action_dist=DIST, position=POSITION)


def test_importance_weights_by_hand() -> None:
    w = importance_weights(action=ACTION, pscore=PSCORE, action_dist=DIST, position=POSITION)
    np.testing.assert_allclose(w, [0.8 / 0.5, 0.9 / 0.25, 0.7 / 0.5])


def test_ips_by_hand() -> None:
    # (1.6*1 + 3.6*0 + 1.4*1) / 3
    assert ips(**KW) == pytest.approx(3.0 / 3)


def test_snips_by_hand() -> None:
    assert snips(**KW) == pytest.approx(3.0 / (1.6 + 3.6 + 1.4))


def test_dm_by_hand() -> None:
    # round 0, pos 0: 0.8*0.5 + 0.2*0.2 = 0.44; round 1, pos 1: 0.1*0.0 + 0.9*0.2 = 0.18;
    # round 2, pos 0: 0.3*0.2 + 0.7*0.6 = 0.48
    assert dm(action_dist=DIST, estimated_rewards=Q, position=POSITION) == pytest.approx((0.44 + 0.18 + 0.48) / 3)


def test_dr_by_hand() -> None:
    # DM parts plus w * (r - q[logged]): 1.6*(1-0.5)=0.8, 3.6*(0-0.2)=-0.72, 1.4*(1-0.6)=0.56
    expected = ((0.44 + 0.8) + (0.18 - 0.72) + (0.48 + 0.56)) / 3
    assert dr(**KW, estimated_rewards=Q) == pytest.approx(expected)


def test_dr_equals_ips_when_model_is_zero() -> None:
    assert dr(**KW, estimated_rewards=np.zeros_like(Q)) == pytest.approx(ips(**KW))


def test_position_defaults_to_single_slot() -> None:
    dist = np.array([[[1.0], [0.0]], [[0.5], [0.5]]])
    value = ips(reward=[1.0, 1.0], action=[0, 1], pscore=[0.5, 0.5], action_dist=dist)
    assert value == pytest.approx((2.0 + 1.0) / 2)


def test_snips_without_overlap_is_zero() -> None:
    dist = np.array([[[0.0], [1.0]]])
    assert snips(reward=[1.0], action=[0], pscore=[0.5], action_dist=dist) == 0.0


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"pscore": np.array([0.5, 0.0, 0.5])}, "pscore"),
        ({"pscore": np.array([0.5, 1.5, 0.5])}, "pscore"),
        ({"action": np.array([0, 2, 1])}, "action"),
        ({"position": np.array([0, 2, 0])}, "position"),
        ({"reward": np.array([1.0, 0.0])}, "same length"),
        ({"action_dist": DIST * 0.5}, "sum to 1"),
        ({"action_dist": DIST[:, :, 0]}, "shape"),
        ({"reward": np.array([1.0, np.nan, 0.0])}, "NaN"),
    ],
)
def test_bad_inputs_say_what_to_fix(change: dict[str, np.ndarray], message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        ips(**{**KW, **change})


def test_dm_and_dr_need_a_reward_model() -> None:
    with pytest.raises(InvalidInput, match="estimated_rewards"):
        estimate("dr", **KW)
    with pytest.raises(InvalidInput, match="shape"):
        dr(**KW, estimated_rewards=Q[:, :, :1])
    with pytest.raises(InvalidInput, match="unknown estimator"):
        estimate("magic", **KW)  # type: ignore[arg-type]


def test_estimate_interval_contains_the_point_and_is_seeded() -> None:
    a = estimate_all(**KW, estimated_rewards=Q, n_bootstrap=200, rng=3)
    b = estimate_all(**KW, estimated_rewards=Q, n_bootstrap=200, rng=3)
    assert set(a) == {"ips", "snips", "dm", "dr"}
    assert a == b
    for est in a.values():
        assert est.ci_low <= est.value <= est.ci_high
        assert est.n_rounds == 3
    assert set(estimate_all(**KW, n_bootstrap=50)) == {"ips", "snips"}


def test_bootstrap_mean_of_constant_is_degenerate() -> None:
    e = bootstrap_mean_ci(np.full(50, 0.25), n_bootstrap=100)
    assert (e.value, e.ci_low, e.ci_high) == (0.25, 0.25, 0.25)


def _synthetic_log(rng: np.random.Generator, n: int, n_actions: int, n_pos: int) -> dict[str, np.ndarray]:
    """A contextual logged bandit whose evaluated-policy value is known exactly."""
    ctx = rng.integers(0, 2, n)
    # Click probability depends on the context, the action and the position.
    base = np.linspace(0.05, 0.4, n_actions)
    theta = np.stack([base, base[::-1]])[:, :, None] * np.array([1.0, 0.7, 0.5][:n_pos])[None, None, :]
    position = rng.integers(0, n_pos, n)
    # Logging policy: non-uniform, context-dependent softmax per position.
    logits = np.stack([np.arange(n_actions) * 0.2, -np.arange(n_actions) * 0.1])
    log_p = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    p_rows = log_p[ctx]
    action = (p_rows.cumsum(axis=1) > rng.random(n)[:, None]).argmax(axis=1)
    pscore = p_rows[np.arange(n), action]
    reward = (rng.random(n) < theta[ctx, action, position]).astype(float)
    # Evaluated policy: a different context-dependent distribution over actions, same at every position.
    eval_logits = np.stack([-np.arange(n_actions) * 0.3, np.arange(n_actions) * 0.3])
    eval_p = np.exp(eval_logits) / np.exp(eval_logits).sum(axis=1, keepdims=True)
    dist = np.repeat(eval_p[ctx][:, :, None], n_pos, axis=2)
    truth_rows = np.einsum("ia,ia->i", eval_p[ctx], theta[ctx, :, position])
    q_bad = np.full((n, n_actions, n_pos), 0.2)  # a deliberately wrong reward model
    return dict(
        reward=reward, action=action, position=position, pscore=pscore, action_dist=dist, truth=truth_rows, q=q_bad
    )


def test_estimators_are_unbiased_by_simulation() -> None:
    rng = np.random.default_rng(7)
    results: dict[str, list[float]] = {"ips": [], "snips": [], "dr": [], "dm": []}
    truths = []
    for _ in range(300):
        log = _synthetic_log(rng, 400, 5, 3)
        kw = {k: log[k] for k in ("reward", "action", "position", "pscore", "action_dist")}
        truths.append(log["truth"].mean())
        results["ips"].append(ips(**kw))
        results["snips"].append(snips(**kw))
        results["dr"].append(dr(**kw, estimated_rewards=log["q"]))
        results["dm"].append(dm(action_dist=log["action_dist"], estimated_rewards=log["q"], position=log["position"]))
    truth = float(np.mean(truths))
    for name in ("ips", "snips", "dr"):
        mean = float(np.mean(results[name]))
        se = float(np.std(results[name]) / np.sqrt(len(results[name])))
        assert abs(mean - truth) < 4 * se + 0.002, (name, mean, truth, se)
    # The direct method with a wrong model is biased: the doubly robust correction is what saves DR.
    assert abs(np.mean(results["dm"]) - truth) > 0.02


@settings(max_examples=50, deadline=None)
@given(
    n=st.integers(1, 30),
    n_actions=st.integers(1, 6),
    seed=st.integers(0, 10_000),
)
def test_snips_stays_within_reward_range(n: int, n_actions: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    reward = rng.random(n)
    action = rng.integers(0, n_actions, n)
    pscore = rng.uniform(0.05, 1.0, n)
    dist = rng.dirichlet(np.ones(n_actions), size=n)[:, :, None]
    value = snips(reward=reward, action=action, pscore=pscore, action_dist=dist)
    assert 0.0 <= value <= reward.max() + 1e-12
    assert ips(reward=reward, action=action, pscore=pscore, action_dist=dist) >= 0.0
