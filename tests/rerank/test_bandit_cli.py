"""`fitloop bandit train | score | validate` on a local Typer app."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import typer
from typer.testing import CliRunner

from fitloop.errors import FitloopError
from fitloop.rerank.offpolicy import OffPolicyLearner, read_obd_log
from tests.conftest import require_data_file
from tests.rerank.obd_synth import synthetic_item_context, synthetic_obd_log


def test_train_then_score_one_row_per_input_row(app: typer.Typer, tmp_path: Path) -> None:
    runner = CliRunner()
    synthetic_obd_log(3_000, seed=0).to_csv(tmp_path / "train.csv.gz")  # with the unnamed index column
    later = synthetic_obd_log(500, seed=9).sample(frac=1.0, random_state=1)  # shuffled: order must be kept
    later.to_csv(tmp_path / "later.csv", index=False)  # and without it
    synthetic_item_context().to_csv(tmp_path / "items.csv")
    res = runner.invoke(
        app,
        ["bandit", "train", "--log", str(tmp_path / "train.csv.gz"), "--item-context", str(tmp_path / "items.csv"),
         "--out", str(tmp_path / "model"), "--epsilon", "0.1", "--prior-strength", "50"],
    )
    assert res.exit_code == 0, res.output
    assert "trained on 3,000 rounds" in res.output
    assert (tmp_path / "model" / "model.json").exists()
    res = runner.invoke(
        app, ["bandit", "score", "--model", str(tmp_path / "model"), "--log", str(tmp_path / "later.csv"),
              "--out", str(tmp_path / "scores.csv"), "--chunk-size", "123"],
    )
    assert res.exit_code == 0, res.output
    scores = pd.read_csv(tmp_path / "scores.csv")
    assert list(scores.columns) == ["row", "item_id", "position", "prob"]
    assert len(scores) == len(later)
    np.testing.assert_array_equal(scores.row, np.arange(len(later)))
    np.testing.assert_array_equal(scores.item_id, later.item_id.to_numpy())
    np.testing.assert_array_equal(scores.position, later.position.to_numpy())
    assert scores.prob.between(0.1 / 10 - 1e-12, 1.0).all()
    expected = OffPolicyLearner.load(tmp_path / "model").score(read_obd_log(tmp_path / "later.csv"))
    np.testing.assert_allclose(scores.prob.to_numpy(), expected, rtol=1e-9)


def test_bad_input_is_a_fitloop_error(app: typer.Typer, tmp_path: Path) -> None:
    runner = CliRunner()
    res = runner.invoke(app, ["bandit", "train", "--log", str(tmp_path / "missing.csv"), "--out", str(tmp_path / "m")])
    assert res.exit_code != 0
    assert isinstance(res.exception, FitloopError)
    pd.DataFrame({"a": [1]}).to_csv(tmp_path / "bad.csv", index=False)
    res = runner.invoke(app, ["bandit", "train", "--log", str(tmp_path / "bad.csv"), "--out", str(tmp_path / "m")])
    assert isinstance(res.exception, FitloopError)
    res = runner.invoke(
        app, ["bandit", "score", "--model", str(tmp_path / "nomodel"), "--log", str(tmp_path / "bad.csv"),
              "--out", str(tmp_path / "s.csv")],
    )
    assert isinstance(res.exception, FitloopError)


@pytest.mark.realdata
def test_validate_on_real_data(app: typer.Typer, shared_data_dir: Path, tmp_path: Path) -> None:
    require_data_file(shared_data_dir, "obd/random_all.csv.gz")
    require_data_file(shared_data_dir, "obd/bts_all.csv.gz")
    res = CliRunner().invoke(
        app, ["bandit", "validate", "--data-dir", str(shared_data_dir), "--n-bootstrap", "50",
              "--json", str(tmp_path / "v.json")],
    )
    assert res.exit_code == 0, res.output
    assert "BTS, estimated from random log | IPS" in res.output
    assert "learned | SNIPS" in res.output
    assert "Rolling origin" in res.output and "learned (pooled blocks) | SNIPS" in res.output
    assert (tmp_path / "v.json").exists()
    payload = json.loads((tmp_path / "v.json").read_text())
    assert len(payload["rolling"]["folds"]) == 5
    res = CliRunner().invoke(app, ["bandit", "validate", "--data-dir", str(shared_data_dir), "--shares", "0.5,x"])
    assert isinstance(res.exception, FitloopError)


def test_train_with_a_fixed_top_k_policy(app: typer.Typer, tmp_path: Path) -> None:
    runner = CliRunner()
    synthetic_obd_log(3_000, seed=0).to_csv(tmp_path / "train.csv", index=False)
    res = runner.invoke(
        app, ["bandit", "train", "--log", str(tmp_path / "train.csv"), "--out", str(tmp_path / "model"),
              "--policy", "topk", "--top-k", "5", "--epsilon", "0.1"],
    )
    assert res.exit_code == 0, res.output
    assert "policy: top-5" in res.output
    res = runner.invoke(app, ["bandit", "score", "--model", str(tmp_path / "model"), "--log",
                              str(tmp_path / "train.csv"), "--out", str(tmp_path / "s.csv")])
    assert res.exit_code == 0, res.output
    probs = pd.read_csv(tmp_path / "s.csv").prob.round(10)
    assert set(probs) == {round(0.1 / 10, 10), round(0.9 / 5 + 0.1 / 10, 10)}
    res = runner.invoke(app, ["bandit", "train", "--log", str(tmp_path / "train.csv"), "--out", str(tmp_path / "m2"),
                              "--policy", "softmax"])
    assert isinstance(res.exception, FitloopError)
