"""Versioned model bundles on disk: JSON manifest + npz arrays + LightGBM text, never pickles.

A bundle root holds one folder per version and a ``CURRENT`` file naming the one to serve::

    models/
      CURRENT                      -> "20260101T120000Z-1a2b3c4d"
      20260101T120000Z-1a2b3c4d/
        manifest.json              format, version, created_at, config, checksums, ...
        arrays.npz                 ids, per-shopper ranked lists, popularity lists
        ranker.txt                 the LightGBM model (absent when the ranker was off)

:func:`load_bundle` checks the format version and every file's SHA-256 before it builds a
:class:`~fitloop.recommend.pipeline.Recommender`; anything wrong raises
:class:`~fitloop.errors.ModelBundleError`. :class:`BundleWatcher` hot-reloads a root and keeps
serving the previous model when a new bundle is refused.

>>> import tempfile, pandas as pd
>>> from fitloop.data import make_interactions
>>> from fitloop.recommend.pipeline import RecommenderConfig, train_recommender
>>> rec = train_recommender(make_interactions(["u", "v"], ["a", "b"], ["2024-01-01"] * 2),
...                         pd.DataFrame({"item_id": ["a", "b"]}), RecommenderConfig(als=None, content=None))
>>> root = tempfile.mkdtemp()
>>> version = save_bundle(rec, root)
>>> load_bundle(root).recommend("u", k=2) == rec.recommend("u", k=2)
True
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import threading
import time
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from fitloop.errors import FitloopError, ModelBundleError, NotTrained
from fitloop.recommend.pipeline import Recommender, RecommenderConfig
from fitloop.recommend.ranker import LambdaRanker

__all__ = ["FORMAT", "FORMAT_VERSION", "save_bundle", "load_bundle", "current_version", "BundleWatcher"]

FORMAT = "fitloop.recommender"
FORMAT_VERSION = 1
_ARRAYS = "arrays.npz"
_RANKER = "ranker.txt"
_MANIFEST = "manifest.json"
_CURRENT = "CURRENT"
_HOW_TO_TRAIN = "train one with `fitloop train --dataset hm --models-dir DIR` (or fitloop.recommend.save_bundle)"


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def save_bundle(recommender: Recommender, root: str | os.PathLike[str]) -> str:
    """Write ``recommender`` as a new version folder under ``root``, point ``CURRENT`` at it, return the version."""
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    version = recommender.version
    target = root / version
    n = 1
    while target.exists():  # never overwrite a version something may be serving
        n += 1
        target = root / f"{recommender.version}.{n}"
    version = target.name
    tmp = root / f".tmp-{version}-{os.getpid()}"
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir()
    r = recommender
    arrays: dict[str, np.ndarray] = {
        "item_ids": np.asarray(r.item_ids, dtype=str),
        "item_titles": np.asarray(r.item_titles, dtype=str),
        "item_type": np.asarray(r.item_type, dtype=np.int32),
        "user_ids": np.asarray(r.user_ids, dtype=str),
        "user_indptr": np.asarray(r.user_indptr, dtype=np.int64),
        "user_last_type": np.asarray(r.user_last_type, dtype=np.int32),
        "list_items": np.asarray(r.list_items, dtype=np.int32),
        "list_scores": np.asarray(r.list_scores, dtype=np.float64),
        "list_reasons": np.asarray(r.list_reasons, dtype=np.int8),
        "list_anchors": np.asarray(r.list_anchors, dtype=np.int32),
    }
    groups = list(r.popular)
    for g_i, g in enumerate(groups):
        arrays[f"pop{g_i}_items"] = np.asarray(r.popular[g][0], dtype=np.int32)
        arrays[f"pop{g_i}_scores"] = np.asarray(r.popular[g][1], dtype=np.float64)
    np.savez(tmp / _ARRAYS, allow_pickle=False, **arrays)
    files = [_ARRAYS]
    if r.ranker is not None and r.ranker.is_trained:
        (tmp / _RANKER).write_text(r.ranker.to_text(), encoding="utf-8")
        files.append(_RANKER)
    manifest = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "version": version,
        "created_at": r.created_at,
        "trained_until": r.trained_until,
        "config": r.config.to_dict(),
        "type_names": r.type_names,
        "popular_groups": groups,
        "feature_importance": r.feature_importance,
        "info": r.info,
        "files": {f: _sha256(tmp / f) for f in files},
    }
    (tmp / _MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True), encoding="utf-8")
    os.replace(tmp, target)
    cur_tmp = root / f".{_CURRENT}.{os.getpid()}"
    cur_tmp.write_text(version + "\n", encoding="utf-8")
    os.replace(cur_tmp, root / _CURRENT)  # atomic: a reader sees the old or the new version, never half
    return version


def current_version(root: str | os.PathLike[str]) -> str | None:
    """The version ``CURRENT`` names (else the newest version folder), or ``None`` when there is none."""
    root = Path(root)
    cur = root / _CURRENT
    if cur.is_file():
        name = cur.read_text(encoding="utf-8").strip()
        if name:
            return name
    if not root.is_dir():
        return None
    versions = sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith(".") and (p / _MANIFEST).is_file())
    return versions[-1] if versions else None


def _resolve(path: Path) -> Path:
    if (path / _MANIFEST).is_file():
        return path
    version = current_version(path)
    if version is None:
        raise NotTrained(f"no trained model bundle under {path}; {_HOW_TO_TRAIN}")
    folder = path / version
    if not folder.is_dir():
        raise ModelBundleError(f"{path / _CURRENT} names version {version!r} but {folder} does not exist; retrain or fix CURRENT")
    return folder


def _bad(folder: Path, why: str) -> ModelBundleError:
    return ModelBundleError(f"model bundle {folder} refused: {why}; retrain and save a new bundle",
                            details={"bundle": str(folder)})


def load_bundle(path: str | os.PathLike[str]) -> Recommender:
    """Load a bundle folder (or the ``CURRENT`` version of a root), verifying format and checksums."""
    folder = _resolve(Path(path))
    try:
        manifest = json.loads((folder / _MANIFEST).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise _bad(folder, f"manifest.json is unreadable ({exc})") from exc
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise _bad(folder, f"not a {FORMAT} bundle")
    if manifest.get("format_version") != FORMAT_VERSION:
        raise _bad(folder, f"format version {manifest.get('format_version')!r}, this fitloop reads {FORMAT_VERSION}")
    files = manifest.get("files")
    if not isinstance(files, dict) or _ARRAYS not in files:
        raise _bad(folder, "the manifest lists no arrays file")
    for name, digest in files.items():
        p = folder / name
        if not p.is_file():
            raise _bad(folder, f"file {name} is missing")
        if _sha256(p) != digest:
            raise _bad(folder, f"file {name} does not match its checksum (corrupt or edited)")
    try:
        with np.load(folder / _ARRAYS, allow_pickle=False) as z:
            a = {k: z[k] for k in z.files}
        config = RecommenderConfig.from_dict(manifest["config"])
        groups = list(manifest["popular_groups"])
        popular = {g: (a[f"pop{i}_items"].astype(np.int64).tolist(), a[f"pop{i}_scores"].tolist()) for i, g in enumerate(groups)}
        n_items, n_users = len(a["item_ids"]), len(a["user_ids"])
        indptr = a["user_indptr"]
        ok = (len(indptr) == n_users + 1 and int(indptr[-1]) == len(a["list_items"]) == len(a["list_scores"])
              == len(a["list_reasons"]) == len(a["list_anchors"]) and len(a["item_titles"]) == len(a["item_type"]) == n_items
              and len(a["user_last_type"]) == n_users
              and all(((np.asarray(v[0]) >= 0) & (np.asarray(v[0]) < n_items)).all() for v in popular.values())
              and bool(((a["list_items"] >= 0) & (a["list_items"] < n_items)).all()))
        if not ok:
            raise _bad(folder, "array shapes are inconsistent")
        ranker = None
        if _RANKER in files:
            ranker = LambdaRanker.from_text((folder / _RANKER).read_text(encoding="utf-8"), config.ranker)
        rec = Recommender(
            config=config,
            item_ids=a["item_ids"].tolist(),
            item_titles=a["item_titles"].tolist(),
            item_type=a["item_type"].astype(np.int64).tolist(),
            type_names=list(manifest.get("type_names", [])),
            user_ids=a["user_ids"].tolist(),
            user_indptr=indptr.astype(np.int64).tolist(),
            list_items=a["list_items"].astype(np.int64).tolist(),
            list_scores=a["list_scores"].tolist(),
            list_reasons=a["list_reasons"].astype(np.int64).tolist(),
            list_anchors=a["list_anchors"].astype(np.int64).tolist(),
            user_last_type=a["user_last_type"].astype(np.int64).tolist(),
            popular=popular,
            trained_until=str(manifest["trained_until"]),
            created_at=str(manifest["created_at"]),
            ranker=ranker,
            feature_importance=dict(manifest.get("feature_importance", {})),
            info=dict(manifest.get("info", {})),
            version=str(manifest["version"]),
        )
    except ModelBundleError:
        raise
    except (FitloopError, KeyError, ValueError, TypeError, OSError, zipfile.BadZipFile) as exc:
        raise _bad(folder, f"{type(exc).__name__}: {exc}") from exc
    return rec


class BundleWatcher:
    """Serves the ``CURRENT`` bundle of ``root`` and swaps in a new one when it appears.

    ``get()`` checks for a new version at most every ``check_interval_s`` seconds. A new bundle
    that fails to load is refused (``last_error`` keeps why) and the previous model keeps serving.
    Loading the full H&M bundle takes a few seconds, so with ``background=True`` (what a server
    wants) ``get()`` starts the reload in a thread and keeps answering with the current model.
    """

    def __init__(self, root: str | os.PathLike[str], check_interval_s: float = 2.0, background: bool = False) -> None:
        self.root = Path(root)
        self.check_interval_s = check_interval_s
        self.background = background
        self._thread: threading.Thread | None = None
        self.last_error: FitloopError | None = None
        self._model: Recommender | None = None
        self._version: str | None = None
        self._checked = 0.0
        self._lock = threading.Lock()

    @property
    def version(self) -> str | None:
        return self._version

    def reload(self) -> bool:
        """Load the current version if it is new; True when the served model changed."""
        with self._lock:
            self._checked = time.monotonic()
            version = current_version(self.root)
            if version is None or version == self._version:
                return False
            try:
                model = load_bundle(self.root / version)
            except FitloopError as exc:
                self.last_error = exc
                if self._model is None:
                    raise
                return False
            self._model, self._version, self.last_error = model, version, None
            return True

    def get(self) -> Recommender:
        """The model to serve now; raises :class:`NotTrained` when no bundle was ever loaded."""
        due = time.monotonic() - self._checked >= self.check_interval_s
        if self._model is not None and due and self.background:
            current = self._model  # this call serves what was loaded when it started, even if the reload wins a race
            if self._thread is None or not self._thread.is_alive():
                self._checked = time.monotonic()
                self._thread = threading.Thread(target=self._reload_quietly, name="bundle-reload", daemon=True)
                self._thread.start()
            return current
        if self._model is None or due:
            try:
                self.reload()
            except ModelBundleError:
                if self._model is None:
                    raise
        if self._model is None:
            raise NotTrained(f"no trained model bundle under {self.root}; {_HOW_TO_TRAIN}")
        return self._model

    def _reload_quietly(self) -> None:
        try:
            self.reload()
        except FitloopError as exc:  # refused bundles are kept in last_error; the old model serves on
            self.last_error = exc

    def wait(self, timeout_s: float = 30.0) -> None:
        """Wait for a background reload in progress (tests and orderly shutdown)."""
        t = self._thread
        if t is not None:
            t.join(timeout_s)

    def info(self) -> dict[str, Any]:
        return {"root": str(self.root), "version": self._version,
                "last_error": self.last_error.message if self.last_error else None}
