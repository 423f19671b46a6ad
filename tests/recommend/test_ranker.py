"""The LambdaRank ranker: learns a signal, saves as text exactly, refuses a broken model."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from fitloop.errors import ModelBundleError, NotTrained
from fitloop.recommend import LambdaRanker, RankerConfig


def _data(seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = pd.DataFrame({"signal": rng.random(600), "noise": rng.random(600)})
    y = (x["signal"] + 0.1 * rng.random(600) > 0.85).astype(int).to_numpy()
    return x, y


def test_learns_the_signal_and_reports_it_as_most_important() -> None:
    x, y = _data()
    r = LambdaRanker(RankerConfig(n_estimators=30, min_child_samples=5))
    r.train(x, y, [30] * 20)
    s = r.score(x)
    assert s[y == 1].mean() > s[y == 0].mean()
    assert list(r.feature_importance())[0] == "signal"


def test_text_roundtrip_scores_identically_and_columns_are_matched_by_name() -> None:
    x, y = _data()
    r = LambdaRanker(RankerConfig(n_estimators=10, min_child_samples=5))
    r.train(x, y, [30] * 20)
    again = LambdaRanker.from_text(r.to_text())
    assert np.array_equal(again.score(x[["noise", "signal"]]), r.score(x))


def test_training_is_deterministic() -> None:
    x, y = _data()
    a, b = LambdaRanker(RankerConfig(n_estimators=10)), LambdaRanker(RankerConfig(n_estimators=10))
    a.train(x, y, [30] * 20)
    b.train(x, y, [30] * 20)
    assert a.to_text() == b.to_text()


def test_untrained_and_broken_models() -> None:
    with pytest.raises(NotTrained):
        LambdaRanker().score(pd.DataFrame({"a": [1.0]}))
    with pytest.raises(ModelBundleError, match="could not be read"):
        LambdaRanker.from_text("this is not a LightGBM model")


def test_binary_objective_learns_without_groups_and_excluded_features_are_ignored() -> None:
    x, y = _data()
    r = LambdaRanker(RankerConfig(n_estimators=30, min_child_samples=5, objective="binary", exclude_features=("noise",)))
    r.train(x, y, [30] * 20)
    assert r.feature_names == ["signal"]
    s = r.score(x)  # scoring still takes the full frame; the excluded column is simply not read
    assert s[y == 1].mean() > s[y == 0].mean()
    assert "objective=binary" in r.to_text()


def test_unknown_objective_is_refused() -> None:
    from fitloop.errors import InvalidInput

    with pytest.raises(InvalidInput, match="lambdarank"):
        RankerConfig(objective="xendcg")
