"""Sequence interests: a small SASRec-style next-item model over each shopper's recent events.

The model reads a shopper's most recent items (oldest first) through causal
self-attention and returns a *dynamic interest vector*: the hidden state after
the newest item. Items are scored by the dot product of that vector with their
embedding plus a learned popularity bias. An item's embedding is the sum of an
id embedding and the mean of its tag embeddings (product code, type, colour,
…) when tags are given to :meth:`SequenceModel.train`; sharing tag embeddings
is what lets a model trained on a few thousand shoppers generalise across the
many articles each shopper never touched.

PyTorch is an optional extra (``pip install 'fitloop[torch]'``); it is imported
only when a model is trained or loaded, so ``import fitloop.profile`` works
without it.

Artefacts are a folder of ``config.json`` (hyperparameters), ``vocab.json``
(item ids and tag names) and ``weights.npz`` (tensors as plain arrays, loaded
with ``allow_pickle=False``); nothing is pickled.

>>> import pandas as pd
>>> from fitloop.data import make_interactions
>>> seq = ["a", "b", "c"] * 6
>>> df = make_interactions(
...     [f"u{i}" for i in range(8) for _ in seq],
...     seq * 8,
...     [pd.Timestamp("2024-01-01") + pd.Timedelta(minutes=j) for _ in range(8) for j in range(len(seq))],
... )
>>> model = SequenceModel(SequenceConfig(embedding_size=16, epochs=60, max_len=8, dropout=0.0))
>>> model.train(df)
>>> model.recommend(["a", "b"], k=1)[0][0]
'c'
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from fitloop.data import check_interactions
from fitloop.errors import FitloopError, InvalidInput, ModelBundleError, NotTrained

__all__ = ["SequenceConfig", "SequenceModel", "TORCH_HINT"]

TORCH_HINT = "PyTorch is needed for the sequence-interest model; install it with: pip install 'fitloop[torch]'"
_FORMAT_VERSION = 1


def _torch() -> Any:
    """Import torch or raise a :class:`FitloopError` that says how to install it."""
    try:
        import torch
    except ImportError as exc:  # pragma: no cover - exercised by a test that hides torch
        raise FitloopError(TORCH_HINT, code="torch_missing") from exc
    return torch


@dataclass(frozen=True)
class SequenceConfig:
    """Hyperparameters of :class:`SequenceModel`.

    ``kinds``: event kinds used as the sequence (``None`` = every kind in the frame).
    ``reg``: AdamW weight decay. ``n_threads``: torch CPU threads while training.

    >>> SequenceConfig(embedding_size=32).n_heads
    2
    >>> SequenceConfig(embedding_size=30, n_heads=4)
    Traceback (most recent call last):
    ...
    fitloop.errors.InvalidInput: embedding_size (30) must be divisible by n_heads (4)
    """

    embedding_size: int = 64
    max_len: int = 50
    n_heads: int = 2
    n_layers: int = 2
    dropout: float = 0.2
    epochs: int = 40
    learning_rate: float = 1e-3
    batch_size: int = 64
    reg: float = 0.0
    kinds: tuple[str, ...] | None = None
    n_threads: int = 2
    rng: int = 0

    def __post_init__(self) -> None:
        positive = ("embedding_size", "max_len", "n_heads", "n_layers", "epochs", "batch_size", "n_threads")
        for name in positive:
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise InvalidInput(f"{name} must be a positive integer, got {value!r}")
        if self.embedding_size % self.n_heads:
            raise InvalidInput(
                f"embedding_size ({self.embedding_size}) must be divisible by n_heads ({self.n_heads})"
            )
        if not 0.0 <= float(self.dropout) < 1.0:
            raise InvalidInput(f"dropout must be in [0, 1), got {self.dropout!r}")
        if not float(self.learning_rate) > 0.0 or not math.isfinite(float(self.learning_rate)):
            raise InvalidInput(f"learning_rate must be a positive number, got {self.learning_rate!r}")
        if not float(self.reg) >= 0.0:
            raise InvalidInput(f"reg must be >= 0, got {self.reg!r}")
        if self.kinds is not None:
            object.__setattr__(self, "kinds", tuple(str(k) for k in self.kinds))

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["kinds"] = list(self.kinds) if self.kinds is not None else None
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> SequenceConfig:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise InvalidInput(f"unknown SequenceConfig fields {unknown}; known: {sorted(known)}")
        kw = dict(d)
        if kw.get("kinds") is not None:
            kw["kinds"] = tuple(kw["kinds"])
        return cls(**kw)


def _build_network(torch: Any, n_items: int, n_tags: int, item_tags: np.ndarray, cfg: SequenceConfig) -> Any:
    """The SASRec network; defined here so torch stays a lazy import."""
    nn = torch.nn

    class SASRec(nn.Module):  # type: ignore[name-defined]
        def __init__(self) -> None:
            super().__init__()
            d = cfg.embedding_size
            self.item_emb = nn.Embedding(n_items + 1, d, padding_idx=0)
            # Tags shared by many articles carry most of the signal on sparse data.
            self.tag_emb = nn.EmbeddingBag(max(n_tags, 0) + 1, d, mode="mean", padding_idx=0)
            self.pos_emb = nn.Embedding(cfg.max_len, d)
            self.item_bias = nn.Parameter(torch.zeros(n_items + 1))
            layer = nn.TransformerEncoderLayer(
                d, cfg.n_heads, dim_feedforward=2 * d, dropout=cfg.dropout, batch_first=True, norm_first=True
            )
            self.encoder = nn.TransformerEncoder(layer, cfg.n_layers, enable_nested_tensor=False)
            self.norm = nn.LayerNorm(d)
            self.drop = nn.Dropout(cfg.dropout)
            self.register_buffer("item_tags", torch.as_tensor(item_tags, dtype=torch.long), persistent=False)
            nn.init.normal_(self.item_emb.weight, std=0.05)
            nn.init.normal_(self.tag_emb.weight, std=0.05)
            nn.init.normal_(self.pos_emb.weight, std=0.05)
            with torch.no_grad():
                self.item_emb.weight[0].zero_()
                self.tag_emb.weight[0].zero_()

        def item_table(self) -> Any:
            table = self.item_emb.weight
            if self.item_tags.shape[1] > 0:
                table = table + self.tag_emb(self.item_tags)
            return table

        def forward(self, seq: Any, table: Any) -> Any:
            # seq: [B, L] item indices, left-padded with 0; the newest item is at the right end.
            b, length = seq.shape
            pad = seq == 0
            # Positions count back from the newest item so padding does not shift them.
            pos = torch.arange(length - 1, -1, -1, device=seq.device).clamp(max=cfg.max_len - 1)
            x = table[seq] * math.sqrt(cfg.embedding_size) + self.pos_emb(pos)[None]
            x = self.drop(x) * (~pad)[..., None]
            causal = torch.triu(torch.ones(length, length, dtype=torch.bool, device=seq.device), diagonal=1)
            eye = torch.eye(length, dtype=torch.bool, device=seq.device)
            # A padded key is hidden, except from itself, so no attention row is fully masked (NaN).
            mask = causal[None] | (pad[:, None, :] & ~eye[None])
            mask = mask.repeat_interleave(cfg.n_heads, dim=0)
            h = self.encoder(x, mask=mask)
            return self.norm(h)

    return SASRec()


class SequenceModel:
    """Next-item model over recent events; yields a dynamic interest vector per shopper.

    ``train`` learns from an interactions frame (``user_id``, ``item_id``, ``ts``
    [, ``kind``]); ids go in and out. Items not seen in training are ignored in
    histories and score ``-inf`` as candidates.
    """

    def __init__(self, config: SequenceConfig | None = None) -> None:
        self.config = config or SequenceConfig()
        self._items: list[str] = []
        self._index: dict[str, int] = {}
        self._tags: list[str] = []
        self._item_tags = np.zeros((1, 0), dtype=np.int64)
        self._net: Any = None
        self._table: np.ndarray | None = None  # cached [n_items + 1, d] item embeddings
        self._bias: np.ndarray | None = None

    # ------------------------------------------------------------------ training
    @property
    def item_ids(self) -> list[str]:
        """The item vocabulary (items seen in training), in index order."""
        return list(self._items)

    @property
    def is_trained(self) -> bool:
        return self._net is not None

    def train(self, interactions: pd.DataFrame, item_tags: Mapping[str, Iterable[str]] | None = None) -> None:
        """Fit on ``interactions``; ``item_tags`` optionally maps item id → tags such as
        ``["product_code:0108775", "colour:Black"]`` whose embeddings items share."""
        torch = _torch()
        cfg = self.config
        check_interactions(interactions)
        df = interactions
        if cfg.kinds is not None and "kind" in df.columns:
            df = df[df["kind"].astype(str).isin(cfg.kinds)]
        if df.empty:
            raise InvalidInput("no interactions to train the sequence model on (after filtering by kinds)")
        df = df.assign(_order=np.arange(len(df))).sort_values(["user_id", "ts", "_order"], kind="stable")
        items = sorted(df["item_id"].astype(str).unique())
        index = {it: i + 1 for i, it in enumerate(items)}
        tag_matrix, tags = _tag_matrix(items, item_tags)

        codes = df["item_id"].astype(str).map(index).to_numpy(dtype=np.int64)
        users = df["user_id"].astype(str).to_numpy()
        bounds = np.flatnonzero(users[1:] != users[:-1]) + 1
        windows = _training_windows(np.split(codes, bounds), cfg.max_len)
        if not windows:
            raise InvalidInput("the sequence model needs shoppers with at least two events; none found")

        torch.manual_seed(cfg.rng)
        gen = np.random.default_rng(cfg.rng)
        threads = torch.get_num_threads()
        torch.set_num_threads(cfg.n_threads)
        try:
            net = _build_network(torch, len(items), len(tags), tag_matrix, cfg)
            opt = torch.optim.AdamW(net.parameters(), lr=cfg.learning_rate, weight_decay=cfg.reg)
            # Group windows of similar length so batches carry little padding.
            order = np.argsort([len(w) for w in windows], kind="stable")
            batches = [order[i : i + cfg.batch_size] for i in range(0, len(order), cfg.batch_size)]
            net.train()
            for _ in range(cfg.epochs):
                for bi in gen.permutation(len(batches)):
                    chunk = [windows[j] for j in batches[bi]]
                    seq, target = _pad_batch(chunk)
                    seq_t = torch.as_tensor(seq)
                    target_t = torch.as_tensor(target)
                    table = net.item_table()
                    hidden = net(seq_t, table)
                    keep = target_t > 0
                    logits = hidden[keep] @ table.T + net.item_bias
                    logits[:, 0] = -1e9  # index 0 is padding, never an answer
                    loss = torch.nn.functional.cross_entropy(logits, target_t[keep])
                    opt.zero_grad()
                    loss.backward()
                    opt.step()
            net.eval()
        finally:
            torch.set_num_threads(threads)
        self._items, self._index, self._tags, self._item_tags = items, index, tags, tag_matrix
        self._net = net
        self._cache_tables()

    # ------------------------------------------------------------------ serving
    def _require(self) -> None:
        if self._net is None:
            raise NotTrained("the sequence model is not trained; call train(interactions) or load(folder) first")

    def _cache_tables(self) -> None:
        torch = _torch()
        with torch.no_grad():
            self._table = self._net.item_table().numpy().copy()
            self._bias = self._net.item_bias.numpy().copy()

    def _encode(self, recent_item_ids: Sequence[str]) -> list[int]:
        if isinstance(recent_item_ids, str):
            raise InvalidInput("recent_item_ids must be a list of item ids, not a single string")
        codes = [self._index[str(i)] for i in recent_item_ids if str(i) in self._index]
        return codes[-self.config.max_len :]

    def interest_vector(self, recent_item_ids: Sequence[str]) -> np.ndarray:
        """The shopper's current interest (``embedding_size`` floats) from their recent items,
        oldest first. Unknown items are ignored; with no known item the vector is zero."""
        self._require()
        codes = self._encode(recent_item_ids)
        if not codes:
            return np.zeros(self.config.embedding_size, dtype=np.float32)
        torch = _torch()
        with torch.no_grad():
            seq = torch.as_tensor(np.asarray([codes], dtype=np.int64))
            h = self._net(seq, torch.as_tensor(self._table))
        return np.asarray(h[0, -1].numpy(), dtype=np.float32)

    def interest_vectors(self, histories: Mapping[str, Sequence[str]]) -> dict[str, np.ndarray]:
        """:meth:`interest_vector` for many shoppers: user id → vector."""
        return {str(u): self.interest_vector(h) for u, h in histories.items()}

    def _all_scores(self, recent_item_ids: Sequence[str]) -> np.ndarray:
        assert self._table is not None and self._bias is not None
        v = self.interest_vector(recent_item_ids)
        scores = self._table @ v + self._bias
        scores[0] = -np.inf
        return scores

    def score(self, recent_item_ids: Sequence[str], candidate_item_ids: Sequence[str]) -> np.ndarray:
        """Scores of ``candidate_item_ids`` (same order) as the next item; unknown candidates get ``-inf``."""
        self._require()
        if isinstance(candidate_item_ids, str):
            raise InvalidInput("candidate_item_ids must be a list of item ids, not a single string")
        scores = self._all_scores(recent_item_ids)
        idx = np.asarray([self._index.get(str(c), 0) for c in candidate_item_ids], dtype=np.int64)
        return scores[idx].astype(np.float64)

    def recommend(
        self, recent_item_ids: Sequence[str], k: int = 12, exclude: Iterable[str] = ()
    ) -> list[tuple[str, float]]:
        """The ``k`` most likely next items as ``(item_id, score)``, best first, skipping ``exclude``."""
        self._require()
        if not isinstance(k, int) or isinstance(k, bool) or k < 1:
            raise InvalidInput(f"k must be a positive integer, got {k!r}")
        scores = self._all_scores(recent_item_ids)
        for item in exclude:
            j = self._index.get(str(item))
            if j is not None:
                scores[j] = -np.inf
        k = min(k, int(np.isfinite(scores).sum()))
        if k == 0:
            return []
        top = np.argpartition(-scores, k - 1)[:k]
        top = top[np.lexsort((top, -scores[top]))]
        return [(self._items[j - 1], float(scores[j])) for j in top]

    # ------------------------------------------------------------------ artefacts
    def save(self, folder: str | Path) -> Path:
        """Write ``config.json``, ``vocab.json`` and ``weights.npz`` into ``folder`` (created)."""
        self._require()
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        weights = {k: v.detach().cpu().numpy() for k, v in self._net.state_dict().items()}
        weights["__item_tags__"] = self._item_tags
        np.savez(folder / "weights.npz", **weights)
        (folder / "vocab.json").write_text(json.dumps({"items": self._items, "tags": self._tags}))
        meta = {"format_version": _FORMAT_VERSION, "kind": "fitloop.sequence.sasrec", "config": self.config.to_dict()}
        (folder / "config.json").write_text(json.dumps(meta, indent=2))
        return folder

    @classmethod
    def load(cls, folder: str | Path) -> SequenceModel:
        """Read a folder written by :meth:`save`; raises :class:`ModelBundleError` if it is not one."""
        torch = _torch()
        folder = Path(folder)
        try:
            meta = json.loads((folder / "config.json").read_text())
            vocab = json.loads((folder / "vocab.json").read_text())
            with np.load(folder / "weights.npz", allow_pickle=False) as npz:
                arrays = {k: npz[k] for k in npz.files}
        except (OSError, ValueError, KeyError) as exc:
            raise ModelBundleError(f"{folder} is not a readable sequence-model folder: {exc}") from exc
        if meta.get("kind") != "fitloop.sequence.sasrec" or meta.get("format_version") != _FORMAT_VERSION:
            raise ModelBundleError(f"{folder}/config.json is not a fitloop sequence model of format {_FORMAT_VERSION}")
        model = cls(SequenceConfig.from_dict(meta["config"]))
        model._items = [str(i) for i in vocab["items"]]
        model._index = {it: i + 1 for i, it in enumerate(model._items)}
        model._tags = [str(t) for t in vocab["tags"]]
        model._item_tags = arrays.pop("__item_tags__").astype(np.int64)
        net = _build_network(torch, len(model._items), len(model._tags), model._item_tags, model.config)
        try:
            net.load_state_dict({k: torch.as_tensor(v) for k, v in arrays.items()})
        except RuntimeError as exc:
            raise ModelBundleError(f"{folder}/weights.npz does not match its config: {exc}") from exc
        net.eval()
        model._net = net
        model._cache_tables()
        return model


def _tag_matrix(items: list[str], item_tags: Mapping[str, Iterable[str]] | None) -> tuple[np.ndarray, list[str]]:
    """Item index → padded tag indices (1-based; 0 = none), and the tag vocabulary."""
    if not item_tags:
        return np.zeros((len(items) + 1, 0), dtype=np.int64), []
    per_item = [sorted({str(t) for t in item_tags.get(it, ()) if str(t)}) for it in items]
    tags = sorted({t for ts in per_item for t in ts})
    tag_index = {t: i + 1 for i, t in enumerate(tags)}
    width = max((len(ts) for ts in per_item), default=0)
    mat = np.zeros((len(items) + 1, width), dtype=np.int64)
    for row, ts in enumerate(per_item, start=1):
        mat[row, : len(ts)] = [tag_index[t] for t in ts]
    return mat, tags


def _training_windows(sequences: list[np.ndarray], max_len: int) -> list[np.ndarray]:
    """Cut each sequence into windows of at most ``max_len + 1`` items (input + shifted target)."""
    out: list[np.ndarray] = []
    for s in sequences:
        end = len(s)
        while end >= 2:
            start = max(0, end - max_len - 1)
            out.append(s[start:end])
            end = start + 1 if start > 0 else 0
    return out


def _pad_batch(windows: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    length = max(len(w) for w in windows) - 1
    seq = np.zeros((len(windows), length), dtype=np.int64)
    target = np.zeros((len(windows), length), dtype=np.int64)
    for r, w in enumerate(windows):
        n = len(w) - 1
        seq[r, length - n :] = w[:-1]
        target[r, length - n :] = w[1:]
    return seq, target
