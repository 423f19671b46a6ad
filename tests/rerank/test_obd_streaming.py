"""Reading and scoring Open Bandit logs chunk by chunk gives exactly what a whole read gives."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import typer
from typer.testing import CliRunner

from fitloop.datasets import obd
from fitloop.errors import DatasetError, InvalidInput
from fitloop.rerank.offpolicy import ObdLog, OffPolicyConfig, OffPolicyLearner, iter_obd_log, read_obd_log
from tests.conftest import require_data_file
from tests.rerank.obd_synth import synthetic_item_context, synthetic_obd_log


def _assert_same_log(a: ObdLog, b: ObdLog) -> None:
    for name in ("action", "position", "reward", "pscore", "timestamp", "user_features", "affinity"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name), err_msg=name)
    assert a.user_feature_names == b.user_feature_names


def _with_affinity(n: int, seed: int) -> pd.DataFrame:
    df = synthetic_obd_log(n, seed=seed)
    rng = np.random.default_rng(seed)
    rows = rng.random(n) < 0.2
    df.loc[rows, "user-item_affinity_2"] = rng.integers(1, 4, int(rows.sum())).astype(float)
    return df


def test_chunked_read_equals_whole_frame(tmp_path: Path) -> None:
    df = _with_affinity(1_000, seed=3)
    df.to_csv(tmp_path / "log.csv.gz")  # the unnamed leading index column, as in the Open Bandit files
    whole = ObdLog.from_frame(obd.load_log(path=tmp_path / "log.csv.gz"))
    for chunksize in (1, 97, 10_000):
        _assert_same_log(read_obd_log(tmp_path / "log.csv.gz", chunksize=chunksize), whole)
    assert whole.affinity.dtype == np.float32 and whole.user_features.dtype == object
    np.testing.assert_array_equal(whole.position, df.position.to_numpy() - 1)


@pytest.mark.parametrize("context_model", ["none", "lightgbm"])
def test_score_csv_is_the_same_for_any_chunk_size(app: typer.Typer, tmp_path: Path, context_model: str) -> None:
    runner = CliRunner()
    _with_affinity(4_000, seed=1).to_csv(tmp_path / "train.csv")
    _with_affinity(700, seed=2).to_csv(tmp_path / "later.csv.gz")
    synthetic_item_context().to_csv(tmp_path / "items.csv")
    res = runner.invoke(app, ["bandit", "train", "--log", str(tmp_path / "train.csv"), "--item-context",
                              str(tmp_path / "items.csv"), "--out", str(tmp_path / "model"), "--context-model",
                              context_model, "--affinity", "lift", "--prior-strength", "50"])
    assert res.exit_code == 0, res.output
    texts = []
    for chunk in ("1", "64", "100000"):
        out = tmp_path / f"scores_{chunk}.csv"
        res = runner.invoke(app, ["bandit", "score", "--model", str(tmp_path / "model"), "--log",
                                  str(tmp_path / "later.csv.gz"), "--out", str(out), "--chunk-size", chunk])
        assert res.exit_code == 0, res.output
        texts.append(out.read_text())
    assert texts[0] == texts[1] == texts[2]
    whole = OffPolicyLearner.load(tmp_path / "model").score(ObdLog.from_frame(pd.read_csv(tmp_path / "later.csv.gz")))
    np.testing.assert_allclose(pd.read_csv(tmp_path / "scores_64.csv").prob.to_numpy(), whole, rtol=1e-9)
    assert not list(tmp_path.glob(".*partial"))


@pytest.mark.realdata
def test_chunked_score_on_the_real_sample(app: typer.Typer, shared_data_dir: Path, tmp_path: Path) -> None:
    log = require_data_file(shared_data_dir, "obd/random_all.csv.gz")
    items = shared_data_dir / "obd" / "item_context_all.csv"
    whole_log = ObdLog.from_frame(obd.load_log(path=log))
    _assert_same_log(read_obd_log(log, chunksize=777), whole_log)
    learner = OffPolicyLearner(OffPolicyConfig(rng=0))
    learner.train(whole_log, obd.load_item_context(path=items))
    learner.save(tmp_path / "model")
    runner = CliRunner()
    texts = []
    for chunk in ("333", "100000"):
        res = runner.invoke(app, ["bandit", "score", "--model", str(tmp_path / "model"), "--log", str(log),
                                  "--out", str(tmp_path / f"s{chunk}.csv"), "--chunk-size", chunk])
        assert res.exit_code == 0, res.output
        texts.append((tmp_path / f"s{chunk}.csv").read_text())
    assert texts[0] == texts[1]
    np.testing.assert_allclose(pd.read_csv(tmp_path / "s333.csv").prob.to_numpy(), learner.score(whole_log),
                               rtol=1e-9)


def test_format_variants(tmp_path: Path) -> None:
    df = _with_affinity(300, seed=4)
    ref = read_obd_log(_write(df, tmp_path / "ref.csv", index=True))
    # No index column, extra columns anywhere, columns in another order, 0-based positions.
    variant = df.assign(campaign="all", extra=1.5)[["extra", *reversed(df.columns), "campaign"]]
    _assert_same_log(read_obd_log(_write(variant, tmp_path / "v.csv", index=False), chunksize=50), ref)
    zero = df.assign(position=df.position - 1)
    _assert_same_log(read_obd_log(_write(zero, tmp_path / "zero.csv", index=False), chunksize=50), ref)
    # Scoring needs only item_id and position; the rest may be absent.
    parts = list(iter_obd_log(_write(df[["item_id", "position"]], tmp_path / "min.csv", index=False),
                              chunksize=100, for_scoring=True))
    np.testing.assert_array_equal(np.concatenate([p.position for p in parts]), ref.position)
    np.testing.assert_array_equal(np.concatenate([p.row_index for p in parts]), np.arange(300))


def _write(df: pd.DataFrame, path: Path, *, index: bool) -> Path:
    df.to_csv(path, index=index)
    return path


def test_late_position_zero_is_refused_unless_the_base_is_given(tmp_path: Path) -> None:
    df = _with_affinity(300, seed=5).sort_values("position")
    path = _write(df.assign(position=df.position - 1), tmp_path / "sorted.csv", index=False)
    # 0-based, sorted by position: the first chunk has only 0s ... fine; sorted descending, it has none.
    desc = _write(df.assign(position=df.position - 1).iloc[::-1], tmp_path / "desc.csv", index=False)
    assert len(read_obd_log(path, chunksize=50)) == 300
    whole = read_obd_log(desc, chunksize=50)  # the whole read sees the 0s before deciding
    np.testing.assert_array_equal(np.sort(whole.position), np.sort(df.position.to_numpy() - 1))
    with pytest.raises(InvalidInput, match=r"data row \d+ has position 0.*--position-base 0"):
        list(iter_obd_log(desc, chunksize=50))
    parts = list(iter_obd_log(desc, chunksize=50, position_base=0))
    np.testing.assert_array_equal(np.concatenate([p.position for p in parts]), whole.position)


def test_bad_values_and_missing_columns_are_named(tmp_path: Path) -> None:
    df = _with_affinity(50, seed=6)
    with pytest.raises(DatasetError, match=r"lacks required column\(s\) \['click', 'propensity_score'\]"):
        read_obd_log(_write(df.drop(columns=["click", "propensity_score"]), tmp_path / "m.csv", index=False))
    bad = df.astype({"item_id": object})
    bad.loc[37, "item_id"] = "shoe"
    with pytest.raises(DatasetError, match=r"'item_id'.*'shoe' at data row 38"):
        read_obd_log(_write(bad, tmp_path / "b.csv", index=False), chunksize=10)
    aff = df.astype({"user-item_affinity_3": object})
    aff.loc[12, "user-item_affinity_3"] = "x"
    with pytest.raises(DatasetError, match=r"'user-item_affinity_3'.*data row 13"):
        read_obd_log(_write(aff, tmp_path / "a.csv", index=False), chunksize=10)
    with pytest.raises(InvalidInput, match="1-based"):
        read_obd_log(_write(df.assign(position=-1), tmp_path / "neg.csv", index=False), position_base=1)


def test_cli_prints_one_line_without_traceback(tmp_path: Path) -> None:
    df = synthetic_obd_log(20).drop(columns=["position"])
    df.to_csv(tmp_path / "nopos.csv", index=False)
    proc = subprocess.run(
        [sys.executable, "-c", "from fitloop.cli import main; main()", "bandit", "train", "--log",
         str(tmp_path / "nopos.csv"), "--out", str(tmp_path / "m")],
        capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 2
    assert "['position']" in proc.stderr and "Traceback" not in proc.stderr
