"""Train a recommender from what the stores hold, save it as a versioned bundle and make it serve."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fitloop.errors import NotTrained
from fitloop.recommend import RecommenderConfig, items_frame, save_bundle, train_recommender
from fitloop.services.recommend import MODEL_NAME
from fitloop.store import ModelRecord, Stores

__all__ = ["TrainingReport", "train_from_stores"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrainingReport:
    record: ModelRecord
    n_interactions: int
    n_items: int
    seconds: float


def train_from_stores(
    stores: Stores,
    models_dir: Path,
    *,
    config: RecommenderConfig | None = None,
    on_step: Callable[[str], None] | None = None,
) -> TrainingReport:
    """Read interactions and items, train, save a bundle under ``models_dir`` and activate it."""
    t0 = time.perf_counter()
    step = on_step or (lambda _msg: None)
    step("reading events")
    interactions = stores.events.frame(purpose="personalisation")
    step("reading catalog")
    items = items_frame(list(stores.catalog.iter_items(batch_size=5000)))
    if items.empty:
        raise NotTrained("the catalog is empty; load items first (POST /v1/catalog/items or `fitloop demo`)")
    step(f"training on {len(interactions):,} interactions and {len(items):,} items")
    rec = train_recommender(interactions, items, config or RecommenderConfig())
    step("saving bundle")
    models_dir.mkdir(parents=True, exist_ok=True)
    version = save_bundle(rec, models_dir)
    bundle_dir = models_dir / version
    meta: dict[str, Any] = {"n_interactions": int(len(interactions)), "n_items": int(len(items))}
    stores.models.register(MODEL_NAME, version, str(bundle_dir), meta, activate=True)
    record = stores.models.active(MODEL_NAME)
    assert record is not None
    seconds = time.perf_counter() - t0
    log.info("trained recommender", extra={"version": version, "seconds": round(seconds, 2), **meta})
    return TrainingReport(record, len(interactions), len(items), seconds)
