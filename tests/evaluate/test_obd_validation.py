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
    run_obd_validation,
    validate_bts_from_random,
)
from fitloop.rerank.offpolicy import ObdLog
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
