"""The standard Open Bandit check: estimate BTS's click rate from the random log."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from fitloop.errors import InvalidInput
from fitloop.evaluate.obd_validation import (
    OBDValidationConfig,
    bts_action_dist,
    evaluate_offpolicy_learning,
    rolling_origin_study,
    run_obd_validation,
    validate_bts_from_random,
)
from fitloop.rerank.offpolicy import ObdLog, OffPolicyConfig
from tests.conftest import require_data_file
from tests.rerank.obd_synth import synthetic_obd_log, true_ctr


def test_empirical_action_dist_by_hand() -> None:
    df = pd.DataFrame({"item_id": [0, 0, 1, 2, 2, 2], "position": [1, 2, 1, 2, 2, 1], "click": 0})
    pi = bts_action_dist(ObdLog.from_frame(df), n_actions=4, len_list=2)
    np.testing.assert_allclose(pi, [[1 / 3, 1 / 3], [1 / 3, 0], [1 / 3, 2 / 3], [0, 0]])


def test_empirical_action_dist_needs_every_position() -> None:
    df = pd.DataFrame({"item_id": [0, 1], "position": [1, 1], "click": 0})
    with pytest.raises(InvalidInput, match="position"):
        bts_action_dist(ObdLog.from_frame(df), n_actions=2, len_list=2)


def test_posterior_action_dist_favours_the_clicked_item() -> None:
    df = pd.DataFrame({"item_id": [0] * 50 + [1] * 50 + [2] * 50, "position": 1,
                       "click": [1] * 25 + [0] * 25 + [0] * 100})
    pi = bts_action_dist(ObdLog.from_frame(df), n_actions=3, len_list=2, method="posterior", n_sim=20_000, rng=0)
    np.testing.assert_allclose(pi.sum(axis=0), 1.0)
    assert pi[0, 0] > 0.95
    assert pi[1, 0] < 0.05
    with pytest.raises(InvalidInput):
        bts_action_dist(ObdLog.from_frame(df), n_actions=3, len_list=2, method="magic")  # type: ignore[arg-type]


def test_validation_recovers_a_known_policy_value() -> None:
    """A 'BTS' log written by a known context-free policy: its observed rate is what IPS must find."""
    n_items = 10
    pi = np.full((n_items, 3), 0.02)
    pi[0], pi[1], pi[2] = 0.4, 0.3, 0.14  # concentrated on good items, like BTS
    pi /= pi.sum(axis=0)
    random_log = ObdLog.from_frame(synthetic_obd_log(40_000, n_items, seed=3))
    bts_log = ObdLog.from_frame(synthetic_obd_log(40_000, n_items, seed=4, pscore=pi))
    result = validate_bts_from_random(random_log, bts_log, OBDValidationConfig(n_bootstrap=200))
    truth = float(np.mean(np.einsum("ak,uak->uk", pi, true_ctr(n_items)).mean(axis=1)))
    assert result.observed_bts.value == pytest.approx(truth, rel=0.08)
    for name in ("ips", "snips", "dr"):
        assert result.relative_error[name] < 0.1, (name, result.relative_error[name])
        assert result.estimates[name].contains(result.observed_bts.value) or result.relative_error[name] < 0.05
    # The reverse check uses the 'BTS' log's true propensities, so it recovers the random rate.
    assert result.random_from_bts["ips"].value == pytest.approx(result.observed_random.value, rel=0.15)
    table = result.table()
    assert "| BTS, estimated from random log | IPS |" in table
    assert set(result.to_dict()) >= {"estimates", "relative_error", "observed_bts"}


def test_validation_refuses_logs_without_propensities() -> None:
    df = synthetic_obd_log(100).drop(columns=["propensity_score"])
    log = ObdLog.from_frame(df)
    with pytest.raises(InvalidInput, match="propensity"):
        validate_bts_from_random(log, log)


def test_learned_policy_report_on_synthetic_logs() -> None:
    random_log = ObdLog.from_frame(synthetic_obd_log(20_000, seed=5))
    bts_log = ObdLog.from_frame(synthetic_obd_log(5_000, seed=6))
    report = evaluate_offpolicy_learning(random_log, bts_log, n_bootstrap=100)
    assert (report.n_train, report.n_test) == (14_000, 6_000)
    # A learned greedy policy on a log with strong item effects beats the (here uniform) comparison log.
    assert report.beats_bts("snips") and report.significant("snips")
    assert "learned | SNIPS" in report.table()


@pytest.mark.realdata
def test_real_obd_bts_estimated_from_random(shared_data_dir: Path) -> None:
    require_data_file(shared_data_dir, "obd/random_all.csv.gz")
    require_data_file(shared_data_dir, "obd/bts_all.csv.gz")
    result = run_obd_validation(shared_data_dir, OBDValidationConfig(n_bootstrap=300))
    assert result.n_random == result.n_bts == 10_000
    # With ~40 clicks per log only a loose check is honest: IPS within 50 % of the observed BTS rate,
    # and the observed rate inside the IPS and DR intervals.
    assert result.relative_error["ips"] < 0.5
    assert result.estimates["ips"].contains(result.observed_bts.value)
    assert result.estimates["dr"].contains(result.observed_bts.value)
    # Sanity: the uniform policy's value on its own log is its observed click rate.
    assert 0.001 < result.observed_random.value < 0.01


def test_rolling_origin_study_on_synthetic_logs() -> None:
    random_log = ObdLog.from_frame(synthetic_obd_log(20_000, seed=7))
    bts_log = ObdLog.from_frame(synthetic_obd_log(5_000, seed=8))  # uniform: the reference to beat
    study = rolling_origin_study(random_log, bts_log, shares=(0.5, 0.7, 0.6), n_bootstrap=100)
    assert [f.train_fraction for f in study.folds] == [0.5, 0.6, 0.7]  # sorted
    assert [f.n_train for f in study.folds] == [10_000, 12_000, 14_000]
    assert all(f.n_train + f.n_test == 20_000 for f in study.folds)
    # Blocked folds: every round from the first origin on is estimated once.
    assert study.pooled_rounds == 10_000
    assert study.pooled_clicks == sum(f.clicks_test for f in study.folds[:1])
    # Strong item effects: the learned policy beats the uniform reference at every origin and pooled.
    assert study.folds_above_bts("snips") == 3
    assert study.pooled["snips"].ci_low > study.observed_bts.value
    assert study.pooled["snips"].value > 1.5 * study.pooled_random.value
    table = study.table()
    assert "| 0.60 |" in table and "learned (pooled blocks) | SNIPS" in table
    assert set(study.to_dict()) >= {"folds", "pooled", "folds_above_bts_snips"}
    for bad in ((), (0.0, 0.5), (0.5, 1.0)):
        with pytest.raises(InvalidInput):
            rolling_origin_study(random_log, bts_log, shares=bad)


def test_rolling_origin_pooled_estimate_tracks_the_truth() -> None:
    """A policy whose true value is known: pooled blocked SNIPS lands near it."""
    random_log = ObdLog.from_frame(synthetic_obd_log(30_000, seed=9))
    bts_log = ObdLog.from_frame(synthetic_obd_log(2_000, seed=10))
    cfg = OffPolicyConfig(policy="greedy", context_model="none", prior_strength=50.0)
    study = rolling_origin_study(random_log, bts_log, shares=(0.4, 0.6, 0.8), learner_config=cfg, n_bootstrap=100)
    # With 10 items and these click rates the greedy context-free slate is items 1, 2, 0 (the weakest of the
    # three at the weakest position); users of both types are equally common, positions uniform.
    mean_ctr = true_ctr(10).mean(axis=0)  # (item, position)
    greedy = np.mean([mean_ctr[a, k] for k, a in enumerate((1, 2, 0))])
    truth = 0.95 * greedy + 0.05 * mean_ctr.mean()
    assert study.pooled["snips"].contains(truth) or abs(study.pooled["snips"].value - truth) / truth < 0.15
    assert all(f.policy == "greedy" for f in study.folds)


@pytest.mark.realdata
def test_real_obd_rolling_origin(shared_data_dir: Path) -> None:
    from fitloop.evaluate.obd_validation import load_obd_item_context, load_obd_logs

    require_data_file(shared_data_dir, "obd/random_all.csv.gz")
    random_log, bts_log = load_obd_logs(shared_data_dir)
    study = rolling_origin_study(random_log, bts_log, item_context=load_obd_item_context(shared_data_dir),
                                 n_bootstrap=100)
    assert len(study.folds) == 5 and study.pooled_rounds == 6_000
    # With 14-32 training clicks the learner spreads its slates (no fold rests on a handful of matched rounds),
    # so every origin's estimate stays in a plausible range instead of swinging from 0.02 % to 3 %.
    for fold in study.folds:
        assert fold.policy.startswith("top-"), fold
        assert 0.001 < fold.estimates["snips"].value < 0.012, fold
