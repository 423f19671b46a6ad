"""Item attribute vectors for similarity (diversification, near-duplicates, neighbouring styles).

Each item becomes a sparse, L2-normalised vector: one-hot blocks for article type, colour,
pattern, material, style and occasion (each block weighted), plus an optional TF-IDF block of
title and description words. Cosine similarity of two items is then a dot product.

>>> from fitloop.data import Item
>>> items = [Item("a", "Floral dress", "dresses", "Dress", 30, colour="red", pattern="floral"),
...          Item("b", "Floral skirt", "skirts", "Skirt", 25, colour="red", pattern="floral"),
...          Item("c", "Wool coat", "outerwear", "Coat", 90, colour="black", pattern="solid")]
>>> f = ItemFeatures.fit(items)
>>> f.similarity("a", "b") > f.similarity("a", "c")
True
>>> f.pairwise(["a", "b", "c"]).shape
(3, 3)
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction.text import TfidfVectorizer

from fitloop.data import Item
from fitloop.errors import InvalidInput, NotFound

__all__ = ["FeatureConfig", "ItemFeatures"]


@dataclass(frozen=True, slots=True)
class FeatureConfig:
    """Weights of each attribute block (0 drops it); ``text_weight`` > 0 adds TF-IDF of title + description."""

    weights: Mapping[str, float] = field(default_factory=lambda: {
        "article_type": 1.0, "colour": 0.6, "pattern": 0.8, "material": 0.5, "style": 0.8, "occasion": 0.3,
    })
    text_weight: float = 0.0
    max_text_features: int = 2000


def _norm(v: str) -> str:
    return " ".join(v.casefold().split())


class ItemFeatures:
    """Sparse attribute vectors of a catalog; ids in, similarities out."""

    def __init__(self, ids: Sequence[str], matrix: sp.csr_matrix, vocabulary: Sequence[str]) -> None:
        self.ids = list(ids)
        self.index = {i: k for k, i in enumerate(self.ids)}
        self.matrix = matrix
        self.vocabulary = list(vocabulary)

    @classmethod
    def fit(cls, items: Iterable[Item], config: FeatureConfig | None = None) -> ItemFeatures:
        cfg = config or FeatureConfig()
        items = list(items)
        if not items:
            raise InvalidInput("ItemFeatures.fit needs at least one item")
        vocab: dict[str, int] = {}
        rows, cols, vals = [], [], []
        for r, it in enumerate(items):
            for attr, w in cfg.weights.items():
                v = _norm(str(getattr(it, attr, "") or ""))
                if w <= 0 or not v:
                    continue
                col = vocab.setdefault(f"{attr}={v}", len(vocab))
                rows.append(r)
                cols.append(col)
                vals.append(w)
        m = sp.csr_matrix((vals, (rows, cols)), shape=(len(items), max(len(vocab), 1)), dtype=np.float64)
        names = sorted(vocab, key=vocab.__getitem__) or ["<none>"]
        if cfg.text_weight > 0:
            texts = [f"{it.title} {it.description}" for it in items]
            tf = TfidfVectorizer(max_features=cfg.max_text_features, stop_words="english")
            try:
                t = tf.fit_transform(texts) * cfg.text_weight
                m = sp.hstack([m, t], format="csr")
                names += [f"text={w}" for w in tf.get_feature_names_out()]
            except ValueError:  # every text empty or stop words only: attributes alone
                pass
        norms = np.sqrt(np.asarray(m.multiply(m).sum(axis=1))).ravel()
        norms[norms == 0] = 1.0
        m = sp.diags(1.0 / norms) @ m
        return cls([it.item_id for it in items], sp.csr_matrix(m), names)

    def _rows(self, ids: Sequence[str]) -> list[int]:
        try:
            return [self.index[i] for i in ids]
        except KeyError as exc:
            raise NotFound(f"item {exc.args[0]!r} has no features; refit ItemFeatures on the current catalog",
                           code="item_not_in_features") from None

    def has(self, item_id: str) -> bool:
        return item_id in self.index

    def similarity(self, a: str, b: str) -> float:
        """Cosine similarity of two items' attribute vectors (0 = nothing shared, 1 = identical)."""
        ra, rb = self._rows([a, b])
        return float(self.matrix[ra].multiply(self.matrix[rb]).sum())

    def pairwise(self, ids: Sequence[str]) -> np.ndarray:
        """Dense cosine similarity matrix of ``ids`` (in that order)."""
        sub = self.matrix[self._rows(ids)]
        return np.asarray((sub @ sub.T).todense())
