"""Segments for the console: build them from the stores, keep them as a versioned JSON document, serve lookups.

The model is saved under ``models_dir/segments/<version>.json`` and registered in the model registry
as ``segments``; the newest active one is what the console shows, merchandising rules scope to and
campaigns draw their audiences from.
"""

from __future__ import annotations

import json
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fitloop.errors import InvalidInput, NotFound, NotTrained
from fitloop.profile.segments import SegmentConfig, SegmentModel, build_segments, items_frame
from fitloop.store import Stores

__all__ = ["SEGMENTS_MODEL", "SegmentService"]

SEGMENTS_MODEL = "segments"


class SegmentService:
    """Build, load (cached by version) and query the active segment model."""

    def __init__(self, stores: Stores, models_dir: Path) -> None:
        self._stores = stores
        self._dir = Path(models_dir) / SEGMENTS_MODEL
        self._lock = threading.Lock()
        self._model: SegmentModel | None = None
        self._version: str | None = None
        self._checked_at = -1e9

    def build(self, *, k_min: int = 3, k_max: int = 8, rng: int = 0) -> SegmentModel:
        """Cluster every shopper with counted events; the new model serves at once."""
        if not 2 <= k_min <= k_max <= 20:
            raise InvalidInput("segments: k_min and k_max must satisfy 2 ≤ k_min ≤ k_max ≤ 20")
        interactions = self._stores.events.frame(purpose="personalisation")
        if interactions.empty:
            raise NotTrained("no events yet: load a shop (`fitloop demo`) or ingest events before building segments")
        items = items_frame(list(self._stores.catalog.iter_items(batch_size=5000)))
        model = build_segments(interactions, items, SegmentConfig(k_min=k_min, k_max=k_max, rng=rng,
                                                                  stability_runs=0))
        version = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
        self._dir.mkdir(parents=True, exist_ok=True)
        path = self._dir / f"{version}.json"
        path.write_text(json.dumps(model.to_dict()))
        self._stores.models.register(SEGMENTS_MODEL, version, str(path),
                                     {"k": model.k, "shoppers": len(model.members)}, activate=True)
        with self._lock:
            self._model, self._version = model, version
        return model

    def current(self) -> SegmentModel | None:
        """The active segment model, or None when none was built yet."""
        now = time.monotonic()
        if self._model is not None and now - self._checked_at < 1.0:
            return self._model  # the registry is re-read at most once a second (serving calls this)
        rec = self._stores.models.active(SEGMENTS_MODEL)
        self._checked_at = now
        if rec is None:
            return None
        with self._lock:
            if rec.version != self._version:
                try:
                    doc: dict[str, Any] = json.loads(Path(rec.path).read_text())
                except OSError as exc:
                    raise NotFound(f"the segment model file {rec.path} is missing; rebuild segments") from exc
                self._model, self._version = SegmentModel.from_dict(doc), rec.version
            return self._model

    @property
    def version(self) -> str | None:
        self.current()
        return self._version

    def segment_of(self, user_id: str) -> str | None:
        """The shopper's segment id (None when no model or the shopper was not in it)."""
        try:
            model = self.current()
        except NotFound:
            return None
        if model is None or user_id not in model.members:
            return None
        return model.segment_of(user_id)

    def require(self) -> SegmentModel:
        model = self.current()
        if model is None:
            raise NotTrained("no segments yet: build them on the console's Segments page (a marketer or analyst can)")
        return model
