"""Model bundles: exact roundtrip, refusal of corrupt or incompatible bundles, hot reload."""

from __future__ import annotations

import json
import shutil
from functools import lru_cache
from pathlib import Path

import numpy as np
import pytest

from fitloop.errors import ModelBundleError, NotTrained
from fitloop.recommend import BundleWatcher, Recommender, current_version, load_bundle, save_bundle, train_recommender
from tests.recommend.synthetic import shop_interactions, shop_items, small_config

_LISTS = ("item_ids", "item_titles", "item_type", "type_names", "user_ids", "user_indptr", "list_items", "list_scores",
          "list_reasons", "list_anchors", "user_last_type", "popular", "trained_until", "created_at", "feature_importance",
          "version", "config")


@lru_cache(maxsize=1)
def _trained() -> Recommender:
    items = shop_items()
    return train_recommender(shop_interactions(items), items, small_config())


def test_roundtrip_is_exact(tmp_path: Path) -> None:
    rec = _trained()
    version = save_bundle(rec, tmp_path)
    assert current_version(tmp_path) == version
    manifest = json.loads((tmp_path / version / "manifest.json").read_text())
    assert manifest["format_version"] == 1 and set(manifest["files"]) == {"arrays.npz", "ranker.txt"}
    loaded = load_bundle(tmp_path)
    for name in _LISTS:
        assert getattr(loaded, name) == getattr(rec, name), name
    assert loaded.ranker is not None and rec.ranker is not None
    assert loaded.ranker.to_text() == rec.ranker.to_text()
    for u in [*rec.user_ids, "stranger"]:
        assert loaded.recommend(u, k=12) == rec.recommend(u, k=12)


def test_saving_twice_makes_two_versions(tmp_path: Path) -> None:
    rec = _trained()
    v1 = save_bundle(rec, tmp_path)
    v2 = save_bundle(rec, tmp_path)
    assert v1 != v2 and current_version(tmp_path) == v2
    assert (tmp_path / v1 / "manifest.json").is_file()


def _saved(tmp_path: Path) -> Path:
    return tmp_path / save_bundle(_trained(), tmp_path)


def test_flipped_byte_is_refused(tmp_path: Path) -> None:
    folder = _saved(tmp_path)
    data = bytearray((folder / "arrays.npz").read_bytes())
    data[len(data) // 2] ^= 0xFF
    (folder / "arrays.npz").write_bytes(bytes(data))
    with pytest.raises(ModelBundleError, match="checksum"):
        load_bundle(folder)


def test_edited_ranker_is_refused(tmp_path: Path) -> None:
    folder = _saved(tmp_path)
    with (folder / "ranker.txt").open("a") as f:
        f.write("\n")
    with pytest.raises(ModelBundleError, match="ranker.txt"):
        load_bundle(folder)


def test_wrong_format_version_is_refused(tmp_path: Path) -> None:
    folder = _saved(tmp_path)
    m = json.loads((folder / "manifest.json").read_text())
    m["format_version"] = 99
    (folder / "manifest.json").write_text(json.dumps(m))
    with pytest.raises(ModelBundleError, match="format version 99"):
        load_bundle(folder)


def test_missing_file_is_refused(tmp_path: Path) -> None:
    folder = _saved(tmp_path)
    (folder / "arrays.npz").unlink()
    with pytest.raises(ModelBundleError, match="missing"):
        load_bundle(folder)


def test_garbage_manifest_is_refused(tmp_path: Path) -> None:
    folder = _saved(tmp_path)
    (folder / "manifest.json").write_text("{not json")
    with pytest.raises(ModelBundleError, match="unreadable"):
        load_bundle(folder)


def test_inconsistent_arrays_are_refused_even_with_matching_checksums(tmp_path: Path) -> None:
    import hashlib

    folder = _saved(tmp_path)
    with np.load(folder / "arrays.npz", allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    arrays["list_items"] = arrays["list_items"] + 10_000  # points outside the catalog
    np.savez(folder / "arrays.npz", **arrays)
    m = json.loads((folder / "manifest.json").read_text())
    m["files"]["arrays.npz"] = hashlib.sha256((folder / "arrays.npz").read_bytes()).hexdigest()
    (folder / "manifest.json").write_text(json.dumps(m))
    with pytest.raises(ModelBundleError, match="inconsistent"):
        load_bundle(folder)


def test_no_bundle_yet_says_how_to_train(tmp_path: Path) -> None:
    with pytest.raises(NotTrained, match="fitloop train"):
        load_bundle(tmp_path)
    with pytest.raises(NotTrained, match="fitloop train"):
        BundleWatcher(tmp_path / "nothing").get()


def test_watcher_hot_reloads_and_keeps_serving_on_a_bad_bundle(tmp_path: Path) -> None:
    rec = _trained()
    v1 = save_bundle(rec, tmp_path)
    w = BundleWatcher(tmp_path, check_interval_s=0.0)
    assert w.get().version == v1
    # A corrupt new version is refused; the old model keeps serving and the error is kept.
    v2 = save_bundle(rec, tmp_path)
    (tmp_path / v2 / "arrays.npz").write_bytes(b"broken")
    assert w.get().version == v1
    assert w.last_error is not None and "checksum" in w.last_error.message
    # A good new version is picked up.
    shutil.rmtree(tmp_path / v2)
    v3 = save_bundle(rec, tmp_path)
    assert w.get().version == v3 and w.last_error is None


def test_background_watcher_serves_the_old_model_while_loading_the_new(tmp_path: Path) -> None:
    rec = _trained()
    v1 = save_bundle(rec, tmp_path)
    w = BundleWatcher(tmp_path, check_interval_s=0.0, background=True)
    assert w.get().version == v1  # the first load is synchronous: nothing to serve before it
    v2 = save_bundle(rec, tmp_path)
    assert w.get().version == v1  # the swap happens in the background
    w.wait()
    assert w.get().version == v2
