"""Content similarity from attributes and text, so that items nobody has bought yet can be shown.

Each item becomes a document of its attribute values (``product_type=dress colour=black …``)
and its title and description; TF-IDF turns documents into vectors and a truncated SVD
(latent semantic analysis) compresses them to ``embedding_size`` dense dimensions, normalised,
so one matrix product scores the whole catalog. A shopper's taste is the recency-weighted mean
of the vectors of their own items. Two pools are searched: items already sold ("similar to items
you liked") and new arrivals, i.e. items first seen (or created) within ``new_arrival_days``
and items never sold at all when ``include_unsold`` ("new arrival like your style").

>>> import pandas as pd
>>> from fitloop.data import make_interactions
>>> from fitloop.recommend.frames import TrainData
>>> items = pd.DataFrame({"item_id": list("abcd"), "product_type": ["dress", "dress", "sock", "sock"],
...                       "colour": ["red", "red", "grey", "grey"]})
>>> ev = make_interactions(["u"], ["a"], ["2024-01-01"])
>>> data = TrainData.build(ev, items, pd.Timestamp("2024-02-01"), {"order_completed": 1.0}, ["order_completed"])
>>> src = ContentCandidates(ContentConfig(n=1, n_new=1, embedding_size=2, include_unsold=True)); src.train(data)
>>> src.candidates(["u"]).item_id.tolist()   # its own item, then the most similar unsold one
['a', 'b']
"""

from __future__ import annotations

import weakref
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from fitloop.recommend.candidates.base import decay, empty_candidates, require_trained, top_n_per_user
from fitloop.recommend.frames import TrainData

__all__ = ["ContentConfig", "ContentCandidates", "item_embeddings"]

ATTRIBUTE_COLUMNS: tuple[str, ...] = (
    "product_type", "category", "colour", "pattern", "perceived_colour", "material", "style", "occasion",
    "department", "section", "garment_group", "index_name", "seasons",
)
TEXT_COLUMNS: tuple[str, ...] = ("title", "description")


@dataclass(frozen=True, slots=True)
class ContentConfig:
    n: int = 20
    n_new: int = 10
    embedding_size: int = 64
    max_features: int = 30000
    attribute_columns: tuple[str, ...] = ATTRIBUTE_COLUMNS
    text_columns: tuple[str, ...] = TEXT_COLUMNS
    half_life_days: float = 30.0
    new_arrival_days: float = 14.0
    include_unsold: bool = False
    rng: int = 0


# The catalog rarely changes between training runs (a backtest retrains weekly on one catalog),
# and the SVD of 100k articles costs seconds, so embeddings are cached per catalog and config.
_CACHE: dict[str, tuple[weakref.ref[pd.DataFrame], np.ndarray]] = {}


def _documents(items: pd.DataFrame, cfg: ContentConfig) -> list[str]:
    parts: list[pd.Series] = []
    for col in cfg.attribute_columns:
        if col in items.columns:
            v = items[col].fillna("").astype(str).str.lower().str.replace(r"[^a-z0-9]+", "_", regex=True)
            parts.append((col + "=" + v).where(v != "", ""))
    for col in cfg.text_columns:
        if col in items.columns:
            parts.append(items[col].fillna("").astype(str))
    if not parts:
        return items["item_id"].astype(str).tolist()
    doc = parts[0]
    for p in parts[1:]:
        doc = doc + " " + p
    return doc.tolist()


def item_embeddings(items: pd.DataFrame, cfg: ContentConfig) -> np.ndarray:
    """Unit-length LSA vectors of every item (rows follow ``items``), ``float32``."""
    from sklearn.decomposition import TruncatedSVD
    from sklearn.feature_extraction.text import TfidfVectorizer

    # Keyed by the frame's identity (checked through a weak reference) and config: hashing 100k rows
    # of text would cost about as much as the SVD itself.
    key = f"{id(items)}:{len(items)}:{cfg!r}"
    hit = _CACHE.get(key)
    if hit is not None and hit[0]() is items:
        return hit[1]
    docs = _documents(items, cfg)
    # token_pattern keeps attribute tokens such as "colour=dark_blue" whole.
    vec = TfidfVectorizer(max_features=cfg.max_features, sublinear_tf=True, token_pattern=r"[a-z0-9_=]{2,}",
                          dtype=np.float32)
    x = vec.fit_transform(docs)
    dim = max(1, min(cfg.embedding_size, x.shape[1] - 1, x.shape[0] - 1))
    if x.shape[1] <= 1 or x.shape[0] <= 2:
        emb = x.toarray().astype(np.float32)
    else:
        emb = TruncatedSVD(n_components=dim, random_state=cfg.rng, algorithm="randomized", n_iter=4).fit_transform(x)
    emb = np.asarray(emb, dtype=np.float32)
    emb /= np.maximum(np.linalg.norm(emb, axis=1, keepdims=True), 1e-9)
    if len(_CACHE) > 4:
        _CACHE.clear()
    _CACHE[key] = (weakref.ref(items), emb)
    return emb


class ContentCandidates:
    """Items whose attributes and text resemble the shopper's own items; covers new, unsold items."""

    name = "content"

    def __init__(self, config: ContentConfig | None = None) -> None:
        self.config = config or ContentConfig()
        self._emb: np.ndarray | None = None
        self._item_ids: np.ndarray = np.empty(0, dtype=object)
        self._profiles: dict[str, np.ndarray] = {}
        self._sold: np.ndarray = np.empty(0, dtype=np.int64)
        self._new: np.ndarray = np.empty(0, dtype=np.int64)

    @property
    def embeddings(self) -> np.ndarray:
        require_trained(self._emb is not None, self.name)
        assert self._emb is not None
        return self._emb

    def train(self, data: TrainData) -> None:
        cfg = self.config
        items = data.items
        self._emb = item_embeddings(items, cfg)
        self._item_ids = items["item_id"].to_numpy(dtype=object)
        idx = data.item_index
        ev = data.events
        first_seen = ev.groupby("item_id", sort=False)["age_days"].max()
        sold = first_seen.index.map(idx).to_numpy()
        self._sold = np.sort(sold.astype(np.int64))
        new_mask = np.zeros(len(items), dtype=bool)
        new_mask[first_seen.index[first_seen.to_numpy() <= cfg.new_arrival_days].map(idx).to_numpy(dtype=np.int64)] = True
        if "created_at" in items.columns:
            created = pd.to_datetime(items["created_at"])
            age = (data.now - created).dt.total_seconds().to_numpy() / 86400.0
            new_mask |= (age >= 0) & (age <= cfg.new_arrival_days)
        if cfg.include_unsold:
            unsold = np.ones(len(items), dtype=bool)
            unsold[self._sold] = False
            new_mask |= unsold
        self._new = np.flatnonzero(new_mask)
        w = ev["weight"].to_numpy() * decay(ev["age_days"], cfg.half_life_days)
        rows = ev["item_id"].map(idx).to_numpy(dtype=np.int64)
        prof = pd.DataFrame(self._emb[rows] * w[:, None]).groupby(ev["user_id"].to_numpy()).sum()
        mat = prof.to_numpy(dtype=np.float32, copy=True)
        mat /= np.maximum(np.linalg.norm(mat, axis=1, keepdims=True), 1e-9)
        self._profiles = dict(zip(prof.index.astype(str).tolist(), mat, strict=True))

    def profile(self, user_id: str) -> np.ndarray | None:
        """The shopper's unit taste vector, or ``None`` when they have no history."""
        return self._profiles.get(user_id)

    def _search(self, users: list[str], pool: np.ndarray, n: int) -> pd.DataFrame:
        if len(pool) == 0 or n <= 0 or not users:
            return empty_candidates()
        assert self._emb is not None
        prof = np.stack([self._profiles[u] for u in users])
        sims = prof @ self._emb[pool].T
        n = min(n, len(pool))
        top = np.argpartition(-sims, n - 1, axis=1)[:, :n]
        vals = np.take_along_axis(sims, top, axis=1)
        return pd.DataFrame({
            "user_id": np.repeat(np.array(users, dtype=object), n),
            "item_id": self._item_ids[pool[top.ravel()]],
            "score": vals.ravel().astype(float),
            "anchor": "",
        })

    def candidates(self, user_ids: Sequence[str]) -> pd.DataFrame:
        require_trained(self._emb is not None, self.name)
        users = [u for u in dict.fromkeys(user_ids) if u in self._profiles]
        frames = []
        for start in range(0, len(users), 512):
            chunk = users[start: start + 512]
            frames.append(self._search(chunk, self._sold, self.config.n))
            new = self._search(chunk, self._new, self.config.n_new)
            frames.append(new.assign(anchor="new"))
        frames = [f for f in frames if not f.empty]
        if not frames:
            return empty_candidates()
        out = pd.concat(frames, ignore_index=True).drop_duplicates(["user_id", "item_id"])
        return top_n_per_user(out, self.config.n + self.config.n_new)
