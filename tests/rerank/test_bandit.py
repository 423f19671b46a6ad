"""The online bandit: it learns, explores with exact logged propensities, replays, and degrades safely."""

from __future__ import annotations

import json
import logging
from datetime import date
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fitloop.data import Context, EventType, ScoredItem
from fitloop.errors import InvalidInput, ModelBundleError
from fitloop.rerank.bandit import (
    BanditConfig,
    Feedback,
    GuardedPolicy,
    LinUCBBandit,
    PlainPolicy,
    RewardWeights,
    context_features,
    load_policy_or_plain,
)
from tests.rerank.policy_cases import CATALOG, check_invariants, requests

CLICK = EventType.PRODUCT_CLICKED
ORDER = EventType.ORDER_COMPLETED
RETURN = EventType.PRODUCT_RETURNED


def _cands(m: int) -> list[ScoredItem]:
    return [ScoredItem(f"i{j}", score=1.0 - j / m, reason="popular", source="als") for j in range(m)]


def test_reward_weights_add_and_returns_subtract() -> None:
    w = RewardWeights()
    assert w.reward([CLICK]) == 1.0
    assert w.reward([CLICK, EventType.CART_ADDED, ORDER]) == 8.0
    assert w.reward([CLICK, ORDER, RETURN]) == 2.0
    assert w.reward(["product_returned"]) == -4.0
    assert w.reward([EventType.PAGE, "unknown"]) == 0.0
    assert RewardWeights(click=0.5, returned=-10.0).reward([CLICK, RETURN]) == -9.5


def test_returns_push_an_item_down() -> None:
    """Two items with the same clicks and orders: the one that comes back ranks lower."""
    ctx = Context(slot="home")
    bandit = LinUCBBandit(BanditConfig(epsilon=0.0, alpha=0.0, base_weight=0.0))
    for _ in range(10):
        bandit.learn_one(Feedback("kept", ctx, (CLICK, ORDER)))
        bandit.learn_one(Feedback("returned", ctx, (CLICK, ORDER)))
        bandit.learn_one(Feedback("returned", ctx, (RETURN,), correction=True))
    mean, _ = bandit.expected_rewards(ctx, ["kept", "returned"])
    assert mean[0] > mean[1]
    ranked = bandit.rerank(ctx, [ScoredItem("returned", 1.0), ScoredItem("kept", 0.5)], 2, user_id="u", request_id="r")
    assert [s.item_id for s in ranked] == ["kept", "returned"]


def test_learns_the_best_arm_in_a_simulated_shop() -> None:
    """Ten items, one context-dependent best item; the bandit's greedy pick converges to it."""
    rng = np.random.default_rng(0)
    m = 10
    ctxs = [Context(slot="home", temperature_c=2.0), Context(slot="home", temperature_c=28.0)]
    # Click probability per (context, item): the coat wins in the cold, the dress in the heat.
    p = np.full((2, m), 0.05)
    p[0, 7] = 0.5
    p[1, 3] = 0.5
    bandit = LinUCBBandit(BanditConfig(epsilon=0.1, alpha=0.3, rng=0))
    cands = _cands(m)
    rewards = []
    for t in range(3000):
        c = int(rng.integers(0, 2))
        shown = bandit.rerank(ctxs[c], cands, 1, user_id=f"u{t}", request_id=str(t))[0]
        j = int(shown.item_id[1:])
        clicked = rng.random() < p[c, j]
        rewards.append(float(clicked))
        bandit.learn_one(Feedback(shown.item_id, ctxs[c], (CLICK,) if clicked else ()))
    greedy = LinUCBBandit.from_state(*bandit.to_state())
    greedy.config = BanditConfig(epsilon=0.0, alpha=0.0, rng=0)
    assert greedy.rerank(ctxs[0], cands, 1, user_id="x", request_id="y")[0].item_id == "i7"
    assert greedy.rerank(ctxs[1], cands, 1, user_id="x", request_id="y")[0].item_id == "i3"
    # The last thousand rounds earn far more than uniform play (0.095 per round).
    assert np.mean(rewards[-1000:]) > 0.35


@settings(max_examples=60, deadline=None)
@given(
    m=st.integers(0, 25),
    n=st.integers(0, 12),
    eps=st.floats(0.0, 1.0),
    user=st.text(max_size=5),
    request=st.text(max_size=5),
)
def test_propensities_are_exact_probabilities(m: int, n: int, eps: float, user: str, request: str) -> None:
    bandit = LinUCBBandit(BanditConfig(epsilon=eps, rng=3))
    ctx = Context(slot="pdp")
    bandit.learn_one(Feedback("i1", ctx, (CLICK,)))
    cands = _cands(m)
    out = bandit.rerank(ctx, cands, n, user_id=user, request_id=request)
    assert len(out) == min(n, m)
    assert len({s.item_id for s in out}) == len(out)
    assert {s.item_id for s in out} <= {c.item_id for c in cands}
    for s in out:
        assert 0.0 < s.propensity <= 1.0 + 1e-12
    # The per-slot probabilities of all candidates sum to one; shown items are a part of that.
    if out:
        assert sum(s.propensity for s in out) <= len(out) + 1e-9
        greedy = LinUCBBandit.from_state(*bandit.to_state())
        greedy.config = BanditConfig(epsilon=0.0, rng=3)
        greedy_list = greedy.rerank(ctx, cands, n, user_id=user, request_id=request)
        for slot in range(len(out)):
            total = sum(
                (1 - eps) * float(greedy_list[slot].item_id == c.item_id) + eps / m for c in cands
            )
            assert total == pytest.approx(1.0)
            expected = (1 - eps) * float(greedy_list[slot].item_id == out[slot].item_id) + eps / m
            assert out[slot].propensity == pytest.approx(expected)


def test_exploration_rate_matches_epsilon_and_marginals_match_propensities() -> None:
    m, eps = 5, 0.4
    bandit = LinUCBBandit(BanditConfig(epsilon=eps, rng=11))
    ctx = Context()
    counts = np.zeros(m)
    props = np.zeros(m)
    runs = 4000
    for r in range(runs):
        top = bandit.rerank(ctx, _cands(m), 1, user_id="u", request_id=str(r))[0]
        j = int(top.item_id[1:])
        counts[j] += 1
        props[j] = top.propensity
    np.testing.assert_allclose(counts / runs, [1 - eps + eps / m] + [eps / m] * (m - 1), atol=0.025)
    np.testing.assert_allclose(props, [1 - eps + eps / m] + [eps / m] * (m - 1))


def test_decisions_replay_from_seed_user_and_request() -> None:
    bandit = LinUCBBandit(BanditConfig(epsilon=0.5, rng=42))
    ctx = Context(slot="home", day=date(2024, 5, 1))
    cands = _cands(20)
    a = bandit.rerank(ctx, cands, 5, user_id="u1", request_id="req-9")
    b = bandit.rerank(ctx, cands, 5, user_id="u1", request_id="req-9")
    assert a == b
    via_extra = bandit.rerank(
        Context(slot="home", day=date(2024, 5, 1), extra={"user_id": "u1", "request_id": "req-9"}), cands, 5
    )
    assert via_extra == a
    restored = LinUCBBandit.from_state(*bandit.to_state())
    assert restored.rerank(ctx, cands, 5, user_id="u1", request_id="req-9") == a
    lists = {tuple(s.item_id for s in bandit.rerank(ctx, cands, 5, user_id="u1", request_id=str(r))) for r in range(30)}
    assert len(lists) > 1  # different requests do explore differently


def test_rerank_keeps_reason_and_source_and_drops_duplicates() -> None:
    bandit = LinUCBBandit(BanditConfig(epsilon=0.0))
    cands = [ScoredItem("a", 1.0, reason="because you liked x", source="als"), ScoredItem("a", 0.9), ScoredItem("b", 0.1)]
    out = bandit.rerank(Context(), cands, 5, user_id="u", request_id="r")
    assert [s.item_id for s in out] == ["a", "b"]
    assert (out[0].reason, out[0].source) == ("because you liked x", "als")
    with pytest.raises(InvalidInput):
        bandit.rerank(Context(), cands, -1)


def test_context_features_are_unit_length_and_deterministic() -> None:
    ctx = Context(slot="home", city="Berlin", day=date(2024, 1, 5), temperature_c=-3, rain_mm=4.0,
                  extra={"features": {"age": 0.3, "bad": "x"}})
    x = context_features(ctx, 32)
    assert x.shape == (32,)
    assert np.linalg.norm(x) == pytest.approx(1.0)
    np.testing.assert_array_equal(x, context_features(ctx, 32))
    assert not np.array_equal(x, context_features(Context(slot="home"), 32))


def test_state_round_trip_through_files(tmp_path: Path) -> None:
    bandit = LinUCBBandit(BanditConfig(rng=5, reward=RewardWeights(order=3.0)))
    for j in range(30):
        bandit.learn_one(Feedback(f"i{j % 4}", Context(slot="home"), (CLICK,) if j % 3 == 0 else ()))
    bandit.save(tmp_path / "b")
    loaded = LinUCBBandit.load(tmp_path / "b")
    assert loaded.config == bandit.config
    assert loaded.version == bandit.version == "linucb-30"
    cands = _cands(6)
    assert loaded.rerank(Context(slot="home"), cands, 3, user_id="u", request_id="r") == bandit.rerank(
        Context(slot="home"), cands, 3, user_id="u", request_id="r"
    )
    assert isinstance(load_policy_or_plain(tmp_path / "b"), LinUCBBandit)


@pytest.mark.parametrize("damage", ["missing", "bad_json", "bad_npz", "wrong_shape", "wrong_format", "nan"])
def test_corrupt_state_falls_back_to_plain_ranking(
    tmp_path: Path, damage: str, caplog: pytest.LogCaptureFixture
) -> None:
    d = tmp_path / "b"
    bandit = LinUCBBandit()
    bandit.learn_one(Feedback("i1", Context(), (CLICK,)))
    bandit.save(d)
    meta = json.loads((d / "state.json").read_text())
    if damage == "missing":
        (d / "state.npz").unlink()
    elif damage == "bad_json":
        (d / "state.json").write_text("{not json")
    elif damage == "bad_npz":
        (d / "state.npz").write_bytes(b"garbage")
    elif damage == "wrong_shape":
        meta["config"]["context_dim"] = 8
        (d / "state.json").write_text(json.dumps(meta))
    elif damage == "wrong_format":
        meta["format"] = "something/9"
        (d / "state.json").write_text(json.dumps(meta))
    elif damage == "nan":
        _, arrays = bandit.to_state()
        arrays["b"][0, 0] = np.nan
        np.savez(d / "state.npz", **arrays)
    if damage != "missing":
        with pytest.raises(ModelBundleError):
            LinUCBBandit.load(d)
    with caplog.at_level(logging.WARNING, logger="fitloop.rerank.bandit"):
        policy = load_policy_or_plain(d)
    assert isinstance(policy, PlainPolicy)
    assert "plain ranking" in caplog.text
    cands = _cands(4)
    out = policy.rerank(Context(), cands, 3)
    assert [s.item_id for s in out] == ["i0", "i1", "i2"]
    assert all(s.propensity == 1.0 for s in out)
    policy.learn_one(Feedback("i1", Context(), (CLICK,)))  # a no-op, never an error


def test_config_rejects_nonsense() -> None:
    with pytest.raises(InvalidInput):
        BanditConfig(epsilon=1.5)
    with pytest.raises(InvalidInput):
        BanditConfig(reg=0.0)
    with pytest.raises(InvalidInput):
        BanditConfig(context_dim=1)
    with pytest.raises(InvalidInput):
        LinUCBBandit().learn_one(Feedback("", Context()))


class _Broken:
    version = "broken-1"

    def rerank(self, ctx: Context, candidates: object, n: int, *, user_id: object = None,
               request_id: object = None) -> list[ScoredItem]:
        raise RuntimeError("state went bad")

    def learn_one(self, feedback: Feedback) -> None:
        raise RuntimeError("state went bad")


def test_guarded_policy_serves_plain_ranking_when_the_policy_fails(caplog: pytest.LogCaptureFixture) -> None:
    guarded = GuardedPolicy(_Broken())
    with caplog.at_level(logging.WARNING, logger="fitloop.rerank.bandit"):
        out = guarded.rerank(Context(), _cands(5), 2, user_id="u", request_id="r")
        guarded.learn_one(Feedback("i1", Context(), (CLICK,)))
    assert [s.item_id for s in out] == ["i0", "i1"]
    assert "broken-1" in caplog.text
    with pytest.raises(InvalidInput):
        guarded.rerank(Context(), _cands(5), -1)
    healthy = GuardedPolicy(LinUCBBandit(BanditConfig(rng=1)))
    assert healthy.rerank(Context(), _cands(5), 3, user_id="u", request_id="r") == LinUCBBandit(
        BanditConfig(rng=1)
    ).rerank(Context(), _cands(5), 3, user_id="u", request_id="r")


@settings(max_examples=60, deadline=None)
@given(req=requests(), eps=st.floats(0.0, 1.0))
def test_policy_invariants_of_the_rerank_suite(req: tuple[Context, list[ScoredItem], int], eps: float) -> None:
    """Subset of the candidates, no duplicates, at most n, never excluded or out of stock."""
    ctx, cands, n = req
    bandit = LinUCBBandit(BanditConfig(epsilon=eps, rng=0), catalog=CATALOG)
    out = bandit.rerank(ctx, cands, n)
    check_invariants(out, ctx, cands, n)
    assert all(0.0 < s.propensity <= 1.0 + 1e-12 for s in out)
    plain = PlainPolicy().rerank(ctx, cands, n)
    assert not {s.item_id for s in plain} & set(ctx.extra.get("exclude", ()))


def test_fits_in_a_policy_chain_and_ignores_raw_events() -> None:
    from datetime import datetime

    from fitloop.data import Event
    from fitloop.rerank.policy import Chain, InStockFilter, Policy

    bandit = LinUCBBandit(BanditConfig(epsilon=0.0))
    assert isinstance(bandit, Policy) and isinstance(PlainPolicy(), Policy)
    chain = Chain([InStockFilter(CATALOG), bandit])
    out = chain.rerank(Context(), [ScoredItem("i3", 1.0), ScoredItem("i0", 0.5)], 2, user_id="u", request_id="r")
    assert [s.item_id for s in out] == ["i0"]  # i3 is sold out
    chain.learn_one(Event("e1", EventType.PRODUCT_CLICKED, "u", datetime(2024, 1, 1), item_id="i0"))
    assert bandit.version == "linucb-0"
    chain.learn_one(Feedback("i0", Context(), (CLICK,)))
    assert bandit.version == "linucb-1"
