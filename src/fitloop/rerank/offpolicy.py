"""Off-policy learning on logs in the Open Bandit format (ZOZOTOWN's Open Bandit Dataset).

A log row is one impression: a timestamp, the item shown (``item_id``), the slot it was shown in
(``position``, 1-based in the files), whether it was clicked, the logging policy's probability of
that (item, position) (``propensity_score``), four hashed user features and the user-item
affinities. :class:`ObdLog` turns such a frame into arrays with 0-based positions, the convention
of the Open Bandit Pipeline and of :mod:`fitloop.evaluate.ope`.

:class:`OffPolicyLearner` learns a reward model from such a log and acts on it:

1. An empirical-Bayes click model per (item, position): each item's click rate is shrunk towards
   the overall rate (``prior_strength`` pseudo-impressions), and each (item, position) rate towards
   its item's rate times the position's lift. With a few dozen clicks this is all a log can support.
2. When the log holds enough clicks (``min_clicks_for_context``), a LightGBM model learns how the
   user features and user-item affinity move that rate (it starts from the empirical-Bayes logit
   as ``init_score``, so it only has to learn the context's lift).
3. The policy is greedy with uniform exploration: with probability ``1 - epsilon`` it shows the
   slate that maximises the predicted clicks (one item per position, no repeats), otherwise a
   uniformly random slate. Every (item, position) therefore has a defined, positive probability
   ``(1 - epsilon) * [item is the greedy choice there] + epsilon / n_items``, which is what
   :meth:`OffPolicyLearner.action_dist` returns and what off-policy estimators need.

The trained model is a folder: ``model.json`` (config, vocabularies), ``arrays.npz`` (click
tables, item features; read with ``allow_pickle=False``) and ``context.lgb.txt`` (LightGBM text)
when the context model was trained.

>>> import numpy as np, pandas as pd
>>> rng = np.random.default_rng(0)
>>> n = 600
>>> df = pd.DataFrame({"timestamp": pd.date_range("2024-01-01", periods=n, freq="min"),
...     "item_id": rng.integers(0, 4, n), "position": rng.integers(1, 3, n), "propensity_score": 0.25,
...     "user_feature_0": "a"})
>>> df["click"] = ((df.item_id == 2) & (rng.random(n) < 0.5)).astype(int)
>>> learner = OffPolicyLearner(OffPolicyConfig(epsilon=0.2, prior_strength=10))
>>> learner.train(ObdLog.from_frame(df))
>>> dist = learner.action_dist(ObdLog.from_frame(df.head(1)))
>>> dist.shape, round(float(dist[0, 2].max()), 2)  # item 2 is greedy at one position
((1, 4, 2), 0.85)
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass
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
    "read_item_context",
]

MODEL_FORMAT = "fitloop.offpolicy/1"
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

    def subset(self, rows: np.ndarray) -> ObdLog:
        """The rounds selected by a boolean mask or an index array, in that order."""
        return ObdLog(
            action=self.action[rows],
            position=self.position[rows],
            reward=self.reward[rows],
            pscore=self.pscore[rows],
            timestamp=self.timestamp[rows],
            user_features=self.user_features[rows],
            user_feature_names=self.user_feature_names,
            affinity=self.affinity[rows],
            row_index=self.row_index[rows],
        )

    @classmethod
    def from_frame(cls, df: pd.DataFrame) -> ObdLog:
        """Read a frame in the Open Bandit format (1-based positions, as in the published files).

        Positions are taken as 0-based only when the frame already holds a position 0.
        """
        missing = [c for c in _REQUIRED if c not in df.columns]
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
            reward = pd.to_numeric(df["click"], errors="raise").to_numpy(float)
        except (ValueError, TypeError) as exc:
            raise InvalidInput(f"item_id, position and click must be numeric: {exc}") from exc
        if np.any(action < 0):
            raise InvalidInput("item_id must be a non-negative integer index, as in the Open Bandit Dataset")
        if not np.any(position == 0):
            position = position - 1
        if np.any(position < 0):
            raise InvalidInput("position must be 1-based (1, 2, 3, ...) as in the Open Bandit files")
        if np.any(~np.isfinite(reward)):
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
        user_features = (
            df[uf_cols].astype(str).to_numpy(dtype=str) if uf_cols else np.empty((len(df), 0), dtype=str)
        )
        aff_cols = sorted((c for c in df.columns if _AFFINITY.match(str(c))), key=lambda c: int(c.split("_")[-1]))
        affinity = (
            df[aff_cols].apply(pd.to_numeric, errors="coerce").fillna(0.0).to_numpy(float)
            if aff_cols
            else np.zeros((len(df), 0))
        )
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


def read_obd_log(path: str | Path) -> ObdLog:
    """Read an Open Bandit log file (csv or csv.gz, with or without the leading index column).

    Schema problems raise :class:`~fitloop.errors.DatasetError` naming the column and row.
    """
    from fitloop.datasets import obd

    return ObdLog.from_frame(obd.load_log(path=path))


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
    """Empirical-Bayes click rates per (item, position), shrunk towards item and overall rates.

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
        item_rate = (item_c + prior_strength * overall) / (item_n + prior_strength)
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
    """Hyperparameters of :class:`OffPolicyLearner`.

    ``context_model``: "auto" trains the LightGBM context model only when the log has at least
    ``min_clicks_for_context`` clicks; "none" never; "lightgbm" always.
    """

    epsilon: float = 0.05
    prior_strength: float = 500.0
    context_model: Literal["auto", "none", "lightgbm"] = "auto"
    min_clicks_for_context: int = 300
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


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, 1e-6, 1 - 1e-6)
    return np.log(p / (1 - p))


class OffPolicyLearner:
    """Learn a click model from an Open Bandit log and act greedily with uniform exploration."""

    def __init__(self, config: OffPolicyConfig | None = None) -> None:
        self.config = config or OffPolicyConfig()
        self._ctr: ItemPositionCTR | None = None
        self._booster: object | None = None
        self._n_actions = 0
        self._len_list = 0
        self._user_feature_names: tuple[str, ...] = ()
        self._user_vocab: list[dict[str, int]] = []
        self._item_features: np.ndarray = np.zeros((0, 0))
        self._item_feature_names: tuple[str, ...] = ()
        self._item_feature_categorical: tuple[bool, ...] = ()
        self._n_affinity = 0
        self.train_summary: dict[str, float | int | str] = {}

    # ------------------------------------------------------------------ training
    def train(self, log: ObdLog, item_context: pd.DataFrame | None = None) -> None:
        """Fit the click model on ``log`` (and item features from ``item_context`` when given)."""
        cfg = self.config
        if len(log) == 0:
            raise InvalidInput("cannot train on an empty log")
        n_actions = log.n_actions
        if item_context is not None and len(item_context):
            n_actions = max(n_actions, int(item_context["item_id"].max()) + 1)
        self._n_actions, self._len_list = n_actions, log.len_list
        self._n_affinity = log.affinity.shape[1]
        self._ctr = ItemPositionCTR.fit(
            log.action, log.position, log.reward, n_actions=n_actions, len_list=self._len_list,
            prior_strength=cfg.prior_strength,
        )
        self._user_feature_names = log.user_feature_names
        self._user_vocab = [
            {v: i for i, v in enumerate(sorted(set(log.user_features[:, j].tolist())))}
            for j in range(log.user_features.shape[1])
        ]
        self._item_features, self._item_feature_names, self._item_feature_categorical = self._encode_items(
            item_context, n_actions
        )
        clicks = int(log.reward.sum())
        use_context = cfg.context_model == "lightgbm" or (
            cfg.context_model == "auto" and clicks >= cfg.min_clicks_for_context
        )
        self._booster = self._fit_booster(log) if use_context else None
        self.train_summary = {
            "rounds": len(log),
            "clicks": clicks,
            "n_actions": n_actions,
            "len_list": self._len_list,
            "context_model": "lightgbm" if self._booster is not None else "none",
        }

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
                codes[:, j] = [vocab.get(v, -1) for v in log.user_features[:, j]]
        return codes

    def _design(self, user_codes: np.ndarray, affinity: np.ndarray, action: np.ndarray, position: np.ndarray) -> np.ndarray:
        """One row per (context, item, position): position, item, user codes, affinity, item features."""
        n = len(action)
        aff = np.zeros(n)
        has = action < affinity.shape[1]
        aff[has] = affinity[np.nonzero(has)[0], action[has]]
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

    def _fit_booster(self, log: ObdLog) -> object:
        import lightgbm as lgb

        cfg = self.config
        assert self._ctr is not None
        x = self._design(self._user_codes(log), log.affinity, log.action, log.position)
        init = _logit(self._ctr.table[log.action, log.position])
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
    def _require(self) -> ItemPositionCTR:
        if self._ctr is None:
            raise NotTrained("the off-policy learner is not trained; run `fitloop bandit train` first")
        return self._ctr

    def _unique_q(self, log: ObdLog) -> tuple[np.ndarray, np.ndarray]:
        """Predictions per distinct context ``(n_contexts, n_actions, len_list)`` and each round's context."""
        ctr = self._require()
        a_n, k_n = self._n_actions, self._len_list
        if self._booster is None:
            return ctr.table[None, :, :].copy(), np.zeros(len(log), dtype=np.int64)
        user_codes = self._user_codes(log)
        aff = log.affinity
        # Contexts repeat a lot (few user-feature values, mostly-zero affinities): predict each once.
        key = np.column_stack([user_codes, aff]) if aff.shape[1] else user_codes
        uniq, inverse = np.unique(key, axis=0, return_inverse=True)
        n_u = len(uniq)
        u_codes = uniq[:, : user_codes.shape[1]]
        u_aff = uniq[:, user_codes.shape[1] :]
        ctx_idx = np.repeat(np.arange(n_u), a_n * k_n)
        act = np.tile(np.repeat(np.arange(a_n), k_n), n_u)
        pos = np.tile(np.arange(k_n), n_u * a_n)
        x = self._design(u_codes[ctx_idx], u_aff[ctx_idx], act, pos)
        raw = self._booster.predict(x, raw_score=True)  # type: ignore[attr-defined]
        logits = _logit(ctr.table[act, pos]) + raw
        q = (1.0 / (1.0 + np.exp(-logits))).reshape(n_u, a_n, k_n)
        return q, inverse.reshape(-1)

    def predict_rewards(self, log: ObdLog) -> np.ndarray:
        """Predicted click probability ``q[i, a, k]`` for every round, item and position."""
        q, inverse = self._unique_q(log)
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

    def greedy_slates(self, log: ObdLog) -> np.ndarray:
        """``slates[i, k]``: the item the greedy policy puts at position ``k`` in round ``i`` (no repeats)."""
        q, inverse = self._unique_q(log)
        return self._greedy(q)[inverse]

    def action_dist(self, log: ObdLog) -> np.ndarray:
        """``dist[i, a, k]``: the policy's probability of showing item ``a`` at position ``k`` in round ``i``.

        This is ``len(log) * n_actions * len_list`` floats; :meth:`score` needs far less memory.
        """
        slates = self.greedy_slates(log)
        eps = self.config.epsilon
        n, k_n = slates.shape
        a_n = self._n_actions
        dist = np.full((n, a_n, k_n), eps / a_n)
        rows = np.repeat(np.arange(n), k_n)
        dist[rows, slates.reshape(-1), np.tile(np.arange(k_n), n)] += 1 - eps
        return dist

    def score(self, log: ObdLog) -> np.ndarray:
        """The probability that the policy shows each round's logged item at its logged position.

        Items or positions the model never saw get probability 0 (the policy cannot show them).
        """
        self._require()
        eps = self.config.epsilon
        prob = np.zeros(len(log))
        known = (log.action < self._n_actions) & (log.position < self._len_list)
        if known.any():
            rows = np.nonzero(known)[0]
            sub = log.subset(rows)
            slates = self.greedy_slates(sub)
            hit = slates[np.arange(len(sub)), sub.position] == sub.action
            prob[rows] = eps / self._n_actions + (1.0 - eps) * hit
        return prob

    # ------------------------------------------------------------------ persistence
    def save(self, directory: str | Path) -> Path:
        """Write ``model.json``, ``arrays.npz`` and (if trained) ``context.lgb.txt`` into ``directory``."""
        ctr = self._require()
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
            "has_context_model": self._booster is not None,
            "train_summary": self.train_summary,
        }
        np.savez(out / "arrays.npz", ctr_table=ctr.table, item_features=self._item_features)
        if self._booster is not None:
            self._booster.save_model(str(out / "context.lgb.txt"))  # type: ignore[attr-defined]
        elif (out / "context.lgb.txt").exists():
            (out / "context.lgb.txt").unlink()
        (out / "model.json").write_text(json.dumps(meta, indent=2), encoding="utf-8")
        return out

    @classmethod
    def load(cls, directory: str | Path) -> OffPolicyLearner:
        """Load a folder written by :meth:`save`; raise :class:`ModelBundleError` when it is unusable."""
        d = Path(directory)
        try:
            meta = json.loads((d / "model.json").read_text(encoding="utf-8"))
            if meta.get("format") != MODEL_FORMAT:
                raise ModelBundleError(f"{d} holds format {meta.get('format')!r}, expected {MODEL_FORMAT!r}")
            with np.load(d / "arrays.npz", allow_pickle=False) as arrays:
                table = np.array(arrays["ctr_table"], dtype=float)
                item_features = np.array(arrays["item_features"], dtype=float)
            learner = cls(OffPolicyConfig(**meta["config"]))
            learner._n_actions = int(meta["n_actions"])
            learner._len_list = int(meta["len_list"])
            if table.shape != (learner._n_actions, learner._len_list):
                raise ModelBundleError(f"{d}: click table has shape {table.shape}, expected "
                                       f"({learner._n_actions}, {learner._len_list})")
            learner._ctr = ItemPositionCTR(table)
            learner._n_affinity = int(meta["n_affinity"])
            learner._user_feature_names = tuple(meta["user_feature_names"])
            learner._user_vocab = [{v: i for i, v in enumerate(vals)} for vals in meta["user_vocab"]]
            learner._item_features = item_features
            learner._item_feature_names = tuple(meta["item_feature_names"])
            learner._item_feature_categorical = tuple(bool(b) for b in meta["item_feature_categorical"])
            learner.train_summary = dict(meta.get("train_summary", {}))
            if meta["has_context_model"]:
                import lightgbm as lgb

                learner._booster = lgb.Booster(model_file=str(d / "context.lgb.txt"))
        except ModelBundleError:
            raise
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ModelBundleError(f"cannot load the off-policy model from {d}: {exc}") from exc
        except Exception as exc:  # lightgbm raises its own LightGBMError for a corrupt model file
            raise ModelBundleError(f"cannot load the off-policy model from {d}: {exc}") from exc
        return learner
