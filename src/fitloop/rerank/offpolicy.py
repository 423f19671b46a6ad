"""Off-policy learning on logs in the Open Bandit format (ZOZOTOWN's Open Bandit Dataset).

A log row is one impression: a timestamp, the item shown (``item_id``), the slot it was shown in
(``position``, 1-based in the files), whether it was clicked, the logging policy's probability of
that (item, position) (``propensity_score``), four hashed user features and the user-item
affinities. :class:`ObdLog` turns such a frame into arrays with 0-based positions, the convention
of the Open Bandit Pipeline and of :mod:`fitloop.evaluate.ope`.

:class:`OffPolicyLearner` learns a click model from such a log and acts on it:

1. **Click model.** An empirical-Bayes rate per (item, position): each item's click rate is shrunk
   towards a prior rate (the overall rate, or the rate of the item's group under one item feature),
   and each (item, position) rate towards its item's rate times the position's lift.
   Optionally a multiplicative *affinity lift* for rounds whose user has a non-zero
   ``user-item_affinity`` to the item, and, with enough clicks, a LightGBM model of how user
   features, affinity and item features move the rate (it starts from the empirical-Bayes logit as
   ``init_score``, so it only has to learn the context's lift).
2. **Policy.** With probability ``1 - epsilon`` either the *greedy* slate (the one maximising
   predicted clicks, one item per position, no repeats, solved by linear assignment) or a *top-m*
   slate (``len_list`` distinct items drawn uniformly from the ``m`` items with the highest
   predicted rate, in uniformly random order); with probability ``epsilon`` a uniformly random slate.
   Both are valid slate distributions whose per-position marginals are exact:
   ``(1 - epsilon) * [item is greedy there] + epsilon / n_items`` or
   ``(1 - epsilon) * [item is in the top m] / m + epsilon / n_items``.
3. **Choosing by time-ordered inner validation** (``policy="auto"`` and the other ``"auto"``
   settings). Only the training log is used: its last ``inner_share`` is cut into
   ``inner_folds`` consecutive blocks; each block is predicted by a model fitted on everything
   before it. The prior strength, item-prior feature and affinity lift are chosen by the pooled
   held-out log-loss; the policy (greedy or top-m, with or without the context model) by the
   pooled self-normalised IPS estimate minus ``selection_z`` standard errors. A sharp policy
   therefore has to earn its place: on a log with a few dozen clicks the greedy slate's estimate
   rests on a handful of matched rounds and loses to a broader top-m policy; on a log with
   thousands of clicks the greedy slate wins when its items are really better.

The trained model is a folder: ``model.json`` (config, vocabularies, chosen settings),
``arrays.npz`` (click table, item features; read with ``allow_pickle=False``) and
``context.lgb.txt`` (LightGBM text) when the context model is used. Folders of format 1
(greedy policy, written before the inner validation existed) still load and score as before.

>>> import numpy as np, pandas as pd
>>> rng = np.random.default_rng(0)
>>> n = 600
>>> df = pd.DataFrame({"timestamp": pd.date_range("2024-01-01", periods=n, freq="min"),
...     "item_id": rng.integers(0, 4, n), "position": rng.integers(1, 3, n), "propensity_score": 0.25,
...     "user_feature_0": "a"})
>>> df["click"] = ((df.item_id == 2) & (rng.random(n) < 0.5)).astype(int)
>>> learner = OffPolicyLearner(OffPolicyConfig(epsilon=0.2, prior_strength=10, policy="greedy"))
>>> learner.train(ObdLog.from_frame(df))
>>> dist = learner.action_dist(ObdLog.from_frame(df.head(1)))
>>> dist.shape, round(float(dist[0, 2].max()), 2)  # item 2 is greedy at one position
((1, 4, 2), 0.85)
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd
from scipy.optimize import linear_sum_assignment

from fitloop.errors import InvalidInput, ModelBundleError, NotTrained

__all__ = [
    "ObdLog",
    "OffPolicyConfig",
    "OffPolicyLearner",
    "ItemPositionCTR",
    "split_by_time",
    "read_obd_log",
    "iter_obd_log",
    "read_item_context",
    "MODEL_FORMAT",
]

MODEL_FORMAT = "fitloop.offpolicy/2"
# Format 1: greedy policy, no affinity lift; still loads (its meaning is a special case of format 2).
_OLD_FORMATS = ("fitloop.offpolicy/1",)
_USER_FEATURE = re.compile(r"^user_feature_(\d+)$")
_AFFINITY = re.compile(r"^user-item_affinity_(\d+)$")
_REQUIRED = ("item_id", "position", "click")


@dataclass(frozen=True)
class ObdLog:
    """A bandit log as arrays. ``position`` is 0-based; ``user_features`` are strings (hashed in OBD).

    ``affinity[i, a]`` is the user-item affinity of round ``i``'s user to item ``a`` (zeros when the
    log has no affinity columns). ``row_index`` is the original index column when the file had one.
    """

    action: np.ndarray
    position: np.ndarray
    reward: np.ndarray
    pscore: np.ndarray
    timestamp: np.ndarray
    user_features: np.ndarray
    user_feature_names: tuple[str, ...]
    affinity: np.ndarray
    row_index: np.ndarray

    def __len__(self) -> int:
        return len(self.action)

    @property
    def n_actions(self) -> int:
        """Items seen in the log or its affinity columns (ids are 0-based indices in OBD)."""
        return int(max(self.action.max(initial=-1) + 1, self.affinity.shape[1]))

    @property
    def len_list(self) -> int:
        return int(self.position.max(initial=-1) + 1)

    def subset(self, rows: np.ndarray, *, features: bool = True) -> ObdLog:
        """The rounds selected by a boolean mask or an index array, in that order.

        ``features=False`` leaves out the user features and affinities (empty columns): the
        context-free click model needs neither, and copying the affinities is most of a subset's
        cost on a full-size log.
        """
        n = len(self.action[rows]) if not features else 0
        return ObdLog(
            action=self.action[rows],
            position=self.position[rows],
            reward=self.reward[rows],
            pscore=self.pscore[rows],
            timestamp=self.timestamp[rows],
            user_features=self.user_features[rows] if features else np.empty((n, 0), dtype=object),
            user_feature_names=self.user_feature_names if features else (),
            affinity=self.affinity[rows] if features else np.zeros((n, 0), dtype=np.float32),
            row_index=self.row_index[rows],
        )

    @classmethod
    def concat(cls, parts: list[ObdLog]) -> ObdLog:
        """The rounds of ``parts`` one after another (they must have the same columns)."""
        if not parts:
            raise InvalidInput("the log has no rows")
        if len({(p.user_feature_names, p.affinity.shape[1]) for p in parts}) > 1:
            raise InvalidInput("the parts of a log must have the same user-feature and affinity columns")
        return ObdLog(
            action=np.concatenate([p.action for p in parts]),
            position=np.concatenate([p.position for p in parts]),
            reward=np.concatenate([p.reward for p in parts]),
            pscore=np.concatenate([p.pscore for p in parts]),
            timestamp=np.concatenate([p.timestamp for p in parts]),
            user_features=np.concatenate([p.user_features for p in parts]),
            user_feature_names=parts[0].user_feature_names,
            affinity=np.concatenate([p.affinity for p in parts]),
            row_index=np.concatenate([p.row_index for p in parts]),
        )

    @classmethod
    def from_frame(cls, df: pd.DataFrame, *, position_base: int | None = None, needs_click: bool = True) -> ObdLog:
        """Read a frame in the Open Bandit format (1-based positions, as in the published files).

        ``position_base`` ``None`` takes positions as 0-based only when the frame holds a position 0;
        ``0`` or ``1`` says which. User features are kept as an object array (each distinct hashed
        string once in memory, missing values as ``"nan"``), affinities as float32.
        ``needs_click=False`` (for scoring) accepts a frame without ``click`` (rewards are then NaN).
        """
        if position_base not in (None, 0, 1):
            raise InvalidInput("position_base must be 0, 1 or None (decide from the log)")
        missing = [c for c in _REQUIRED if c not in df.columns and (needs_click or c != "click")]
        if missing:
            raise InvalidInput(
                f"the log lacks columns {missing}; an Open Bandit log has timestamp, item_id, position, click, "
                "propensity_score, user_feature_0..3 and user-item_affinity_0..N-1"
            )
        if len(df) == 0:
            raise InvalidInput("the log has no rows")
        unnamed = [c for c in df.columns if str(c).startswith("Unnamed")]
        row_index = (
            pd.to_numeric(df[unnamed[0]], errors="coerce").fillna(-1).to_numpy(np.int64)
            if unnamed
            else np.arange(len(df), dtype=np.int64)
        )
        try:
            action = pd.to_numeric(df["item_id"], errors="raise").to_numpy(np.int64)
            position = pd.to_numeric(df["position"], errors="raise").to_numpy(np.int64)
            reward = (pd.to_numeric(df["click"], errors="raise").to_numpy(float) if "click" in df.columns
                      else np.full(len(df), np.nan))
        except (ValueError, TypeError) as exc:
            raise InvalidInput(f"item_id, position and click must be numeric: {exc}") from exc
        if np.any(action < 0):
            raise InvalidInput("item_id must be a non-negative integer index, as in the Open Bandit Dataset")
        base = position_base if position_base is not None else (0 if np.any(position == 0) else 1)
        position = position - base
        if np.any(position < 0):
            first = int(np.flatnonzero(position < 0)[0])
            raise InvalidInput(
                f"position must be {'1-based (1, 2, 3, ...) as in the Open Bandit files' if base else 'non-negative'}"
                f"; data row {first + 1} has position {int(position[first]) + base}"
            )
        if "click" in df.columns and np.any(~np.isfinite(reward)):
            raise InvalidInput("click holds missing values")
        if "propensity_score" in df.columns:
            pscore = pd.to_numeric(df["propensity_score"], errors="coerce").to_numpy(float)
        else:
            pscore = np.full(len(df), np.nan)
        ts = (
            pd.to_datetime(df["timestamp"], utc=True).to_numpy()
            if "timestamp" in df.columns
            else np.arange(len(df)).astype("datetime64[s]")
        )
        uf_cols = sorted((c for c in df.columns if _USER_FEATURE.match(str(c))), key=lambda c: int(c.split("_")[-1]))
        user_features = np.empty((len(df), len(uf_cols)), dtype=object)
        for j, c in enumerate(uf_cols):
            user_features[:, j] = _as_text(df[c])
        aff_cols = sorted((c for c in df.columns if _AFFINITY.match(str(c))), key=lambda c: int(c.split("_")[-1]))
        affinity = np.zeros((len(df), len(aff_cols)), dtype=np.float32)
        for j, c in enumerate(aff_cols):
            # Column by column: no float64 copy of the whole block (80 columns on the full dataset).
            col = df[c]
            num = col if pd.api.types.is_numeric_dtype(col.dtype) else pd.to_numeric(col, errors="coerce")
            affinity[:, j] = num.fillna(0.0).to_numpy(np.float32)
        return cls(
            action=action,
            position=position,
            reward=reward,
            pscore=pscore,
            timestamp=np.asarray(ts),
            user_features=user_features,
            user_feature_names=tuple(uf_cols),
            affinity=affinity,
            row_index=row_index,
        )


def _as_text(col: pd.Series) -> np.ndarray:
    """A text column as an object array that shares one string object per distinct value."""
    if isinstance(col.dtype, pd.CategoricalDtype):
        cats = col.cat.categories.astype(str)
        values = np.asarray(cats, dtype=object).take(col.cat.codes.to_numpy(), mode="clip")
        values[col.cat.codes.to_numpy() < 0] = "nan"
        return values
    codes, uniques = pd.factorize(col, use_na_sentinel=True)
    text = np.asarray([str(u) for u in uniques] + ["nan"], dtype=object)
    return text.take(codes)  # the sentinel -1 picks the trailing "nan"


# Rows read and converted at a time: a chunk of the full Open Bandit log is ~100 MB as pandas parses it.
DEFAULT_CHUNK = 200_000
_SCORE_SKIP = ("timestamp", "click", "propensity_score")


def iter_obd_log(
    path: str | Path, *, chunksize: int = DEFAULT_CHUNK, position_base: int | None = None, for_scoring: bool = False
) -> Iterator[ObdLog]:
    """Read an Open Bandit log file chunk by chunk (memory bounded by ``chunksize`` rows).

    With ``position_base=None`` the first chunk decides: 0-based if it holds a position 0, else
    1-based (as in the published files). A later position 0 in a log read as 1-based is an error
    that says to pass ``position_base=0``, so a chunked read never silently differs from a whole one.
    ``for_scoring`` needs only ``item_id`` and ``position`` and skips timestamps, clicks and
    propensities. Row indexes (``row_index`` when the file has no index column) count from the
    file's first data row.
    """
    from fitloop.datasets import obd

    required = ("item_id", "position") if for_scoring else obd.LOG_COLUMNS
    skip = _SCORE_SKIP if for_scoring else ()
    base = position_base
    for frame in obd.read_log_chunks(path, chunksize=chunksize, required=required, skip=skip):
        if base is None:
            base = 0 if bool((frame["position"] == 0).any()) else 1
        elif position_base is None and base == 1 and bool((frame["position"] == 0).any()):
            row = int(frame.index[frame["position"].to_numpy() == 0][0])
            raise InvalidInput(
                f"{Path(path).name}: data row {row + 1} has position 0, but the first rows had none, so the log "
                "was read as 1-based (as the Open Bandit files are); if positions are 0-based, say so "
                "(--position-base 0)"
            )
        part = ObdLog.from_frame(frame, position_base=base, needs_click=not for_scoring)
        if not any(str(c).startswith("Unnamed") for c in frame.columns):
            part = dataclasses.replace(part, row_index=frame.index.to_numpy(np.int64))
        yield part


def read_obd_log(path: str | Path, *, chunksize: int = DEFAULT_CHUNK, position_base: int | None = None) -> ObdLog:
    """Read an Open Bandit log file (csv or csv.gz, with or without the leading index column).

    The file is parsed in chunks into compact arrays (float32 affinities, shared strings), so a
    1.4 M-row log needs about 0.6 GB. Positions are 0-based when the log holds a position 0
    anywhere (``position_base=None``), else 1-based. Schema problems raise
    :class:`~fitloop.errors.DatasetError` naming the column and row.
    """
    parts = list(iter_obd_log(path, chunksize=chunksize, position_base=position_base if position_base is not None
                              else 0))
    log = ObdLog.concat(parts)
    del parts
    if position_base is None and not np.any(log.position == 0):
        log = dataclasses.replace(log, position=log.position - 1)  # 1-based, as in the Open Bandit files
    return log


def read_item_context(path: str | Path) -> pd.DataFrame:
    """Read ``item_context_*.csv``: ``item_id`` and ``item_feature_*`` columns, sorted by item."""
    from fitloop.datasets import obd

    return obd.load_item_context(path=path).sort_values("item_id").reset_index(drop=True)


def split_by_time(log: ObdLog, train_fraction: float = 0.7) -> tuple[ObdLog, ObdLog]:
    """The first ``train_fraction`` of rounds by timestamp, and the rest (ties keep file order)."""
    if not 0 < train_fraction < 1:
        raise InvalidInput("train_fraction must lie in (0, 1)")
    order = np.argsort(log.timestamp, kind="stable")
    cut = int(round(train_fraction * len(log)))
    return log.subset(order[:cut]), log.subset(order[cut:])


@dataclass(frozen=True)
class ItemPositionCTR:
    """Empirical-Bayes click rates per (item, position), shrunk towards item and prior rates.

    ``item_group[a]`` (optional, ``-1`` = no group) shrinks each item towards its group's rate
    instead of the overall rate, so items that share a feature value borrow strength.

    >>> m = ItemPositionCTR.fit(np.array([0, 0, 1]), np.array([0, 1, 0]), np.array([1.0, 0, 0]),
    ...                         n_actions=2, len_list=2, prior_strength=2.0)
    >>> m.table.shape, bool(m.table[0].mean() > m.table[1].mean())
    ((2, 2), True)
    """

    table: np.ndarray  # (n_actions, len_list)

    @classmethod
    def fit(
        cls,
        action: np.ndarray,
        position: np.ndarray,
        reward: np.ndarray,
        *,
        n_actions: int,
        len_list: int,
        prior_strength: float,
        item_group: np.ndarray | None = None,
    ) -> ItemPositionCTR:
        if prior_strength <= 0:
            raise InvalidInput("prior_strength must be positive (pseudo-impressions of shrinkage)")
        overall = float(reward.mean()) if len(reward) else 0.0
        # A floor keeps logits finite when a log has no click at all.
        overall = min(max(overall, 1e-6), 1 - 1e-6)
        pos_n = np.bincount(position, minlength=len_list)[:len_list].astype(float)
        pos_c = np.bincount(position, weights=reward, minlength=len_list)[:len_list]
        pos_rate = (pos_c + prior_strength * overall) / (pos_n + prior_strength)
        pos_lift = pos_rate / overall
        item_n = np.bincount(action, minlength=n_actions)[:n_actions].astype(float)
        item_c = np.bincount(action, weights=reward, minlength=n_actions)[:n_actions]
        item_prior = np.full(n_actions, overall)
        if item_group is not None:
            g = np.asarray(item_group, dtype=np.int64)[:n_actions]
            has = g >= 0
            if has.any():
                n_g = int(g.max()) + 1
                g_n = np.bincount(g[has], weights=item_n[: len(g)][has], minlength=n_g)
                g_c = np.bincount(g[has], weights=item_c[: len(g)][has], minlength=n_g)
                g_rate = (g_c + prior_strength * overall) / (g_n + prior_strength)
                item_prior[: len(g)][has] = g_rate[g[has]]
        item_rate = (item_c + prior_strength * item_prior) / (item_n + prior_strength)
        flat = action * len_list + position
        cell_n = np.bincount(flat, minlength=n_actions * len_list)[: n_actions * len_list].reshape(n_actions, len_list)
        cell_c = np.bincount(flat, weights=reward, minlength=n_actions * len_list)[: n_actions * len_list].reshape(
            n_actions, len_list
        )
        prior = np.clip(item_rate[:, None] * pos_lift[None, :], 1e-6, 1 - 1e-6)
        table = (cell_c + prior_strength * prior) / (cell_n + prior_strength)
        return cls(np.clip(table, 1e-6, 1 - 1e-6))


@dataclass(frozen=True)
class OffPolicyConfig:
    """Hyperparameters of :class:`OffPolicyLearner`; every ``"auto"`` is decided by inner validation.

    - ``prior_strength``: pseudo-impressions of shrinkage; ``None`` picks one of ``prior_grid``.
    - ``item_prior``: ``"auto"`` (pick ``"none"`` or an item feature), ``"none"``, or an
      ``item_feature_*`` column whose values group the items the click rates are shrunk towards.
    - ``affinity``: ``"auto"`` (use the affinity lift only if it predicts held-out clicks better),
      ``"none"`` or ``"lift"``; ``affinity_strength`` pseudo expected clicks shrink it towards 1.
    - ``policy``: ``"auto"`` (greedy or top-m, chosen), ``"greedy"``, or ``"topk"`` over ``top_k``
      items (0: twice the slate length).
    - ``context_model``: ``"auto"`` lets the LightGBM context model compete in the inner validation
      when the log has at least ``min_clicks_for_context`` clicks; ``"none"`` never; ``"lightgbm"``
      always.
    - ``inner_folds`` / ``inner_share``: the last ``inner_share`` of the training log (by time) is
      cut into that many validation blocks; ``selection_z``: standard errors subtracted from each
      policy's pooled SNIPS estimate before comparing (0 = pick the highest estimate).

    >>> OffPolicyConfig().policy, OffPolicyConfig(prior_strength=50).prior_strength
    ('auto', 50.0)
    """

    epsilon: float = 0.05
    prior_strength: float | None = None
    prior_grid: tuple[float, ...] = (25.0, 100.0, 500.0, 2000.0)
    item_prior: str = "auto"
    affinity: Literal["auto", "none", "lift"] = "auto"
    affinity_strength: float = 3.0
    policy: Literal["auto", "greedy", "topk"] = "auto"
    top_k: int = 0
    context_model: Literal["auto", "none", "lightgbm"] = "auto"
    min_clicks_for_context: int = 300
    inner_folds: int = 3
    inner_share: float = 0.45
    selection_z: float = 1.0
    num_boost_round: int = 100
    learning_rate: float = 0.05
    num_leaves: int = 15
    min_data_in_leaf: int = 200
    reg: float = 10.0
    rng: int = 0

    def __post_init__(self) -> None:
        if not 0 < self.epsilon <= 1:
            raise InvalidInput("epsilon must lie in (0, 1] so every (item, position) keeps a positive probability")
        if self.context_model not in ("auto", "none", "lightgbm"):
            raise InvalidInput("context_model must be 'auto', 'none' or 'lightgbm'")
        if self.policy not in ("auto", "greedy", "topk"):
            raise InvalidInput("policy must be 'auto', 'greedy' or 'topk'")
        if self.affinity not in ("auto", "none", "lift"):
            raise InvalidInput("affinity must be 'auto', 'none' or 'lift'")
        if self.item_prior not in ("auto", "none") and not str(self.item_prior).startswith("item_feature_"):
            raise InvalidInput("item_prior must be 'auto', 'none' or an item_feature_* column")
        if self.prior_strength is not None:
            if not self.prior_strength > 0:
                raise InvalidInput("prior_strength must be positive (pseudo-impressions of shrinkage)")
            object.__setattr__(self, "prior_strength", float(self.prior_strength))
        grid = tuple(float(s) for s in self.prior_grid)
        if not grid or any(not s > 0 for s in grid):
            raise InvalidInput("prior_grid must hold positive prior strengths")
        object.__setattr__(self, "prior_grid", grid)
        if self.top_k < 0:
            raise InvalidInput("top_k must be 0 (automatic) or the number of items the top-k policy spreads over")
        if self.inner_folds < 1 or not 0 < self.inner_share < 1:
            raise InvalidInput("inner_folds must be at least 1 and inner_share lie in (0, 1)")
        if self.selection_z < 0 or self.affinity_strength <= 0:
            raise InvalidInput("selection_z must be non-negative and affinity_strength positive")


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, 1e-6, 1 - 1e-6)
    return np.log(p / (1 - p))


def _distinct_rows(codes: np.ndarray, affinity: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distinct rows of ``[codes | affinity]``: the index of one row of each, and each row's group.

    Exact, like ``np.unique(axis=0)`` but without sorting wide float rows (the bottleneck of scoring
    a full-size log): user codes (small non-negative integers after ``+ 1``) become one mixed-radix
    integer, and only the few rows with a non-zero affinity have their affinity rows sorted.
    """
    n = len(codes)
    aid = np.zeros(n, dtype=np.int64)
    nonzero = np.flatnonzero((affinity != 0).any(axis=1)) if affinity.shape[1] else np.zeros(0, dtype=np.int64)
    if len(nonzero):
        _, aff_inverse = np.unique(affinity[nonzero], axis=0, return_inverse=True)
        aid[nonzero] = aff_inverse.reshape(-1) + 1
    radix = codes.max(axis=0, initial=-1).astype(np.int64) + 2
    if float(np.prod(radix.astype(float))) * (int(aid.max(initial=0)) + 1) >= 2.0**62:  # no room: sort the rows
        _, first, inverse = np.unique(np.column_stack([codes, affinity]), axis=0, return_index=True,
                                      return_inverse=True)
        return first, inverse.reshape(-1)
    uid = np.zeros(n, dtype=np.int64)
    for j in range(codes.shape[1]):
        uid = uid * int(radix[j]) + (codes[:, j].astype(np.int64) + 1)
    combined = uid * (int(aid.max()) + 1) + aid
    _, first, inverse = np.unique(combined, return_index=True, return_inverse=True)
    return first, inverse.reshape(-1)


def _log_loss(q: np.ndarray, r: np.ndarray) -> float:
    """Summed Bernoulli log-loss (not averaged: folds are pooled by adding)."""
    q = np.clip(q, 1e-9, 1 - 1e-9)
    return float(-(r * np.log(q) + (1 - r) * np.log(1 - q)).sum())


@dataclass
class _Reward:
    """A fitted click model: EB table, optional affinity lift, optional LightGBM booster."""

    table: np.ndarray
    lift: float | None = None
    booster: object | None = None


@dataclass(frozen=True)
class _PolicySpec:
    """``kind="greedy"``, or ``kind="topk"`` spreading over the top ``m`` items."""

    kind: Literal["greedy", "topk"]
    m: int

    @property
    def name(self) -> str:
        return "greedy" if self.kind == "greedy" else f"top-{self.m}"


@dataclass(frozen=True)
class _Choice:
    """What the inner validation chose, and the figures it chose by."""

    prior_strength: float
    item_prior: str | None
    lift_on: bool
    context: str
    policy: _PolicySpec
    report: dict[str, object]


@dataclass
class _Candidate:
    """One (context model, policy) pair's pooled inner-validation figures."""

    context: str
    policy: _PolicySpec
    num: list[np.ndarray] = field(default_factory=list)
    den: list[np.ndarray] = field(default_factory=list)

    def figures(self, base_rate: float, z: float) -> dict[str, float | str]:
        num, den = np.concatenate(self.num), np.concatenate(self.den)
        total = den.sum()
        value = float(num.sum() / total) if total > 0 else 0.0
        # Delta-method SE of the ratio, floored by the binomial SE at the base rate on the effective
        # sample size: with no matched click the empirical SE is 0, which would flatter a sharp policy.
        se_emp = float(np.sqrt(np.sum((num - value * den) ** 2)) / total) if total > 0 else float("inf")
        n_eff = float(total**2 / np.sum(den**2)) if total > 0 else 0.0
        se_floor = float(np.sqrt(base_rate * (1 - base_rate) / n_eff)) if n_eff > 0 else float("inf")
        se = max(se_emp, se_floor)
        return {"context": self.context, "policy": self.policy.name, "snips": value, "se": se,
                "score": value - z * se, "n_eff": n_eff}


class OffPolicyLearner:
    """Learn a click model from an Open Bandit log and act on it with exact slate probabilities."""

    def __init__(self, config: OffPolicyConfig | None = None) -> None:
        self.config = config or OffPolicyConfig()
        self._reward: _Reward | None = None
        self._policy = _PolicySpec("greedy", 0)
        self._n_actions = 0
        self._len_list = 0
        self._user_feature_names: tuple[str, ...] = ()
        self._user_vocab: list[dict[str, int]] = []
        self._item_features: np.ndarray = np.zeros((0, 0))
        self._item_feature_names: tuple[str, ...] = ()
        self._item_feature_categorical: tuple[bool, ...] = ()
        self._n_affinity = 0
        self.train_summary: dict[str, object] = {}

    # ------------------------------------------------------------------ training
    def train(self, log: ObdLog, item_context: pd.DataFrame | None = None) -> None:
        """Fit the click model on ``log`` (and item features from ``item_context`` when given).

        Settings left on ``"auto"`` are chosen by time-ordered validation inside ``log``; the final
        model is then refitted on all of ``log``. ``train_summary`` records what was chosen and why.
        """
        if len(log) == 0:
            raise InvalidInput("cannot train on an empty log")
        n_actions = log.n_actions
        if item_context is not None and len(item_context):
            n_actions = max(n_actions, int(item_context["item_id"].max()) + 1)
        self._n_actions, self._len_list = n_actions, log.len_list
        if n_actions < self._len_list:
            raise InvalidInput(f"need at least {self._len_list} items to fill {self._len_list} positions, "
                               f"the log knows {n_actions}")
        self._n_affinity = log.affinity.shape[1]
        self._user_feature_names = log.user_feature_names
        self._user_vocab = [
            {v: i for i, v in enumerate(sorted(pd.unique(log.user_features[:, j]).tolist()))}
            for j in range(log.user_features.shape[1])
        ]
        self._item_features, self._item_feature_names, self._item_feature_categorical = self._encode_items(
            item_context, n_actions
        )
        clicks = int(log.reward.sum())
        choice = self._select(log, clicks)
        self._reward = self._fit_reward(
            log, prior=choice.prior_strength, group=choice.item_prior, lift=choice.lift_on, context=choice.context
        )
        self._policy = choice.policy
        self.train_summary = {
            "rounds": len(log),
            "clicks": clicks,
            "n_actions": n_actions,
            "len_list": self._len_list,
            "context_model": "lightgbm" if self._reward.booster is not None else "none",
            "policy": self._policy.name,
            "prior_strength": choice.prior_strength,
            "item_prior": choice.item_prior or "overall",
            "affinity_lift": self._reward.lift,
            "selection": choice.report,
        }

    @property
    def policy_name(self) -> str:
        """``"greedy"`` or ``"top-m"``: the policy this learner acts with."""
        return self._policy.name

    # The candidates a policy may spread over: greedy, then top-2K, top-4K, ... up to half the items.
    def _policy_candidates(self) -> list[_PolicySpec]:
        cfg, a_n, k_n = self.config, self._n_actions, self._len_list
        if cfg.policy == "greedy":
            return [_PolicySpec("greedy", k_n)]
        if cfg.policy == "topk":
            m = cfg.top_k or 2 * k_n
            if not k_n <= m <= a_n:
                raise InvalidInput(f"top_k must lie between the slate length {k_n} and the number of items {a_n}")
            return [_PolicySpec("topk", m)]
        specs = [_PolicySpec("greedy", k_n)]
        m = 2 * k_n
        while m <= a_n // 2:
            specs.append(_PolicySpec("topk", m))
            m *= 2
        return specs[::-1]  # smoothest first: ties go to the more robust policy

    def _item_groups(self) -> dict[str, np.ndarray]:
        """Candidate item groupings for the prior: categorical features, numeric ones by quartile."""
        out: dict[str, np.ndarray] = {}
        a_n = self._n_actions
        for j, name in enumerate(self._item_feature_names):
            col = self._item_features[:, j]
            codes = np.full(a_n, -1, dtype=np.int64)
            ok = np.isfinite(col)
            if self._item_feature_categorical[j]:
                codes[ok] = col[ok].astype(np.int64)
            elif ok.sum() >= 8:
                edges = np.unique(np.quantile(col[ok], [0.25, 0.5, 0.75]))
                codes[ok] = np.searchsorted(edges, col[ok], side="right")
            n_groups = len(np.unique(codes[ok])) if ok.any() else 0
            if 2 <= n_groups <= max(2, a_n // 2):
                out[name] = codes
        return out

    def _folds(self, log: ObdLog) -> list[tuple[np.ndarray, np.ndarray]]:
        cfg = self.config
        order = np.argsort(log.timestamp, kind="stable")
        n = len(log)
        edges = np.linspace((1 - cfg.inner_share) * n, n, cfg.inner_folds + 1).round().astype(int)
        return [(order[: edges[j]], order[edges[j] : edges[j + 1]]) for j in range(cfg.inner_folds)
                if edges[j] > 0 and edges[j + 1] > edges[j]]

    def _select(self, log: ObdLog, clicks: int) -> _Choice:
        """Choose prior, item prior, affinity lift, context model and policy on the training log only."""
        cfg = self.config
        groups = self._item_groups()
        priors = [cfg.prior_strength] if cfg.prior_strength is not None else list(cfg.prior_grid)
        if cfg.item_prior == "auto":
            group_names: list[str | None] = [None, *groups]
        elif cfg.item_prior == "none":
            group_names = [None]
        else:
            if cfg.item_prior not in groups:
                raise InvalidInput(f"item_prior {cfg.item_prior!r} is not a usable item feature; "
                                   f"usable: {sorted(groups) or 'none (pass --item-context)'}")
            group_names = [cfg.item_prior]
        lift_options = {"auto": [False, True], "none": [False], "lift": [True]}[cfg.affinity]
        enough = clicks >= cfg.min_clicks_for_context
        contexts = {"auto": ["none", "lightgbm"] if enough else ["none"], "none": ["none"],
                    "lightgbm": ["lightgbm"]}[cfg.context_model]
        policies = self._policy_candidates()
        folds = self._folds(log)
        valid_clicks = sum(float(log.reward[v].sum()) for _, v in folds)
        pscore_ok = bool(np.all(np.isfinite(log.pscore)) and np.all(log.pscore > 0))
        report: dict[str, object] = {"inner_folds": len(folds), "validation_clicks": int(valid_clicks)}
        if not folds or valid_clicks == 0 or not pscore_ok:
            # Nothing to validate on: the middle of the prior grid, no lift, the most robust policy.
            report["note"] = ("no inner validation: " + ("the log lacks usable propensity scores" if not pscore_ok
                              else "the validation blocks hold no click"))
            return _Choice(
                prior_strength=priors[len(priors) // 2] if len(priors) > 1 else priors[0],
                item_prior=group_names[0] if len(group_names) == 1 else None,
                lift_on=lift_options[0] if len(lift_options) == 1 else False,
                context="lightgbm" if cfg.context_model == "lightgbm" else "none",
                policy=policies[0], report=report,
            )

        # 1. Shrinkage and item prior by pooled held-out log-loss (a low-variance criterion).
        losses: dict[tuple[float, str | None], float] = {}
        for s in priors:
            for g in group_names:
                losses[(s, g)] = sum(
                    self._holdout_loss(log, tr, va, prior=s, group=groups.get(g) if g else None, lift=False)
                    for tr, va in folds
                )
        (prior, group), best_loss = min(losses.items(), key=lambda kv: kv[1])
        report["log_loss"] = {f"s={s:g}, prior={g or 'overall'}": round(v, 3) for (s, g), v in losses.items()}
        group_codes = groups.get(group) if group else None

        # 2. Affinity lift: kept only when it predicts held-out clicks better (a proper held-out check).
        affinity_check = self._affinity_check(log, folds, prior, group_codes, best_loss)
        report["affinity_check"] = affinity_check
        lift_on = lift_options[0] if len(lift_options) == 1 else bool(affinity_check["improves"])

        # 3. Context model x policy by pooled SNIPS minus selection_z standard errors.
        candidates = [_Candidate(c, p) for c in contexts for p in policies]
        for tr, va in folds:
            train_part, valid = log.subset(tr), log.subset(va)
            for context in contexts:
                reward = self._fit_reward(train_part, prior=prior, group=group_codes, lift=lift_on, context=context)
                q_u, inverse = self._q_unique(valid, reward)
                for cand in candidates:
                    if cand.context != context:
                        continue
                    prob = self._probs_from(q_u, inverse, valid, cand.policy)
                    w = prob / valid.pscore
                    cand.num.append(w * valid.reward)
                    cand.den.append(w)
        base = valid_clicks / sum(len(v) for _, v in folds)
        figures = [c.figures(base, cfg.selection_z) for c in candidates]
        best = 0
        for i, f in enumerate(figures):
            if float(f["score"]) > float(figures[best]["score"]):  # strict: ties keep the smoother policy
                best = i
        report["candidates"] = [{k: (round(v, 6) if isinstance(v, float) else v) for k, v in f.items()}
                                for f in figures]
        report["chosen"] = f"{candidates[best].context}/{candidates[best].policy.name}"
        return _Choice(prior_strength=prior, item_prior=group, lift_on=lift_on, context=candidates[best].context,
                       policy=candidates[best].policy, report=report)

    def _holdout_loss(
        self, log: ObdLog, tr: np.ndarray, va: np.ndarray, *, prior: float, group: np.ndarray | None, lift: bool
    ) -> float:
        # Without the lift the context-free model needs no features: skip copying the affinities.
        reward = self._fit_reward(log.subset(tr, features=lift), prior=prior, group=group, lift=lift, context="none")
        valid = log.subset(va, features=lift)
        return _log_loss(self._q_logged(valid, reward), valid.reward)

    def _affinity_check(
        self, log: ObdLog, folds: list[tuple[np.ndarray, np.ndarray]], prior: float, group: np.ndarray | None,
        loss_without: float,
    ) -> dict[str, object]:
        """Does a non-zero user-item affinity to the shown item predict its click on later rounds?"""
        loss_with = sum(self._holdout_loss(log, tr, va, prior=prior, group=group, lift=True) for tr, va in folds)
        rows = clicks = 0
        expected = 0.0
        for tr, va in folds:
            reward = self._fit_reward(log.subset(tr, features=False), prior=prior, group=group, lift=False,
                                      context="none")
            valid = log.subset(va)
            aff = self._shown_affinity(valid)
            rows += int(aff.sum())
            clicks += int(valid.reward[aff].sum())
            expected += float(reward.table[valid.action[aff], valid.position[aff]].sum())
        return {"validation_rows_with_affinity": rows, "validation_clicks_there": clicks,
                "expected_without_lift": round(expected, 3), "log_loss_without": round(loss_without, 3),
                "log_loss_with_lift": round(loss_with, 3),
                # One nat, the AIC price of the extra parameter: a lift fitted to a handful of rows that
                # barely moves the held-out likelihood is noise, not evidence.
                "improves": bool(loss_with < loss_without - 1.0)}

    @staticmethod
    def _encode_items(
        item_context: pd.DataFrame | None, n_actions: int
    ) -> tuple[np.ndarray, tuple[str, ...], tuple[bool, ...]]:
        if item_context is None or len(item_context) == 0:
            return np.zeros((n_actions, 0)), (), ()
        cols = [c for c in item_context.columns if str(c).startswith("item_feature_")]
        out = np.full((n_actions, len(cols)), np.nan)
        ids = item_context["item_id"].to_numpy(np.int64)
        categorical = []
        for j, c in enumerate(cols):
            col = item_context[c]
            # Hashed string features become category codes; numeric ones stay numbers.
            is_cat = not pd.api.types.is_numeric_dtype(col)
            values = (
                pd.Categorical(col.astype(str), categories=sorted(set(col.astype(str)))).codes.astype(float)
                if is_cat
                else col.to_numpy(float)
            )
            out[ids, j] = values
            categorical.append(is_cat)
        return out, tuple(cols), tuple(categorical)

    def _user_codes(self, log: ObdLog) -> np.ndarray:
        codes = np.full((len(log), len(self._user_vocab)), -1.0)
        for j, vocab in enumerate(self._user_vocab):
            if j < log.user_features.shape[1]:
                # Hash lookups in pandas, not a Python loop (12 M rounds in the full BTS log); -1 = unseen value.
                index = pd.Index(sorted(vocab, key=vocab.__getitem__), dtype=object)
                codes[:, j] = index.get_indexer(pd.Index(log.user_features[:, j], dtype=object))
        return codes

    def _affinity_mask(self, affinity: np.ndarray) -> np.ndarray:
        """``mask[i, a]``: the round's user has a non-zero affinity to item ``a`` (items the log lacks: no)."""
        mask = np.zeros((len(affinity), self._n_actions), dtype=bool)
        width = min(affinity.shape[1], self._n_actions)
        mask[:, :width] = affinity[:, :width] > 0
        return mask

    def _shown_affinity(self, log: ObdLog) -> np.ndarray:
        """Whether each round's user has a non-zero affinity to the item shown."""
        has = log.action < log.affinity.shape[1]
        out = np.zeros(len(log), dtype=bool)
        out[has] = log.affinity[np.nonzero(has)[0], log.action[has]] > 0
        return out

    @staticmethod
    def _affinity_at(affinity: np.ndarray, rows: np.ndarray, action: np.ndarray) -> np.ndarray:
        """``affinity[rows[i], action[i]]`` (0 for items beyond the affinity columns), without copying rows."""
        aff = np.zeros(len(action))
        has = action < affinity.shape[1]
        aff[has] = affinity[rows[has], action[has]]
        return aff

    def _design(self, user_codes: np.ndarray, aff: np.ndarray, action: np.ndarray, position: np.ndarray) -> np.ndarray:
        """One row per (context, item, position): position, item, user codes, affinity to the item, item features."""
        n = len(action)
        item_feats = self._item_features[np.minimum(action, len(self._item_features) - 1)] if len(
            self._item_features
        ) else np.zeros((n, 0))
        return np.column_stack([position, action, user_codes, aff, item_feats]).astype(float)

    def _categorical(self) -> list[int]:
        n_user = len(self._user_vocab)
        cats = [0, 1, *range(2, 2 + n_user)]
        start = 3 + n_user
        cats += [start + j for j, is_cat in enumerate(self._item_feature_categorical) if is_cat]
        return cats

    def _fit_reward(
        self, log: ObdLog, *, prior: float, group: np.ndarray | str | None, lift: bool, context: str
    ) -> _Reward:
        if isinstance(group, str):
            group = self._item_groups()[group]
        table = ItemPositionCTR.fit(
            log.action, log.position, log.reward, n_actions=self._n_actions, len_list=self._len_list,
            prior_strength=prior, item_group=group,
        ).table
        reward = _Reward(table)
        if lift and context == "none":
            aff = self._shown_affinity(log)
            if aff.any():
                # Gamma-Poisson shrinkage of observed / expected clicks towards 1 (no lift).
                kappa = self.config.affinity_strength
                expected = float(table[log.action[aff], log.position[aff]].sum())
                reward.lift = float((log.reward[aff].sum() + kappa) / (expected + kappa))
        if context == "lightgbm":
            reward.booster = self._fit_booster(log, table)
        return reward

    def _fit_booster(self, log: ObdLog, table: np.ndarray) -> object:
        import lightgbm as lgb

        cfg = self.config
        aff = self._affinity_at(log.affinity, np.arange(len(log)), log.action)
        x = self._design(self._user_codes(log), aff, log.action, log.position)
        init = _logit(table[log.action, log.position])
        params = {
            "objective": "binary",
            "learning_rate": cfg.learning_rate,
            "num_leaves": cfg.num_leaves,
            "min_data_in_leaf": cfg.min_data_in_leaf,
            "lambda_l2": cfg.reg,
            "seed": cfg.rng,
            "deterministic": True,
            "num_threads": 1,
            "verbose": -1,
        }
        data = lgb.Dataset(
            x, label=log.reward, init_score=init, categorical_feature=self._categorical(), free_raw_data=False
        )
        return lgb.train(params, data, num_boost_round=cfg.num_boost_round)

    # ------------------------------------------------------------------ acting
    def _require(self) -> _Reward:
        if self._reward is None:
            raise NotTrained("the off-policy learner is not trained; run `fitloop bandit train` first")
        return self._reward

    def _q_unique(self, log: ObdLog, reward: _Reward | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Predictions per distinct context ``(n_contexts, n_actions, len_list)`` and each round's context."""
        reward = reward or self._require()
        a_n = self._n_actions
        if reward.booster is not None:
            return self._q_unique_booster(log, reward)
        if reward.lift is None or len(log) == 0:
            return reward.table[None, :, :].copy(), np.zeros(len(log), dtype=np.int64)
        # Contexts differ only by which items the user has an affinity to: predict each pattern once.
        mask = self._affinity_mask(log.affinity)
        packed = np.packbits(mask, axis=1)
        uniq, inverse = np.unique(packed, axis=0, return_inverse=True)
        mask_u = np.unpackbits(uniq, axis=1, count=a_n).astype(bool)
        q = np.where(mask_u[:, :, None], reward.table[None] * reward.lift, reward.table[None])
        return np.clip(q, 1e-6, 1 - 1e-6), inverse.reshape(-1)

    def _q_unique_booster(self, log: ObdLog, reward: _Reward) -> tuple[np.ndarray, np.ndarray]:
        a_n, k_n = self._n_actions, self._len_list
        user_codes = self._user_codes(log)
        aff = log.affinity
        # Contexts repeat a lot (few user-feature values, mostly-zero affinities): predict each once.
        key = np.column_stack([user_codes, aff]) if aff.shape[1] else user_codes
        first, inverse = _distinct_rows(user_codes, aff)
        uniq = key[first]
        u_codes = uniq[:, : user_codes.shape[1]]
        u_aff = uniq[:, user_codes.shape[1] :]
        # The design only sees the affinity to the row's own item, so a context's prediction for an item it has
        # no affinity to equals that of its user-feature values at zero affinity. Predict those once per
        # distinct user-feature row, then only the (context, item) pairs with a non-zero affinity: a few
        # thousand LightGBM rows per chunk instead of contexts x items x positions (hours on 12 M rounds).
        b_codes, b_inverse = np.unique(u_codes, axis=0, return_inverse=True)
        n_b = len(b_codes)
        act = np.tile(np.repeat(np.arange(a_n), k_n), n_b)
        pos = np.tile(np.arange(k_n), n_b * a_n)
        x = self._design(b_codes[np.repeat(np.arange(n_b), a_n * k_n)], np.zeros(len(act)), act, pos)
        booster = reward.booster
        raw = booster.predict(x, raw_score=True).reshape(n_b, a_n, k_n)[b_inverse.reshape(-1)]  # type: ignore[attr-defined]
        width = min(u_aff.shape[1], a_n)
        ctx, item = np.nonzero(u_aff[:, :width] != 0)
        if len(ctx):
            rows, acts = np.repeat(ctx, k_n), np.repeat(item, k_n)
            poss = np.tile(np.arange(k_n), len(ctx))
            x = self._design(u_codes[rows], u_aff[rows, acts], acts, poss)
            raw[rows, acts, poss] = booster.predict(x, raw_score=True)  # type: ignore[attr-defined]
        logits = _logit(reward.table)[None, :, :] + raw
        q = 1.0 / (1.0 + np.exp(-logits))
        return q, inverse.reshape(-1)

    def _q_logged(self, log: ObdLog, reward: _Reward) -> np.ndarray:
        """The model's click probability for each round's logged (item, position)."""
        q_u, inverse = self._q_unique(log, reward)
        return q_u[inverse, log.action, log.position]

    def predict_rewards(self, log: ObdLog) -> np.ndarray:
        """Predicted click probability ``q[i, a, k]`` for every round, item and position."""
        q, inverse = self._q_unique(log)
        return q[inverse]

    @staticmethod
    def _greedy(q: np.ndarray) -> np.ndarray:
        n, a_n, k_n = q.shape
        if a_n < k_n:
            raise InvalidInput(f"need at least {k_n} items to fill {k_n} positions, the model knows {a_n}")
        slates = np.empty((n, k_n), dtype=np.int64)
        for u in range(n):
            items, positions = linear_sum_assignment(q[u], maximize=True)
            slates[u, positions] = items
        return slates

    @classmethod
    def _marginals(cls, q: np.ndarray, policy: _PolicySpec) -> np.ndarray:
        """The exploiting part's exact marginals ``P[context, item, position]`` (each column sums to 1)."""
        n, a_n, k_n = q.shape
        out = np.zeros((n, a_n, k_n))
        if policy.kind == "greedy":
            slates = cls._greedy(q)
            out[np.repeat(np.arange(n), k_n), slates.reshape(-1), np.tile(np.arange(k_n), n)] = 1.0
            return out
        # Top-m: a uniformly random ordered choice of len_list of the m best items (by their mean predicted
        # rate over positions; stable sort, so ties go to the lower item id): each is at each position w.p. 1/m.
        top = np.argsort(-q.mean(axis=2), axis=1, kind="stable")[:, : policy.m]
        out[np.repeat(np.arange(n), policy.m), top.reshape(-1), :] = 1.0 / policy.m
        return out

    def _probs_from(self, q_u: np.ndarray, inverse: np.ndarray, log: ObdLog, policy: _PolicySpec) -> np.ndarray:
        eps = self.config.epsilon
        marg = self._marginals(q_u, policy)
        return (1.0 - eps) * marg[inverse, log.action, log.position] + eps / self._n_actions

    def greedy_slates(self, log: ObdLog) -> np.ndarray:
        """``slates[i, k]``: the item the greedy slate puts at position ``k`` in round ``i`` (no repeats).

        This is the click model's best slate whichever policy the learner acts with.
        """
        q, inverse = self._q_unique(log)
        return self._greedy(q)[inverse]

    def action_dist(self, log: ObdLog) -> np.ndarray:
        """``dist[i, a, k]``: the policy's probability of showing item ``a`` at position ``k`` in round ``i``.

        This is ``len(log) * n_actions * len_list`` floats; :meth:`score` needs far less memory.
        """
        q, inverse = self._q_unique(log)
        eps = self.config.epsilon
        return (1.0 - eps) * self._marginals(q, self._policy)[inverse] + eps / self._n_actions

    def score(self, log: ObdLog) -> np.ndarray:
        """The probability that the policy shows each round's logged item at its logged position.

        Items or positions the model never saw get probability 0 (the policy cannot show them).
        """
        self._require()
        prob = np.zeros(len(log))
        known = (log.action < self._n_actions) & (log.position < self._len_list)
        if known.any():
            rows = np.nonzero(known)[0]
            sub = log.subset(rows)
            q_u, inverse = self._q_unique(sub)
            prob[rows] = self._probs_from(q_u, inverse, sub, self._policy)
        return prob

    # ------------------------------------------------------------------ persistence
    def save(self, directory: str | Path) -> Path:
        """Write ``model.json``, ``arrays.npz`` and (if trained) ``context.lgb.txt`` into ``directory``."""
        reward = self._require()
        out = Path(directory)
        out.mkdir(parents=True, exist_ok=True)
        meta = {
            "format": MODEL_FORMAT,
            "config": asdict(self.config),
            "n_actions": self._n_actions,
            "len_list": self._len_list,
            "n_affinity": self._n_affinity,
            "user_feature_names": list(self._user_feature_names),
            "user_vocab": [sorted(v, key=v.__getitem__) for v in self._user_vocab],
            "item_feature_names": list(self._item_feature_names),
            "item_feature_categorical": list(self._item_feature_categorical),
            "has_context_model": reward.booster is not None,
            "affinity_lift": reward.lift,
            "policy": {"kind": self._policy.kind, "m": self._policy.m},
            "train_summary": self.train_summary,
        }
        np.savez(out / "arrays.npz", ctr_table=reward.table, item_features=self._item_features)
        if reward.booster is not None:
            reward.booster.save_model(str(out / "context.lgb.txt"))  # type: ignore[attr-defined]
        elif (out / "context.lgb.txt").exists():
            (out / "context.lgb.txt").unlink()
        (out / "model.json").write_text(json.dumps(meta, indent=2), encoding="utf-8")
        return out

    @classmethod
    def load(cls, directory: str | Path) -> OffPolicyLearner:
        """Load a folder written by :meth:`save` (format 2, or format 1 as a greedy policy).

        Raises :class:`ModelBundleError` when the folder is unusable or of an unknown format.
        """
        d = Path(directory)
        try:
            meta = json.loads((d / "model.json").read_text(encoding="utf-8"))
            fmt = meta.get("format")
            if fmt != MODEL_FORMAT and fmt not in _OLD_FORMATS:
                raise ModelBundleError(f"{d} holds format {fmt!r}, expected {MODEL_FORMAT!r} "
                                       f"(or the older {', '.join(_OLD_FORMATS)}); retrain with `fitloop bandit train`")
            with np.load(d / "arrays.npz", allow_pickle=False) as arrays:
                table = np.array(arrays["ctr_table"], dtype=float)
                item_features = np.array(arrays["item_features"], dtype=float)
            config = dict(meta["config"])
            if fmt in _OLD_FORMATS:
                config["policy"] = "greedy"  # format 1 always acted greedily
            if "prior_grid" in config:
                config["prior_grid"] = tuple(config["prior_grid"])
            learner = cls(OffPolicyConfig(**config))
            learner._n_actions = int(meta["n_actions"])
            learner._len_list = int(meta["len_list"])
            if table.shape != (learner._n_actions, learner._len_list):
                raise ModelBundleError(f"{d}: click table has shape {table.shape}, expected "
                                       f"({learner._n_actions}, {learner._len_list})")
            policy = meta.get("policy", {"kind": "greedy", "m": learner._len_list})
            if policy["kind"] not in ("greedy", "topk") or not (
                policy["kind"] == "greedy" or learner._len_list <= int(policy["m"]) <= learner._n_actions
            ):
                raise ModelBundleError(f"{d}: unusable policy {policy!r}")
            learner._policy = _PolicySpec(policy["kind"], int(policy["m"]))
            lift = meta.get("affinity_lift")
            learner._reward = _Reward(table, None if lift is None else float(lift))
            learner._n_affinity = int(meta["n_affinity"])
            learner._user_feature_names = tuple(meta["user_feature_names"])
            learner._user_vocab = [{v: i for i, v in enumerate(vals)} for vals in meta["user_vocab"]]
            learner._item_features = item_features
            learner._item_feature_names = tuple(meta["item_feature_names"])
            learner._item_feature_categorical = tuple(bool(b) for b in meta["item_feature_categorical"])
            learner.train_summary = dict(meta.get("train_summary", {}))
            if meta["has_context_model"]:
                import lightgbm as lgb

                learner._reward.booster = lgb.Booster(model_file=str(d / "context.lgb.txt"))
        except ModelBundleError:
            raise
        except (OSError, ValueError, KeyError, TypeError, InvalidInput) as exc:
            raise ModelBundleError(f"cannot load the off-policy model from {d}: {exc}") from exc
        except Exception as exc:  # lightgbm raises its own LightGBMError for a corrupt model file
            raise ModelBundleError(f"cannot load the off-policy model from {d}: {exc}") from exc
        return learner
