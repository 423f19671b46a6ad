"""Size & fit: truth recovery on synthetic data, the in-shop size profile, bundles, evaluation, real-data smoke."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest

from fitloop.errors import InvalidInput, ModelBundleError, NotTrained
from fitloop.profile.size_fit import (
    FIT_CLASSES,
    LatentSizeModel,
    SizeFitConfig,
    SizeFitModel,
    best_weights,
    prepare_rentals,
    synthetic_rentals,
)
from fitloop.profile.size_fit_eval import UserSizeBaseline, evaluate_size_fit, metrics
from fitloop.profile.size_profile import SizeProfile, size_value
from tests.conftest import require_data_file

FAST = SizeFitConfig(epochs=80, n_trees=25)


@pytest.fixture(scope="module")
def synth() -> pd.DataFrame:
    return synthetic_rentals(n_users=400, n_items=50, n_rentals=6000, seed=3)


@pytest.fixture(scope="module")
def model(synth: pd.DataFrame) -> SizeFitModel:
    m = SizeFitModel(FAST)
    m.train(synth)
    return m


@pytest.fixture(scope="module")
def latent_only(synth: pd.DataFrame) -> SizeFitModel:
    m = SizeFitModel(SizeFitConfig(epochs=80, n_trees=0))
    m.train(synth)
    return m


def _truth(seed: int = 3, n_users: int = 400) -> np.ndarray:
    # synthetic_rentals draws the true sizes first from the same generator.
    return np.random.default_rng(seed).normal(12, 4, n_users)


# ------------------------------------------------------------------ truth recovery


@pytest.mark.parametrize("which", ["latent_only", "model"])
def test_recovers_direction_of_misfit(synth: pd.DataFrame, which: str, request: pytest.FixtureRequest) -> None:
    m: SizeFitModel = request.getfixturevalue(which)
    true = _truth()
    users = [u for u in range(400) if 6 <= true[u] <= 18][:40]
    base = synth.drop_duplicates("user_id").set_index("user_id")
    rows = []
    for u in users:
        b = base.loc[f"u{u}"]
        for delta in (-4, 0, 4):
            rows.append({**b.to_dict(), "user_id": f"u{u}", "item_id": "i0", "size": round(true[u]) + delta})
    p = m.predict_proba(prepare_rentals(pd.DataFrame(rows).drop(columns=["fit"]))).to_numpy().reshape(len(users), 3, 3)
    under, right, over = p[:, 0], p[:, 1], p[:, 2]
    # Ordering well under the true size -> "small" most likely; well over -> "large"; at it -> "fit".
    assert (under.argmax(axis=1) == 0).mean() >= 0.9
    assert (over.argmax(axis=1) == 2).mean() >= 0.9
    assert (right[:, 1] > under[:, 1]).mean() >= 0.9 and (right[:, 1] > over[:, 1]).mean() >= 0.9


def test_latent_item_offsets_follow_how_items_run(latent_only: SizeFitModel) -> None:
    lat = latent_only.latent
    assert isinstance(lat, LatentSizeModel)
    rng = np.random.default_rng(3)  # replay synthetic_rentals' draws: true sizes, weights, item biases
    rng.normal(12, 4, 400)
    rng.normal(0, 4, 400)
    bias = rng.normal(0, 1.0, 50)
    learned = np.array([lat.b_item[lat.items[f"i{k}"]] for k in range(50)])
    assert lat.alpha > 0  # a bigger size pushes towards "large"
    # An item that runs large (positive bias) pushes towards "large": same sign as the truth.
    assert np.corrcoef(learned, bias)[0, 1] > 0.8


def test_probabilities_are_valid_for_unknown_users_items_and_missing_values(model: SizeFitModel) -> None:
    q = pd.DataFrame({
        "user_id": ["nobody", "u1", "nobody2"], "item_id": ["new-item", "i3", "i4"], "size": [8, 12, np.nan],
        "category": ["new-cat", "dress", ""], "weight_lbs": [np.nan, 170.0, 140.0],
    })
    p = model.predict_proba(prepare_rentals(q))
    assert list(p.columns) == ["p_small", "p_fit", "p_large"] and len(p) == 3
    assert np.isfinite(p.to_numpy()).all()
    np.testing.assert_allclose(p.sum(axis=1), 1.0)
    assert set(model.predict(prepare_rentals(q))) <= set(FIT_CLASSES)


def test_recommend_size_prefers_the_true_size(model: SizeFitModel, synth: pd.DataFrame) -> None:
    true = _truth()
    u = int(np.argmin(np.abs(true - 12)))
    body = synth[synth.user_id == f"u{u}"].iloc[0][["weight_lbs", "height_in", "bust_size_num", "age"]].to_dict()
    best, probs = model.recommend_size(f"u{u}", "i0", [4, 8, 12, 16, 20], category="dress", body=body)
    assert abs(best - true[u]) <= 4
    assert set(probs) == {4, 8, 12, 16, 20}
    assert probs[4]["small"] > probs[4]["large"] and probs[20]["large"] > probs[20]["small"]
    with pytest.raises(InvalidInput):
        model.recommend_size("u1", "i0", [])


def test_bundle_round_trip_gives_identical_predictions(model: SizeFitModel, synth: pd.DataFrame, tmp_path) -> None:
    q = prepare_rentals(synth.head(200).drop(columns=["fit"]))
    model.save(tmp_path / "m")
    assert sorted(p.name for p in (tmp_path / "m").iterdir()) == ["arrays.npz", "model.json", "stage2.lgb.txt"]
    again = SizeFitModel.load(tmp_path / "m")
    np.testing.assert_allclose(again.predict_proba(q).to_numpy(), model.predict_proba(q).to_numpy(), rtol=1e-9)
    np.testing.assert_array_equal(again.predict(q), model.predict(q))
    (tmp_path / "m" / "model.json").write_text('{"kind": "something else"}')
    with pytest.raises(ModelBundleError):
        SizeFitModel.load(tmp_path / "m")
    with pytest.raises(ModelBundleError):
        SizeFitModel.load(tmp_path / "missing")


def test_untrained_and_bad_input() -> None:
    with pytest.raises(NotTrained):
        SizeFitModel().predict_proba(pd.DataFrame({"user_id": ["u"], "item_id": ["i"], "size": [4]}))
    with pytest.raises(InvalidInput, match="size"):
        prepare_rentals(pd.DataFrame({"user_id": ["u"], "item_id": ["i"]}))
    with pytest.raises(InvalidInput, match="at least 50"):
        SizeFitModel().train(synthetic_rentals(n_rentals=20))
    with pytest.raises(InvalidInput):
        SizeFitConfig(val_fraction=1.5)


def test_best_weights_raise_minority_recall() -> None:
    rng = np.random.default_rng(0)
    y = rng.choice(3, size=3000, p=[0.13, 0.74, 0.13])
    signal = np.eye(3)[y] * 0.25 + rng.random((3000, 3)) * 0.5
    p = (signal + np.array([0.0, 0.6, 0.0])) / (signal + np.array([0.0, 0.6, 0.0])).sum(axis=1, keepdims=True)
    w = best_weights(p, y)
    plain = metrics(y, p, p.argmax(axis=1))["macro_f1"]
    tuned = metrics(y, p, np.argmax(p * w, axis=1))["macro_f1"]
    assert w[0] > 1 and w[2] > 1 and tuned > plain


# ------------------------------------------------------------------ evaluation and baselines


def test_user_size_baseline_uses_the_nearest_size() -> None:
    df = prepare_rentals(pd.DataFrame({
        "user_id": ["a", "a", "a"], "item_id": ["x", "y", "z"], "size": [8, 8, 16], "fit": ["small", "small", "large"],
    }), require_fit=True)
    b = UserSizeBaseline(prior_strength=0.0)
    b.train(df)
    p = b.predict_proba(prepare_rentals(pd.DataFrame({"user_id": ["a", "a", "new"], "item_id": "q", "size": [9, 15, 8]})))
    np.testing.assert_allclose(p[0], [1, 0, 0])
    np.testing.assert_allclose(p[1], [0, 0, 1])
    np.testing.assert_allclose(p[2], [2 / 3, 0, 1 / 3])


def test_evaluation_model_beats_baselines_on_synthetic(synth: pd.DataFrame) -> None:
    rep = evaluate_size_fit(synth, cut="2015-10-01", config=FAST)
    rows = {r["method"]: r for r in rep["rows"]}
    assert rows["majority"]["auc_small"] == 0.5 and rows["majority"]["f1_small"] == 0.0
    assert rows["latent+gbm"]["macro_f1"] > rows["user_size"]["macro_f1"] > rows["majority"]["macro_f1"]
    assert rows["latent+gbm"]["auc_small"] > 0.9 and rows["latent+gbm"]["auc_large"] > 0.9
    with pytest.raises(InvalidInput, match="cut"):
        evaluate_size_fit(synth, cut="2030-01-01", config=FAST)


# ------------------------------------------------------------------ in-shop size profile


def test_size_profile_moves_up_after_too_small_returns() -> None:
    sp = SizeProfile()
    sp.learn_one("order_completed", "dresses", "M")
    assert sp.recommend("dresses", ["S", "M", "L"]) == "M"
    for _ in range(2):
        sp.learn_one("order_completed", "dresses", "M")
        sp.learn_one("product_returned", "dresses", "M", reason="too_small")
    assert sp.recommend("dresses", ["S", "M", "L"]) == "L"
    assert sp.return_tendency("dresses") == "too_small"


def test_size_profile_numeric_sizes_and_fallback() -> None:
    sp = SizeProfile()
    for s in ("38", "38", "40"):
        sp.learn_one("order_completed", "jeans", s)
    sp.learn_one("product_returned", "jeans", "40", reason="too_large")
    assert sp.recommend("jeans", ["36", "38", "40", "42"]) == "38"
    # No votes in trousers: use the shopper's numeric sizes from other categories.
    assert sp.recommend("trousers", ["34", "36", "38", "40"]) == "38"
    assert sp.recommend("trousers", ["S", "M"]) is None  # no letter-size history at all
    assert sp.recommend("jeans", ["one size"]) is None
    assert size_value("2XL") == ("letter", 7.0)


def test_size_profile_is_order_independent_and_serialisable() -> None:
    events = [("order_completed", "M", None), ("order_completed", "L", None), ("product_returned", "L", "too_large"),
              ("order_completed", "S", None), ("product_returned", "S", "too_small"), ("order_cancelled", "M", None)]
    results = set()
    for perm in itertools.permutations(events):
        sp = SizeProfile()
        for kind, size, reason in perm:
            sp.learn_one(kind, "tops", size, reason=reason)
        restored = SizeProfile.from_dict(sp.to_dict())
        results.add((restored.recommend("tops", ["XS", "S", "M", "L", "XL"]), round(restored.true_size("tops")[1], 9)))
    assert results == {("M", 4.0)}


# ------------------------------------------------------------------ real data


@pytest.mark.realdata
def test_real_rentals_smoke(shared_data_dir) -> None:
    from fitloop.datasets import rtr

    path = require_data_file(shared_data_dir, "rtr/rentals.csv.gz")
    df = rtr.load_rentals(path=path)
    df = df[(df.review_date >= "2014-01-01") & (df.review_date < "2015-01-01")]
    train, test = df[df.review_date < "2014-10-01"], df[df.review_date >= "2014-10-01"].head(3000)
    m = SizeFitModel(SizeFitConfig(epochs=60, n_trees=40))
    m.train(train)
    p = m.predict_proba(prepare_rentals(test.drop(columns=["fit"]))).to_numpy()
    assert p.shape == (len(test), 3) and np.allclose(p.sum(axis=1), 1.0)
    y = prepare_rentals(test, require_fit=True)["y"].to_numpy()
    got = metrics(y, p, np.argmax(p * m.weights, axis=1))
    # Better than chance at telling small and large apart from the rest (full-data figures in docs).
    assert got["auc_small"] > 0.6 and got["auc_large"] > 0.6
