"""Off-policy learning on Open Bandit format logs: parsing, learning, probabilities, persistence."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from fitloop.errors import DatasetError, InvalidInput, ModelBundleError, NotTrained
from fitloop.evaluate.ope import snips
from fitloop.rerank.offpolicy import (
    ItemPositionCTR,
    ObdLog,
    OffPolicyConfig,
    OffPolicyLearner,
    read_item_context,
    read_obd_log,
    split_by_time,
)
from tests.conftest import require_data_file
from tests.rerank.obd_synth import ObdLikeWorld, synthetic_item_context, synthetic_obd_log, true_ctr


def test_frame_positions_become_zero_based_and_index_column_is_kept() -> None:
    df = synthetic_obd_log(50)
    df.insert(0, "Unnamed: 0", np.arange(100, 150))
    log = ObdLog.from_frame(df)
    np.testing.assert_array_equal(log.position, df.position.to_numpy() - 1)
    np.testing.assert_array_equal(log.row_index, np.arange(100, 150))
    assert log.user_features.shape == (50, 4)
    assert log.affinity.shape == (50, 10)
    assert (log.n_actions, log.len_list) == (10, 3)
    already_zero = df.assign(position=df.position - 1)
    np.testing.assert_array_equal(ObdLog.from_frame(already_zero).position, log.position)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d.drop(columns=["click"]), "lacks columns"),
        (lambda d: d.assign(item_id="shoe"), "numeric"),
        (lambda d: d.assign(item_id=-1), "non-negative"),
        (lambda d: d.assign(position=-1), "1-based"),
        (lambda d: d.iloc[:0], "no rows"),
    ],
)
def test_bad_frames_say_what_to_fix(change: object, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        ObdLog.from_frame(change(synthetic_obd_log(20)))  # type: ignore[operator]


def test_split_by_time_keeps_order_and_sizes() -> None:
    df = synthetic_obd_log(100).sample(frac=1.0, random_state=0)  # shuffled rows
    train, test = split_by_time(ObdLog.from_frame(df), 0.7)
    assert (len(train), len(test)) == (70, 30)
    assert train.timestamp.max() < test.timestamp.min()
    with pytest.raises(InvalidInput):
        split_by_time(ObdLog.from_frame(df), 1.0)


def test_item_position_ctr_shrinks_towards_item_and_overall_rates() -> None:
    action = np.array([0] * 100 + [1] * 100)
    position = np.zeros(200, dtype=np.int64)
    reward = np.r_[np.ones(50), np.zeros(150)]
    weak = ItemPositionCTR.fit(action, position, reward, n_actions=3, len_list=1, prior_strength=1e6).table
    strong = ItemPositionCTR.fit(action, position, reward, n_actions=3, len_list=1, prior_strength=1.0).table
    np.testing.assert_allclose(weak[:, 0], 0.25, atol=1e-3)  # all shrunk to the overall rate
    assert strong[0, 0] == pytest.approx(0.5, abs=0.01)
    assert strong[1, 0] < 0.01
    assert strong[2, 0] == pytest.approx(0.25, abs=0.01)  # unseen item: the overall rate


def _trained(n: int = 20_000, **cfg: object) -> tuple[OffPolicyLearner, ObdLog]:
    log = ObdLog.from_frame(synthetic_obd_log(n, seed=1))
    learner = OffPolicyLearner(OffPolicyConfig(**cfg))  # type: ignore[arg-type]
    learner.train(log, synthetic_item_context())
    return learner, log


def test_action_dist_is_a_valid_stochastic_slate_policy() -> None:
    learner, log = _trained(5_000, epsilon=0.1, prior_strength=50.0)
    dist = learner.action_dist(log.subset(np.arange(200)))
    assert dist.shape == (200, 10, 3)
    np.testing.assert_allclose(dist.sum(axis=1), 1.0)
    assert dist.min() == pytest.approx(0.1 / 10)
    # One greedy item per position, never the same item at two positions.
    greedy = dist.argmax(axis=1)
    assert all(len(set(row)) == 3 for row in greedy)
    scores = learner.score(log.subset(np.arange(200)))
    np.testing.assert_allclose(scores, dist[np.arange(200), log.action[:200], log.position[:200]])


def test_context_free_model_picks_the_items_with_the_most_clicks() -> None:
    learner, log = _trained(20_000, context_model="none", prior_strength=50.0)
    assert learner.train_summary["context_model"] == "none"
    slate = learner.greedy_slates(log.subset(np.arange(1)))[0]
    # Items 1 and 2 are each 0.30 for half the users (0.15 overall), item 0 is 0.10 for everyone.
    assert set(slate.tolist()) == {0, 1, 2}


def test_context_model_learns_who_likes_what() -> None:
    learner, log = _trained(20_000, context_model="lightgbm", min_data_in_leaf=50, prior_strength=50.0)
    assert learner.train_summary["context_model"] == "lightgbm"
    first = log.user_features[:, 0]
    slates = learner.greedy_slates(log)
    top_a = np.bincount(slates[first == "aaaa", 0], minlength=10).argmax()
    top_b = np.bincount(slates[first == "bbbb", 0], minlength=10).argmax()
    assert (top_a, top_b) == (1, 2)
    # On a later log, the learned policy's SNIPS estimate is close to its true value and beats uniform.
    later = ObdLog.from_frame(synthetic_obd_log(20_000, seed=2))
    dist = learner.action_dist(later)
    est = snips(reward=later.reward, action=later.action, pscore=later.pscore, action_dist=dist,
                position=later.position)
    ctr = true_ctr(10)
    user = (later.user_features[:, 0] == "bbbb").astype(int)
    truth = float(np.mean(np.einsum("iak,iak->ik", dist, ctr[user])[np.arange(len(later)), later.position]))
    assert est == pytest.approx(truth, rel=0.15)
    assert truth > 1.5 * later.reward.mean()


def test_unknown_items_and_positions_score_zero() -> None:
    learner, _ = _trained(2_000)
    df = synthetic_obd_log(3)
    df.loc[0, "item_id"] = 99
    df.loc[1, "position"] = 7
    probs = learner.score(ObdLog.from_frame(df))
    assert probs[0] == 0.0 and probs[1] == 0.0 and probs[2] > 0.0


@pytest.mark.parametrize("context_model", ["none", "lightgbm"])
def test_save_and_load_give_the_same_scores(tmp_path: Path, context_model: str) -> None:
    learner, log = _trained(5_000, context_model=context_model, min_data_in_leaf=50)
    learner.save(tmp_path / "m")
    assert (tmp_path / "m" / "context.lgb.txt").exists() == (context_model == "lightgbm")
    loaded = OffPolicyLearner.load(tmp_path / "m")
    np.testing.assert_allclose(loaded.score(log), learner.score(log))
    assert loaded.config == learner.config


def test_broken_model_folders_are_refused(tmp_path: Path) -> None:
    learner, _ = _trained(2_000)
    d = learner.save(tmp_path / "m")
    with pytest.raises(ModelBundleError):
        OffPolicyLearner.load(tmp_path / "nothing")
    meta = json.loads((d / "model.json").read_text())
    (d / "model.json").write_text(json.dumps({**meta, "n_actions": 11}))
    with pytest.raises(ModelBundleError, match="shape"):
        OffPolicyLearner.load(d)
    (d / "model.json").write_text(json.dumps({**meta, "format": "other/2"}))
    with pytest.raises(ModelBundleError, match="format"):
        OffPolicyLearner.load(d)
    (d / "model.json").write_text(json.dumps(meta))
    (d / "arrays.npz").write_bytes(b"not a zip")
    with pytest.raises(ModelBundleError):
        OffPolicyLearner.load(d)


def test_untrained_and_bad_config() -> None:
    with pytest.raises(NotTrained):
        OffPolicyLearner().score(ObdLog.from_frame(synthetic_obd_log(5)))
    with pytest.raises(InvalidInput):
        OffPolicyConfig(epsilon=0.0)
    with pytest.raises(InvalidInput):
        OffPolicyConfig(context_model="magic")  # type: ignore[arg-type]


def test_read_files_with_and_without_index_column(tmp_path: Path) -> None:
    df = synthetic_obd_log(30)
    df.to_csv(tmp_path / "with_index.csv.gz")  # pandas writes the unnamed index column, as OBD does
    df.to_csv(tmp_path / "plain.csv", index=False)
    a, b = read_obd_log(tmp_path / "with_index.csv.gz"), read_obd_log(tmp_path / "plain.csv")
    np.testing.assert_array_equal(a.action, b.action)
    np.testing.assert_array_equal(a.position, df.position.to_numpy() - 1)
    synthetic_item_context().to_csv(tmp_path / "items.csv")
    assert list(read_item_context(tmp_path / "items.csv").item_id) == list(range(10))
    pd.DataFrame({"x": [1]}).to_csv(tmp_path / "bad.csv", index=False)
    with pytest.raises((DatasetError, InvalidInput)):
        read_obd_log(tmp_path / "bad.csv")


@pytest.mark.realdata
def test_real_random_log_learn_early_score_late(shared_data_dir: Path) -> None:
    path = require_data_file(shared_data_dir, "obd/random_all.csv.gz")
    items = read_item_context(require_data_file(shared_data_dir, "obd/item_context_all.csv"))
    train, test = split_by_time(read_obd_log(path), 0.7)
    learner = OffPolicyLearner(OffPolicyConfig(epsilon=0.05))
    learner.train(train, items)
    assert learner.train_summary["n_actions"] == 80
    probs = learner.score(test)
    assert probs.shape == (len(test),)
    assert np.all((probs >= 0.05 / 80 - 1e-12) & (probs <= 1.0))
    # 28 clicks: the inner validation cannot trust a greedy slate and spreads over the top m items,
    # each of which takes (1 - epsilon) / m + epsilon / 80 of every position's mass.
    name = learner.policy_name
    assert name.startswith("top-"), learner.train_summary["selection"]
    m = int(name.split("-")[1])
    assert set(np.round(np.unique(probs), 8)) == {round(0.05 / 80, 8), round(0.95 / m + 0.05 / 80, 8)}
    assert learner.train_summary["affinity_lift"] is None  # 8 affinity rows cannot show a lift


# ---------------------------------------------------------------- format 2: inner validation, top-m, affinity


def test_item_group_prior_shrinks_towards_the_group_rate() -> None:
    # Items 0 and 1 share a group; item 0 clicks a lot, item 1 was never shown; item 2 is alone.
    action = np.array([0] * 200 + [2] * 200)
    reward = np.r_[np.ones(40), np.zeros(160), np.zeros(200)]
    position = np.zeros(400, dtype=np.int64)
    plain = ItemPositionCTR.fit(action, position, reward, n_actions=3, len_list=1, prior_strength=50.0).table
    grouped = ItemPositionCTR.fit(action, position, reward, n_actions=3, len_list=1, prior_strength=50.0,
                                  item_group=np.array([0, 0, 1])).table
    assert plain[1, 0] == pytest.approx(0.1, abs=1e-9)  # unseen: the overall rate 40 / 400
    assert grouped[1, 0] > 0.15  # unseen, but its group clicks at 0.2
    assert grouped[2, 0] < plain[2, 0]


def test_topk_policy_is_a_valid_slate_distribution_with_exact_marginals() -> None:
    learner, log = _trained(5_000, epsilon=0.1, prior_strength=50.0, policy="topk", top_k=4)
    assert learner.policy_name == "top-4"
    sub = log.subset(np.arange(300))
    dist = learner.action_dist(sub)
    np.testing.assert_allclose(dist.sum(axis=1), 1.0)
    values = set(np.round(np.unique(dist), 10))
    assert values == {round(0.1 / 10, 10), round(0.9 / 4 + 0.1 / 10, 10)}
    # Every item's mass over the 3 positions is at most 1, so a slate without repeats can realise it.
    assert np.all(dist.sum(axis=2) <= 1.0 + 1e-12)
    # The four top items are the ones with the highest predicted rate.
    top = np.argsort(-learner.predict_rewards(sub)[0].mean(axis=1), kind="stable")[:4]
    assert set(np.nonzero(dist[0, :, 0] > 0.1)[0]) == set(top.tolist())
    np.testing.assert_allclose(learner.score(sub), dist[np.arange(300), sub.action, sub.position])


def test_auto_policy_is_greedy_on_a_strong_signal() -> None:
    learner = OffPolicyLearner(OffPolicyConfig(context_model="none"))
    learner.train(ObdLog.from_frame(synthetic_obd_log(20_000, n_items=20, seed=1)))
    assert learner.policy_name == "greedy"
    selection = learner.train_summary["selection"]
    assert isinstance(selection, dict) and selection["chosen"] == "none/greedy"
    # 20 items, 3 positions: top-6 is the only broader candidate (top-12 would cover over half the items).
    assert [c["policy"] for c in selection["candidates"]] == ["top-6", "greedy"]


def test_auto_policy_spreads_out_when_the_log_has_no_signal() -> None:
    """Every item clicks at the same rate: a greedy slate would stake everything on noise."""
    rng = np.random.default_rng(3)
    n, n_items = 20_000, 40
    df = synthetic_obd_log(n, n_items=n_items, seed=3)
    df["click"] = (rng.random(n) < 0.005).astype(int)
    learner = OffPolicyLearner(OffPolicyConfig(context_model="none"))
    learner.train(ObdLog.from_frame(df))
    assert learner.policy_name.startswith("top-")
    assert int(learner.policy_name.split("-")[1]) >= 12


def test_selection_report_survives_save_and_load(tmp_path: Path) -> None:
    learner, log = _trained(5_000)
    learner.save(tmp_path / "m")
    meta = json.loads((tmp_path / "m" / "model.json").read_text())
    assert meta["format"] == "fitloop.offpolicy/2"
    assert meta["train_summary"]["selection"]["inner_folds"] == 3
    loaded = OffPolicyLearner.load(tmp_path / "m")
    assert loaded.policy_name == learner.policy_name
    np.testing.assert_allclose(loaded.score(log), learner.score(log))


def test_format_1_folders_still_load_as_greedy(tmp_path: Path) -> None:
    """A folder written before format 2 (greedy, no lift, no policy key) scores as it did then."""
    learner, log = _trained(5_000, prior_strength=50.0, policy="greedy", affinity="none", context_model="none")
    d = learner.save(tmp_path / "m")
    meta = json.loads((d / "model.json").read_text())
    v1_config = {k: meta["config"][k] for k in ("epsilon", "prior_strength", "context_model",
                                                 "min_clicks_for_context", "num_boost_round", "learning_rate",
                                                 "num_leaves", "min_data_in_leaf", "reg", "rng")}
    v1 = {k: v for k, v in meta.items() if k not in ("policy", "affinity_lift")}
    (d / "model.json").write_text(json.dumps({**v1, "format": "fitloop.offpolicy/1", "config": v1_config}))
    old = OffPolicyLearner.load(d)
    assert old.policy_name == "greedy"
    np.testing.assert_allclose(old.score(log), learner.score(log))


def test_bad_new_settings_are_refused() -> None:
    for bad in ({"policy": "softmax"}, {"affinity": "yes"}, {"item_prior": "colour"}, {"top_k": -1},
                {"inner_folds": 0}, {"inner_share": 1.0}, {"selection_z": -1.0}, {"prior_grid": ()},
                {"prior_strength": 0.0}):
        with pytest.raises(InvalidInput):
            OffPolicyConfig(**bad)  # type: ignore[arg-type]
    log = ObdLog.from_frame(synthetic_obd_log(500))
    with pytest.raises(InvalidInput, match="top_k"):
        OffPolicyLearner(OffPolicyConfig(policy="topk", top_k=2)).train(log)  # fewer than the 3 positions
    with pytest.raises(InvalidInput, match="item_prior"):
        OffPolicyLearner(OffPolicyConfig(item_prior="item_feature_9")).train(log, synthetic_item_context())


def test_affinity_lift_is_used_when_real_and_dropped_when_absent() -> None:
    real = ObdLikeWorld(seed=1, affinity_lift=4.0, affinity_rate=0.02)
    learner = OffPolicyLearner(OffPolicyConfig(context_model="none"))
    learner.train(real.log(150_000, seed=11))
    lift = learner.train_summary["affinity_lift"]
    assert isinstance(lift, float) and 2.5 < lift < 5.5, lift
    check = learner.train_summary["selection"]["affinity_check"]  # type: ignore[index]
    assert check["improves"] and check["validation_clicks_there"] > 2 * check["expected_without_lift"]
    # A user with an affinity to an item gets that item in the greedy slate.
    probe = real.log(50, seed=12)
    affinity = np.zeros_like(probe.affinity)
    affinity[:, 77] = 1.0
    probe = ObdLog(**{**probe.__dict__, "affinity": affinity})
    assert np.all(learner.greedy_slates(probe) == 77, axis=1).sum() == 0  # shown at one position...
    assert np.all((learner.greedy_slates(probe) == 77).any(axis=1))  # ...in every round
    none = ObdLikeWorld(seed=1, affinity_lift=1.0, affinity_rate=0.02)
    learner = OffPolicyLearner(OffPolicyConfig(context_model="none"))
    learner.train(none.log(150_000, seed=11))
    assert learner.train_summary["affinity_lift"] is None


@pytest.mark.parametrize("n", [10_000, 100_000])
def test_learned_policy_beats_uniform_in_truth_on_an_obd_like_world(n: int) -> None:
    """Known truth, shaped like campaign "all": the learned policy's true value on the later part."""
    ratios, errors = [], []
    for seed in range(3):
        world = ObdLikeWorld(seed=seed)
        train, test = split_by_time(world.log(n, seed=100 + seed), 0.7)
        learner = OffPolicyLearner(OffPolicyConfig(context_model="none"))
        learner.train(train)
        dist = learner.action_dist(test)
        uniform = world.true_value(np.full_like(dist, 1 / 80), test)
        truth = world.true_value(dist, test)
        est = snips(reward=test.reward, action=test.action, pscore=test.pscore, action_dist=dist,
                    position=test.position)
        ratios.append(truth / uniform)
        errors.append(abs(est - truth) / truth)
    if n == 10_000:
        # Few clicks: the learner must not stake everything on noise; its estimate must be usable.
        assert min(ratios) > 1.0, ratios
        assert np.mean(errors) < 0.6, errors
    else:
        assert min(ratios) > 1.4, ratios
        assert np.mean(errors) < 0.35, errors
