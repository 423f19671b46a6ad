"""The sequence-interest model: learns an obvious next-item pattern, round-trips, ignores unknowns."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from fitloop.data import make_interactions
from fitloop.errors import FitloopError, InvalidInput, ModelBundleError, NotTrained
from fitloop.profile.sequence import TORCH_HINT, SequenceConfig, SequenceModel

CYCLE = ["a", "b", "c", "d"]


def _cycles(n_users: int = 8, reps: int = 5, offset_by_user: bool = True) -> pd.DataFrame:
    users, items, ts = [], [], []
    t0 = pd.Timestamp("2024-01-01")
    for u in range(n_users):
        start = u % len(CYCLE) if offset_by_user else 0
        seq = [CYCLE[(start + j) % len(CYCLE)] for j in range(reps * len(CYCLE))]
        users += [f"u{u}"] * len(seq)
        items += seq
        ts += [t0 + pd.Timedelta(minutes=j) for j in range(len(seq))]
    return make_interactions(users, items, ts)


SMALL = SequenceConfig(embedding_size=16, max_len=8, n_layers=1, dropout=0.0, epochs=60, batch_size=16, n_threads=1, rng=0)


@pytest.fixture(scope="module")
def cycle_model() -> SequenceModel:
    tags = {"a": ["colour:black"], "b": ["colour:white"], "c": ["colour:black"], "d": ["colour:white"]}
    model = SequenceModel(SMALL)
    model.train(_cycles(), item_tags=tags)
    return model


def test_learns_the_next_item_of_a_cycle(cycle_model: SequenceModel) -> None:
    for j in range(len(CYCLE)):
        history = [CYCLE[(j + i) % 4] for i in range(3)]
        expected = CYCLE[(j + 3) % 4]
        top = cycle_model.recommend(history, k=1)
        assert top[0][0] == expected, (history, top)
    scores = cycle_model.score(["a", "b"], ["c", "a", "d"])
    assert scores[0] == scores.max()


def test_interest_vector_depends_on_recent_items(cycle_model: SequenceModel) -> None:
    v1 = cycle_model.interest_vector(["a", "b"])
    v2 = cycle_model.interest_vector(["b", "c"])
    assert v1.shape == (16,) and v1.dtype == np.float32
    assert not np.allclose(v1, v2)
    vs = cycle_model.interest_vectors({"x": ["a", "b"], "y": ["b", "c"]})
    np.testing.assert_allclose(vs["x"], v1, rtol=1e-5, atol=1e-6)


def test_unknown_items_are_ignored(cycle_model: SequenceModel) -> None:
    np.testing.assert_allclose(
        cycle_model.interest_vector(["zz", "a", "nope", "b"]), cycle_model.interest_vector(["a", "b"]), atol=1e-6
    )
    scores = cycle_model.score(["a"], ["b", "unknown"])
    assert np.isfinite(scores[0]) and scores[1] == -np.inf
    assert np.all(cycle_model.interest_vector(["unknown"]) == 0)
    # No known history: popularity bias alone still ranks every known item.
    recs = cycle_model.recommend(["unknown"], k=10)
    assert sorted(i for i, _ in recs) == CYCLE


def test_recommend_respects_k_and_exclude(cycle_model: SequenceModel) -> None:
    recs = cycle_model.recommend(["a", "b"], k=2, exclude=["c", "zzz"])
    assert len(recs) == 2 and "c" not in [i for i, _ in recs]
    assert [s for _, s in recs] == sorted((s for _, s in recs), reverse=True)
    assert cycle_model.recommend(["a"], k=3, exclude=CYCLE) == []
    with pytest.raises(InvalidInput):
        cycle_model.recommend(["a"], k=0)
    with pytest.raises(InvalidInput):
        cycle_model.score("a", ["b"])


def test_save_load_roundtrip(cycle_model: SequenceModel, tmp_path: Path) -> None:
    folder = cycle_model.save(tmp_path / "seq-v1")
    assert sorted(p.name for p in folder.iterdir()) == ["config.json", "vocab.json", "weights.npz"]
    with np.load(folder / "weights.npz", allow_pickle=False) as npz:
        assert "item_emb.weight" in npz.files
    loaded = SequenceModel.load(folder)
    assert loaded.config == cycle_model.config
    assert loaded.item_ids == cycle_model.item_ids
    hist, cands = ["b", "c"], ["a", "b", "c", "d", "x"]
    np.testing.assert_array_equal(loaded.score(hist, cands), cycle_model.score(hist, cands))
    assert loaded.recommend(hist, 4) == cycle_model.recommend(hist, 4)


def test_load_refuses_broken_folders(cycle_model: SequenceModel, tmp_path: Path) -> None:
    with pytest.raises(ModelBundleError):
        SequenceModel.load(tmp_path / "missing")
    folder = cycle_model.save(tmp_path / "m")
    meta = json.loads((folder / "config.json").read_text())
    meta["format_version"] = 99
    (folder / "config.json").write_text(json.dumps(meta))
    with pytest.raises(ModelBundleError):
        SequenceModel.load(folder)


def test_same_seed_same_model() -> None:
    cfg = SequenceConfig(embedding_size=8, max_len=4, n_layers=1, epochs=3, dropout=0.1, n_threads=1, rng=3)
    a, b = SequenceModel(cfg), SequenceModel(cfg)
    a.train(_cycles(4, 2))
    b.train(_cycles(4, 2))
    np.testing.assert_array_equal(a.score(["a"], CYCLE), b.score(["a"], CYCLE))


def test_not_trained_and_bad_input() -> None:
    with pytest.raises(NotTrained):
        SequenceModel().recommend(["a"], 3)
    with pytest.raises(InvalidInput, match="at least two events"):
        SequenceModel(SMALL).train(make_interactions(["u1", "u2"], ["a", "b"], ["2024-01-01"] * 2))
    with pytest.raises(InvalidInput, match="lacks columns"):
        SequenceModel(SMALL).train(pd.DataFrame({"user_id": ["u"], "item_id": ["a"]}))
    with pytest.raises(InvalidInput, match="no interactions"):
        SequenceModel(SequenceConfig(kinds=("order_completed",))).train(
            make_interactions(["u"], ["a"], ["2024-01-01"], kind="product_viewed")
        )


@pytest.mark.parametrize(
    "kw",
    [{"embedding_size": 0}, {"embedding_size": 30, "n_heads": 4}, {"dropout": 1.0}, {"learning_rate": -1.0},
     {"epochs": 2.5}, {"max_len": True}, {"reg": -0.1}],
)
def test_config_rejects_malformed_values(kw: dict[str, object]) -> None:
    with pytest.raises(InvalidInput):
        SequenceConfig(**kw)  # type: ignore[arg-type]


def test_config_dict_roundtrip() -> None:
    cfg = SequenceConfig(kinds=["order_completed"], epochs=3)  # type: ignore[arg-type]
    assert SequenceConfig.from_dict(json.loads(json.dumps(cfg.to_dict()))) == cfg
    with pytest.raises(InvalidInput, match="unknown SequenceConfig fields"):
        SequenceConfig.from_dict({"epoch": 3})


def test_missing_torch_gives_install_hint(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "torch", None)  # makes `import torch` raise ImportError
    with pytest.raises(FitloopError, match=r"pip install 'fitloop\[torch\]'") as err:
        SequenceModel(SMALL).train(_cycles(2, 2))
    assert err.value.code == "torch_missing" and str(err.value) == TORCH_HINT


def test_profile_package_imports_without_torch() -> None:
    code = "import sys; sys.modules['torch'] = None; import fitloop.profile as p; print(p.SequenceModel.__name__)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "SequenceModel"
