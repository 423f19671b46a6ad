"""`fitloop size predict | evaluate` on a local Typer app, with synthetic RentTheRunway files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import typer
from typer.testing import CliRunner

from fitloop.cli.size import register
from fitloop.errors import FitloopError
from fitloop.profile.size_fit import synthetic_rentals

FAST = ["--epochs", "60", "--n-trees", "20"]


@pytest.fixture()
def app() -> typer.Typer:
    app = typer.Typer()

    @app.callback()
    def _root() -> None:
        """fitloop (test root)."""

    register(app)
    return app


def _flip_rows(n: int, fit: str, start: str, seed: int) -> pd.DataFrame:
    """Rentals of item "flip" at size 10 by average shoppers, all with the same verdict."""
    rng = np.random.default_rng(seed)
    return pd.DataFrame({
        "fit": fit, "user_id": [f"f{seed}-{k}" for k in range(n)], "item_id": "flip", "size": 10,
        "category": "dress", "weight_lbs": rng.normal(172, 3, n), "height_in": 66.0, "bust_size_num": 34.0,
        "bust_size_letter": "c", "age": 30.0, "body_type": "hourglass", "rented_for": "party",
        "review_date": (pd.Timestamp(start) + pd.to_timedelta(rng.integers(0, 150, n), unit="D")).strftime("%Y-%m-%d"),
    })


@pytest.fixture()
def data_dir(tmp_path: Path) -> Path:
    base = synthetic_rentals(n_users=300, n_items=40, n_rentals=3000, seed=5, start="2015-01-01", days=330)
    # Before 2015-06-01 item "flip" at size 10 runs large; from then on (many more reviews) it runs small.
    df = pd.concat([base, _flip_rows(150, "large", "2015-01-01", 1), _flip_rows(450, "small", "2015-06-05", 2)])
    (tmp_path / "rtr").mkdir()
    df.sample(frac=1.0, random_state=0).to_csv(tmp_path / "rtr" / "rentals.csv.gz", index=False)
    return tmp_path


def _query(tmp_path: Path) -> Path:
    q = synthetic_rentals(n_users=300, n_items=40, n_rentals=200, seed=6, start="2016-01-01").drop(columns=["fit"])
    q = pd.concat([q, pd.DataFrame({"user_id": ["brand-new", "u1"], "item_id": ["flip", "never-seen"], "size": [10, 12],
                                    "category": ["dress", "jumpsuit"], "weight_lbs": [172.0, np.nan]})])
    q = q.sample(frac=1.0, random_state=3)
    q.to_csv(tmp_path / "in.csv", index=False)
    return tmp_path / "in.csv"


def _predict(app: typer.Typer, data_dir: Path, inp: Path, out: Path, as_of: str, *extra: str) -> pd.DataFrame:
    res = CliRunner().invoke(app, ["size", "predict", "--dataset", "rtr", "--data-dir", str(data_dir), "--as-of", as_of,
                                   "--in", str(inp), "--out", str(out), *FAST, *extra])
    assert res.exit_code == 0, res.output
    return pd.read_csv(out)


def test_predict_writes_one_row_per_input_in_order(app: typer.Typer, data_dir: Path, tmp_path: Path) -> None:
    inp = _query(tmp_path)
    out = _predict(app, data_dir, inp, tmp_path / "out.csv", "2016-01-01", "--save-model", str(tmp_path / "model"))
    q = pd.read_csv(inp)
    assert list(out.columns) == ["p_small", "p_fit", "p_large"]
    assert len(out) == len(q)
    assert np.isfinite(out.to_numpy()).all() and (out.to_numpy() >= 0).all()
    np.testing.assert_allclose(out.sum(axis=1), 1.0, atol=1e-6)
    # In order: the saved model scores the same file to the same rows.
    from fitloop.profile.size_fit import SizeFitModel, prepare_rentals

    direct = SizeFitModel.load(tmp_path / "model").predict_proba(prepare_rentals(q)).to_numpy()
    np.testing.assert_allclose(out.to_numpy(), direct, atol=1e-7)
    # Shuffling the input shuffles the output the same way.
    perm = np.random.default_rng(0).permutation(len(q))
    q.iloc[perm].to_csv(tmp_path / "in2.csv", index=False)
    out2 = _predict(app, data_dir, tmp_path / "in2.csv", tmp_path / "out2.csv", "2016-01-01")
    np.testing.assert_allclose(out2.to_numpy(), out.to_numpy()[perm], atol=1e-7)


def test_predict_trains_only_on_reviews_before_as_of(app: typer.Typer, data_dir: Path, tmp_path: Path) -> None:
    pd.DataFrame({"user_id": ["brand-new"], "item_id": ["flip"], "size": [10], "category": ["dress"],
                  "weight_lbs": [172.0], "height_in": [66.0]}).to_csv(tmp_path / "one.csv", index=False)
    early = _predict(app, data_dir, tmp_path / "one.csv", tmp_path / "early.csv", "2015-06-01").iloc[0]
    late = _predict(app, data_dir, tmp_path / "one.csv", tmp_path / "late.csv", "2016-01-01").iloc[0]
    assert early.p_large > early.p_small  # only the "runs large" reviews are before 2015-06-01
    assert late.p_small > late.p_large  # the later "runs small" reviews flip it once they are allowed


def test_predict_bad_input_is_a_clear_error(app: typer.Typer, data_dir: Path, tmp_path: Path) -> None:
    inp = _query(tmp_path)
    runner = CliRunner()
    base = ["size", "predict", "--data-dir", str(data_dir), "--in", str(inp), "--out", str(tmp_path / "o.csv")]
    for extra, msg in ((["--as-of", "01/02/2016"], "YYYY-MM-DD"), (["--as-of", "2010-01-01"], "pick a later"),
                       (["--as-of", "2016-01-01", "--dataset", "hm"], "rtr")):
        res = runner.invoke(app, base + extra)
        assert isinstance(res.exception, FitloopError) and msg in res.exception.message, res.output
    pd.DataFrame({"user_id": ["a"], "item_id": ["b"]}).to_csv(tmp_path / "nosize.csv", index=False)
    res = runner.invoke(app, ["size", "predict", "--data-dir", str(data_dir), "--in", str(tmp_path / "nosize.csv"),
                              "--out", str(tmp_path / "o.csv"), "--as-of", "2016-01-01"])
    assert isinstance(res.exception, FitloopError) and "size" in res.exception.message


def test_evaluate_prints_the_comparison_table(app: typer.Typer, data_dir: Path, tmp_path: Path) -> None:
    res = CliRunner().invoke(app, ["size", "evaluate", "--data-dir", str(data_dir), "--cut", "2015-10-01", *FAST,
                                   "--json", str(tmp_path / "rep.json")])
    assert res.exit_code == 0, res.output
    for method in ("| majority |", "| user_size |", "| latent |", "| latent+gbm |"):
        assert method in res.output
    assert (tmp_path / "rep.json").exists()
