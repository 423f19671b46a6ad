"""Size and fit: will this size of this item be too small, right, or too large for this shopper?

Two stages, trained on reviewed rentals (RentTheRunway columns: ``user_id, item_id, size, category``,
body measurements, ``fit`` in {small, fit, large}, ``review_date``):

1. :class:`LatentSizeModel`, the latent-factor "true size" model of Sembium et al. (RecSys 2017), the
   reference approach of Misra, Wan and McAuley (RecSys 2018): every shopper has a true size (a
   linear function of body measurements plus a learned per-shopper offset ``d_user``), every item
   runs large or small (``b_item``, per category ``c_category``, per size of the item
   ``e_item_size``, the paper's "product"), and the fit score
   ``z = w * size + b_item + c_category + e_item_size - (x_body . beta + d_user)`` goes through an
   ordinal (cumulative logit) link with two thresholds: ``P(small) = s(theta1 - z)``,
   ``P(small or fit) = s(theta2 - z)``. All parameters are learned jointly by L-BFGS on the
   L2-regularised negative log-likelihood (convex but for the threshold spacing).
2. :class:`SizeFitModel` stacks a LightGBM multiclass classifier on the fit score, the shopper's and the
   item's past fit feedback, the shopper's usual size, body measurements and category. To keep the
   stacked features honest, stage 2 is trained on the most recent ``val_fraction`` of the training
   reviews with features computed from the earlier reviews only (a time-based stack); stage 1 is then
   refitted on all training reviews. Decision weights for :meth:`SizeFitModel.predict` are picked on
   a later slice to maximise macro-F1 (the classes are imbalanced: about 74 % *fit*).

Unknown shoppers fall back to their body measurements (or the population when those are missing),
unknown items to their category, unknown categories to zero offset.

>>> import pandas as pd
>>> df = synthetic_rentals(n_users=300, n_items=40, n_rentals=4000, seed=0)
>>> m = SizeFitModel(SizeFitConfig(n_trees=50))
>>> m.train(df)
>>> p = m.predict_proba(df.head(3))
>>> list(p.columns), bool(abs(p.sum(axis=1) - 1).max() < 1e-9)
(['p_small', 'p_fit', 'p_large'], True)
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy.optimize import minimize
from scipy.special import expit, log_expit

from fitloop.errors import InvalidInput, ModelBundleError, NotTrained

__all__ = [
    "FIT_CLASSES",
    "BODY_COLUMNS",
    "SizeFitConfig",
    "LatentSizeModel",
    "SizeFitModel",
    "prepare_rentals",
    "synthetic_rentals",
]

#: Class order of every probability array and of the ``p_small,p_fit,p_large`` output.
FIT_CLASSES: tuple[str, ...] = ("small", "fit", "large")
#: Numeric body columns used (missing values are imputed and flagged).
BODY_COLUMNS: tuple[str, ...] = ("height_in", "weight_lbs", "bust_size_num", "bust_cup", "age")
BODY_TYPES: tuple[str, ...] = ("hourglass", "athletic", "pear", "petite", "full bust", "straight & narrow", "apple")
_CUPS = {"aa": 0.5, "a": 1, "b": 2, "c": 3, "d": 4, "dd": 5, "e": 5, "ddd": 6, "f": 6, "g": 7, "h": 8, "i": 9, "j": 10}
BUNDLE_VERSION = 1


@dataclass(frozen=True, slots=True)
class SizeFitConfig:
    """Hyperparameters of both stages.

    - ``reg_user``, ``reg_item``, ``reg_category``, ``reg``: L2 penalties of the shopper offsets, item
      offsets, category offsets and body-measurement weights of the latent model (in units of one review).
    - ``epochs``: L-BFGS iterations of the latent model.
    - ``val_fraction``: most recent share of the training reviews used to fit stage 2 (time-based stack);
      ``threshold_fraction``: the latest share of that slice used to pick macro-F1 decision weights.
    - ``n_trees``, ``learning_rate``, ``num_leaves``, ``min_child_samples``: LightGBM stage 2
      (``n_trees=0`` uses the latent model alone).
    - ``prior_strength``: pseudo-counts that shrink a shopper's or item's past fit shares to the population.
    - ``rng``: seed.
    """

    reg_user: float = 2.0
    reg_item: float = 2.0
    reg_category: float = 5.0
    reg_item_size: float = 2.0
    reg: float = 1.0
    epochs: int = 150
    val_fraction: float = 0.6
    threshold_fraction: float = 0.4
    n_trees: int = 300
    learning_rate: float = 0.05
    num_leaves: int = 31
    min_child_samples: int = 50
    prior_strength: float = 3.0
    rng: int = 0

    def __post_init__(self) -> None:
        for name in ("reg_user", "reg_item", "reg_category", "reg_item_size", "reg", "prior_strength"):
            if getattr(self, name) < 0:
                raise InvalidInput(f"SizeFitConfig.{name} must be >= 0, got {getattr(self, name)}")
        if self.epochs < 1:
            raise InvalidInput(f"SizeFitConfig.epochs must be >= 1, got {self.epochs}")
        if not 0.0 < self.val_fraction < 1.0 or not 0.0 < self.threshold_fraction < 1.0:
            raise InvalidInput("SizeFitConfig.val_fraction and threshold_fraction must be in (0, 1)")
        if self.n_trees < 0:
            raise InvalidInput(f"SizeFitConfig.n_trees must be >= 0, got {self.n_trees}")


# ---------------------------------------------------------------------------- data preparation


def prepare_rentals(df: pd.DataFrame, *, require_fit: bool = False) -> pd.DataFrame:
    """Normalise a rentals frame: string ids, numeric size, derived ``bust_cup``, integer label ``y``.

    Missing optional columns are added as missing. ``y`` is 0/1/2 for small/fit/large (-1 when unknown).
    """
    missing = [c for c in ("user_id", "item_id", "size") if c not in df.columns]
    if missing:
        raise InvalidInput(f"rentals lack the columns {missing}; need at least user_id, item_id, size")
    out = pd.DataFrame(index=df.index)
    out["user_id"] = df["user_id"].astype(str)
    out["item_id"] = df["item_id"].astype(str)
    out["size"] = pd.to_numeric(df["size"], errors="coerce").astype(float)
    out["category"] = df["category"].astype("string").fillna("").astype(str) if "category" in df else ""
    for c in ("height_in", "weight_lbs", "bust_size_num", "age"):
        out[c] = pd.to_numeric(df[c], errors="coerce").astype(float) if c in df else np.nan
    # Ages of 0 or over 100 are data-entry noise in RentTheRunway (e.g. 116).
    out.loc[(out["age"] < 13) | (out["age"] > 99), "age"] = np.nan
    cup = df["bust_size_letter"].astype("string").str.lower().str.strip() if "bust_size_letter" in df else None
    out["bust_cup"] = cup.map(_CUPS).astype(float) if cup is not None else np.nan
    out["body_type"] = df["body_type"].astype("string").fillna("").astype(str) if "body_type" in df else ""
    out["rented_for"] = df["rented_for"].astype("string").fillna("").astype(str) if "rented_for" in df else ""
    if "review_date" in df:
        out["review_date"] = pd.to_datetime(df["review_date"], errors="coerce")
    else:
        out["review_date"] = pd.NaT
    if "fit" in df:
        y = df["fit"].astype("string").str.lower().map({c: i for i, c in enumerate(FIT_CLASSES)})
        out["y"] = y.fillna(-1).astype(int)
    else:
        out["y"] = -1
    if require_fit and (out["y"] < 0).any():
        bad = int((out["y"] < 0).sum())
        raise InvalidInput(f"{bad} training rows have no fit label in {FIT_CLASSES}; drop them or fix the column")
    return out.reset_index(drop=True)


class _Body:
    """Standardised body-measurement design matrix with missing-value flags and body-type one-hots."""

    def __init__(self, mean: np.ndarray, std: np.ndarray) -> None:
        self.mean, self.std = mean, std

    @classmethod
    def fit(cls, df: pd.DataFrame) -> _Body:
        x = df[list(BODY_COLUMNS)].to_numpy(float)
        mean = np.nanmean(np.where(np.isfinite(x), x, np.nan), axis=0)
        mean = np.where(np.isfinite(mean), mean, 0.0)
        std = np.nanstd(x, axis=0)
        std = np.where(np.isfinite(std) & (std > 0), std, 1.0)
        return cls(mean, std)

    def matrix(self, df: pd.DataFrame) -> np.ndarray:
        x = df[list(BODY_COLUMNS)].to_numpy(float)
        miss = ~np.isfinite(x)
        z = np.where(miss, 0.0, (x - self.mean) / self.std)
        bt = np.stack([(df["body_type"].to_numpy() == t).astype(float) for t in BODY_TYPES], axis=1)
        return np.hstack([np.ones((len(df), 1)), z, miss.astype(float), bt])


def _item_size_keys(df: pd.DataFrame) -> np.ndarray:
    """``item|size`` keys: the paper's "product" is one size of one item."""
    sizes = df["size"].to_numpy(float)
    return np.array([f"{i}|{s:g}" for i, s in zip(df["item_id"].to_numpy(), sizes, strict=True)], dtype=object)


def _index(ids: np.ndarray, vocab: dict[str, int]) -> np.ndarray:
    return np.array([vocab.get(i, -1) for i in ids], dtype=np.int64)


# ---------------------------------------------------------------------------- stage 1


class LatentSizeModel:
    """Ordinal latent "true size" model (stage 1). Ids in, probabilities out.

    ``z = alpha * (size - center) + b_item + c_category + e_item_size - (x_body . beta + d_user)``;
    ``P(small) = s(theta1 - z)``, ``P(large) = 1 - s(theta2 - z)``.
    """

    def __init__(self, config: SizeFitConfig | None = None) -> None:
        self.config = config or SizeFitConfig()
        self.trained = False

    def train(self, data: pd.DataFrame) -> None:
        """Fit on prepared rentals (see :func:`prepare_rentals`) with labels."""
        df = data[data["y"] >= 0]
        if len(df) < 10:
            raise InvalidInput(f"need at least 10 labelled rentals to train the size model, got {len(df)}")
        cfg = self.config
        self.body = _Body.fit(df)
        x = self.body.matrix(df)
        self.users = {u: i for i, u in enumerate(pd.unique(df["user_id"]))}
        self.items = {u: i for i, u in enumerate(pd.unique(df["item_id"]))}
        self.cats = {u: i for i, u in enumerate(pd.unique(df["category"]))}
        isz_keys = _item_size_keys(df)
        self.item_sizes = {u: i for i, u in enumerate(pd.unique(isz_keys))}
        si = _index(isz_keys, self.item_sizes)
        ui, ii, ci = (_index(df[c].to_numpy(), v) for c, v in
                      (("user_id", self.users), ("item_id", self.items), ("category", self.cats)))
        size = np.nan_to_num(df["size"].to_numpy(float), nan=float(np.nanmedian(df["size"])))
        y = df["y"].to_numpy()
        nu, ni, nc, d = len(self.users), len(self.items), len(self.cats), x.shape[1]
        ns = len(self.item_sizes)
        n = len(df)
        prior = np.clip(np.bincount(y, minlength=3) / n, 1e-3, None)
        theta0 = np.zeros(d + nu + ni + nc + ns + 3)
        # Start at the class shares with no effects: the loss is convex in everything but the
        # threshold spacing, so this start is safe (a multiplicative scale in front of the gap,
        # as in the paper's notation, lets L-BFGS collapse it to zero on this data).
        theta0[-3:] = [np.log(prior[0] / (1 - prior[0])), np.log(np.log((1 - prior[2]) / prior[2])
                       - np.log(prior[0] / (1 - prior[0]))), 0.0]
        sl_b, sl_u = slice(0, d), slice(d, d + nu)
        sl_i, sl_c = slice(d + nu, d + nu + ni), slice(d + nu + ni, d + nu + ni + nc)
        sl_s = slice(d + nu + ni + nc, d + nu + ni + nc + ns)
        is_s, is_f, is_l = y == 0, y == 1, y == 2
        size_c = size - float(np.median(size))

        def fun(th: np.ndarray) -> tuple[float, np.ndarray]:
            beta, du, bi, cc, es = th[sl_b], th[sl_u], th[sl_i], th[sl_c], th[sl_s]
            t1, rho, w = th[-3], th[-2], th[-1]
            t2 = t1 + np.exp(rho)
            z = w * size_c + bi[ii] + cc[ci] + es[si] - x @ beta - du[ui]
            a1, a2 = t1 - z, t2 - z
            f1, f2 = expit(a1), expit(a2)
            dens = np.maximum(f2 - f1, 1e-12)
            nll = -(log_expit(a1)[is_s].sum() + np.log(dens[is_f]).sum() + log_expit(-a2)[is_l].sum())
            g_z = np.zeros(n)
            g_t1 = np.zeros(n)
            g_t2 = np.zeros(n)
            g_z[is_s] = 1 - f1[is_s]
            g_t1[is_s] = -(1 - f1[is_s])
            g_z[is_l] = -f2[is_l]
            g_t2[is_l] = f2[is_l]
            d1, d2 = f1 * (1 - f1), f2 * (1 - f2)
            g_z[is_f] = (d2[is_f] - d1[is_f]) / dens[is_f]
            g_t1[is_f] = d1[is_f] / dens[is_f]
            g_t2[is_f] = -d2[is_f] / dens[is_f]
            grad = np.empty_like(th)
            grad[sl_b] = -(x.T @ g_z) + 2 * cfg.reg * np.r_[0.0, beta[1:]]
            grad[sl_u] = -np.bincount(ui, g_z, nu) + 2 * cfg.reg_user * du
            grad[sl_i] = np.bincount(ii, g_z, ni) + 2 * cfg.reg_item * bi
            grad[sl_c] = np.bincount(ci, g_z, nc) + 2 * cfg.reg_category * cc
            grad[sl_s] = np.bincount(si, g_z, ns) + 2 * cfg.reg_item_size * es
            grad[-3] = g_t1.sum() + g_t2.sum()
            grad[-2] = g_t2.sum() * np.exp(rho)
            grad[-1] = (g_z * size_c).sum()
            reg = (cfg.reg * (beta[1:] ** 2).sum() + cfg.reg_user * (du**2).sum() + cfg.reg_item * (bi**2).sum()
                   + cfg.reg_category * (cc**2).sum() + cfg.reg_item_size * (es**2).sum())
            return float(nll + reg) / n, grad / n

        res = minimize(fun, theta0, jac=True, method="L-BFGS-B", options={"maxiter": cfg.epochs})
        th = res.x
        self.beta, self.d_user, self.b_item, self.c_cat = th[sl_b], th[sl_u], th[sl_i], th[sl_c]
        self.e_item_size = th[sl_s]
        self.theta1 = float(th[-3])
        self.theta2 = float(th[-3] + np.exp(th[-2]))
        self.alpha = float(th[-1])
        self.size_center = float(np.median(size))
        self.default_size = float(np.nanmedian(df["size"]))
        self.trained = True

    def _check(self) -> None:
        if not self.trained:
            raise NotTrained("the size model is not trained; call train(rentals) or load a bundle first")

    def user_term(self, data: pd.DataFrame) -> np.ndarray:
        """The shopper term ``x_body . beta + d_user`` in logit units (unknown shoppers: body only)."""
        self._check()
        ui = _index(data["user_id"].to_numpy(), self.users)
        du = np.where(ui >= 0, self.d_user[np.maximum(ui, 0)], 0.0)
        return np.asarray(self.body.matrix(data) @ self.beta + du)

    def item_term(self, data: pd.DataFrame) -> np.ndarray:
        """The item and category term ``b_item + c_category`` in logit units (0 when unknown)."""
        ii = _index(data["item_id"].to_numpy(), self.items)
        ci = _index(data["category"].to_numpy(), self.cats)
        bi = np.where(ii >= 0, self.b_item[np.maximum(ii, 0)], 0.0)
        cc = np.where(ci >= 0, self.c_cat[np.maximum(ci, 0)], 0.0)
        si = _index(_item_size_keys(data), self.item_sizes)
        es = np.where(si >= 0, self.e_item_size[np.maximum(si, 0)], 0.0)
        return np.asarray(bi + cc + es)

    def score(self, data: pd.DataFrame) -> np.ndarray:
        """The fit score ``z`` (> thresholds: runs large on this shopper, < : runs small)."""
        size = np.nan_to_num(data["size"].to_numpy(float), nan=self.default_size)
        return np.asarray(self.alpha * (size - self.size_center) + self.item_term(data) - self.user_term(data))

    def true_size(self, data: pd.DataFrame) -> np.ndarray:
        """The size at which the score sits midway between the thresholds (NaN if size has no effect).

        On RentTheRunway the learned size slope is small (bigger shoppers rent bigger sizes *and*
        report "small" more often), so stage 2 uses the score, not this, as its main input.
        """
        if self.alpha <= 1e-3:
            return np.full(len(data), np.nan)
        mid = (self.theta1 + self.theta2) / 2
        return np.asarray(self.size_center + (mid - self.item_term(data) + self.user_term(data)) / self.alpha)

    def predict_proba(self, data: pd.DataFrame) -> np.ndarray:
        """``(n, 3)`` probabilities of small, fit, large."""
        z = self.score(data)
        f1, f2 = expit(self.theta1 - z), expit(self.theta2 - z)
        p = np.stack([f1, np.maximum(f2 - f1, 0.0), 1 - f2], axis=1)
        return np.asarray(p / p.sum(axis=1, keepdims=True))

    # -- bundle
    def to_arrays(self, prefix: str) -> dict[str, np.ndarray]:
        self._check()
        return {
            f"{prefix}beta": self.beta, f"{prefix}d_user": self.d_user, f"{prefix}b_item": self.b_item,
            f"{prefix}c_cat": self.c_cat, f"{prefix}users": np.array(list(self.users), dtype=str),
            f"{prefix}e_item_size": self.e_item_size,
            f"{prefix}item_sizes": np.array(list(self.item_sizes), dtype=str),
            f"{prefix}items": np.array(list(self.items), dtype=str), f"{prefix}cats": np.array(list(self.cats), dtype=str),
            f"{prefix}body_mean": self.body.mean, f"{prefix}body_std": self.body.std,
            f"{prefix}scalars": np.array([self.theta1, self.theta2, self.alpha, self.default_size, self.size_center]),
        }

    @classmethod
    def from_arrays(cls, a: Any, prefix: str, config: SizeFitConfig) -> LatentSizeModel:
        m = cls(config)
        m.beta, m.d_user, m.b_item, m.c_cat = (a[f"{prefix}{k}"] for k in ("beta", "d_user", "b_item", "c_cat"))
        m.e_item_size = a[f"{prefix}e_item_size"]
        m.item_sizes = {str(u): i for i, u in enumerate(a[f"{prefix}item_sizes"])}
        m.users = {str(u): i for i, u in enumerate(a[f"{prefix}users"])}
        m.items = {str(u): i for i, u in enumerate(a[f"{prefix}items"])}
        m.cats = {str(u): i for i, u in enumerate(a[f"{prefix}cats"])}
        m.body = _Body(a[f"{prefix}body_mean"], a[f"{prefix}body_std"])
        m.theta1, m.theta2, m.alpha, m.default_size, m.size_center = (float(v) for v in a[f"{prefix}scalars"])
        m.trained = True
        return m


# ---------------------------------------------------------------------------- stage 2 features


class _History:
    """Past fit feedback per shopper, item and shopper-size, from labelled rentals (no future leaks)."""

    def __init__(self, hist: pd.DataFrame, prior: np.ndarray, strength: float) -> None:
        self.prior, self.strength = prior, strength
        onehot = np.eye(3)[hist["y"].to_numpy()]
        h = pd.DataFrame(onehot, columns=list(FIT_CLASSES))
        h["user_id"], h["item_id"], h["size"] = hist["user_id"].to_numpy(), hist["item_id"].to_numpy(), hist["size"].to_numpy()
        self.user = h.groupby("user_id")[list(FIT_CLASSES)].sum()
        self.item = h.groupby("item_id")[list(FIT_CLASSES)].sum()
        self.user_size = h.groupby(["user_id", "size"])[list(FIT_CLASSES)].sum()
        self.user_median = h.groupby("user_id")["size"].median()

    @classmethod
    def from_frames(cls, user: pd.DataFrame, item: pd.DataFrame, user_size: pd.DataFrame, user_median: pd.Series,
                    prior: np.ndarray, strength: float) -> _History:
        self = cls.__new__(cls)
        self.prior, self.strength = prior, strength
        self.user, self.item, self.user_size, self.user_median = user, item, user_size, user_median
        return self

    def _shares(self, table: pd.DataFrame, keys: Any) -> tuple[np.ndarray, np.ndarray]:
        counts = table.reindex(keys).to_numpy(float)
        counts = np.nan_to_num(counts, nan=0.0)
        n = counts.sum(axis=1)
        shares = (counts + self.strength * self.prior) / (n[:, None] + self.strength)
        return n, shares

    def features(self, data: pd.DataFrame) -> dict[str, np.ndarray]:
        nu, su = self._shares(self.user, data["user_id"].to_numpy())
        ni, si = self._shares(self.item, data["item_id"].to_numpy())
        keys = pd.MultiIndex.from_arrays([data["user_id"].to_numpy(), data["size"].to_numpy()])
        nus, sus = self._shares(self.user_size, keys)
        med = self.user_median.reindex(data["user_id"].to_numpy()).to_numpy(float)
        return {
            "user_n": nu, "user_small": su[:, 0], "user_large": su[:, 2],
            "item_n": ni, "item_small": si[:, 0], "item_large": si[:, 2],
            "user_size_n": nus, "user_size_small": sus[:, 0], "user_size_large": sus[:, 2],
            "size_minus_user_median": data["size"].to_numpy(float) - med,
        }


def _all_sizes_median(data: pd.DataFrame, known: pd.DataFrame) -> np.ndarray:
    """Size minus the shopper's median size over every rental we can see (labels not needed)."""
    sizes = pd.concat([known[["user_id", "size"]], data[["user_id", "size"]]], ignore_index=True)
    med = sizes.groupby("user_id")["size"].median()
    cnt = sizes.groupby("user_id")["size"].size()
    u = data["user_id"].to_numpy()
    return np.c_[data["size"].to_numpy(float) - med.reindex(u).to_numpy(float), cnt.reindex(u).to_numpy(float)]


# ---------------------------------------------------------------------------- the model


class SizeFitModel:
    """Probability that a size of an item is too small, right or too large for a shopper.

    ``train(rentals)``, ``predict_proba(rentals) -> DataFrame[p_small, p_fit, p_large]``,
    ``predict(rentals) -> labels`` (macro-F1 decision weights), ``recommend_size(...)``,
    ``save(folder)`` / ``load(folder)`` (npz + JSON + LightGBM text; no pickle).
    """

    FEATURES: tuple[str, ...] = (
        "score", "lat_small", "lat_large", "item_term", "user_term", "size",
        "user_n", "user_small", "user_large", "item_n", "item_small", "item_large",
        "user_size_n", "user_size_small", "user_size_large", "size_minus_user_median",
        "size_minus_all_median", "user_rentals_seen",
        *BODY_COLUMNS, "body_type_code", "category_code", "rented_for_code",
    )

    def __init__(self, config: SizeFitConfig | None = None) -> None:
        self.config = config or SizeFitConfig()
        self.latent: LatentSizeModel | None = None
        self.booster: Any = None
        self.weights = np.ones(3)
        self.prior = np.array([0.13, 0.74, 0.13])
        self.vocab: dict[str, list[str]] = {}
        self.meta: dict[str, Any] = {}

    # -- training
    def _design(self, data: pd.DataFrame, latent: LatentSizeModel, hist: _History, seen: pd.DataFrame) -> pd.DataFrame:
        lat = latent.predict_proba(data)
        f: dict[str, Any] = {"score": latent.score(data), "lat_small": lat[:, 0], "lat_large": lat[:, 2],
                             "item_term": latent.item_term(data), "user_term": latent.user_term(data),
                             "size": data["size"].to_numpy(float)}
        f.update(hist.features(data))
        both = _all_sizes_median(data, seen)
        f["size_minus_all_median"], f["user_rentals_seen"] = both[:, 0], both[:, 1]
        for c in BODY_COLUMNS:
            f[c] = data[c].to_numpy(float)
        for col in ("body_type", "category", "rented_for"):
            vocab = {v: i for i, v in enumerate(self.vocab[col])}
            f[f"{col}_code"] = np.array([vocab.get(v, -1) for v in data[col].to_numpy()], dtype=float)
        return pd.DataFrame(f)[list(self.FEATURES)]

    def train(self, data: pd.DataFrame) -> None:
        """Train both stages on rentals with a ``fit`` label (RentTheRunway columns or prepared)."""
        df = data if "y" in data.columns else prepare_rentals(data, require_fit=True)
        df = df[(df["y"] >= 0) & df["size"].notna()].reset_index(drop=True)
        if len(df) < 50:
            raise InvalidInput(f"need at least 50 labelled rentals with a size to train, got {len(df)}")
        cfg = self.config
        df = df.sort_values("review_date", kind="stable").reset_index(drop=True)
        self.prior = np.bincount(df["y"], minlength=3) / len(df)
        self.vocab = {c: sorted(v for v in df[c].unique() if v) for c in ("body_type", "category", "rented_for")}
        if cfg.n_trees > 0:
            self._train_stack(df)
        else:
            self.booster = None
        self.latent = LatentSizeModel(cfg)
        self.latent.train(df)
        self.history = _History(df, self.prior, cfg.prior_strength)
        self.seen_sizes = df[["user_id", "size"]].copy()
        if cfg.n_trees == 0:
            self._pick_weights_latent(df)
        self.meta = {"n_train": int(len(df)), "trained_until": str(df["review_date"].max()),
                     "class_prior": self.prior.tolist()}

    def _split(self, df: pd.DataFrame, frac: float) -> int:
        return int(round(len(df) * (1 - frac)))

    def _train_stack(self, df: pd.DataFrame) -> None:
        import lightgbm as lgb

        cfg = self.config
        cut = self._split(df, cfg.val_fraction)
        early, late = df.iloc[:cut], df.iloc[cut:].reset_index(drop=True)
        lat = LatentSizeModel(cfg)
        lat.train(early)
        hist = _History(early, self.prior, cfg.prior_strength)
        x = self._design(late, lat, hist, early[["user_id", "size"]])
        y = late["y"].to_numpy()
        params = {"objective": "multiclass", "num_class": 3, "learning_rate": cfg.learning_rate,
                  "num_leaves": cfg.num_leaves, "min_child_samples": cfg.min_child_samples,
                  "feature_fraction": 0.8, "bagging_fraction": 0.8, "bagging_freq": 1, "lambda_l2": 1.0,
                  "seed": cfg.rng, "num_threads": 1, "verbose": -1, "deterministic": True}
        # Decision weights on the latest part of the slice, from a model that has not seen it.
        k = self._split(late, cfg.threshold_fraction)
        if k >= 20 and len(late) - k >= 20:
            b = lgb.train(params, lgb.Dataset(x.iloc[:k], y[:k]), num_boost_round=cfg.n_trees)
            self.weights = best_weights(np.asarray(b.predict(x.iloc[k:].to_numpy())), y[k:])
        self.booster = lgb.train(params, lgb.Dataset(x, y), num_boost_round=cfg.n_trees)

    def _pick_weights_latent(self, df: pd.DataFrame) -> None:
        assert self.latent is not None
        tail = df.iloc[self._split(df, self.config.val_fraction):]
        self.weights = best_weights(self.latent.predict_proba(tail), tail["y"].to_numpy())

    # -- scoring
    def _check(self) -> LatentSizeModel:
        if self.latent is None:
            raise NotTrained("the size model is not trained; run `fitloop size predict` or call train(rentals) first")
        return self.latent

    def predict_proba(self, data: pd.DataFrame) -> pd.DataFrame:
        """``p_small, p_fit, p_large`` for every row, in order; rows sum to 1."""
        lat = self._check()
        df = data if "y" in data.columns else prepare_rentals(data)
        if len(df) == 0:
            return pd.DataFrame(columns=["p_small", "p_fit", "p_large"], dtype=float)
        df = df.copy()
        # A missing size is scored at the shopper's estimated true size (the size we would advise).
        miss = df["size"].isna().to_numpy()
        if miss.any():
            guess = lat.true_size(df.loc[miss])
            df.loc[miss, "size"] = np.where(np.isfinite(guess), np.round(guess), lat.default_size)
        if self.booster is None:
            p = lat.predict_proba(df)
        else:
            x = self._design(df, lat, self.history, self.seen_sizes)
            p = np.asarray(self.booster.predict(x.to_numpy()))
        p = np.clip(np.nan_to_num(p, nan=1 / 3), 1e-9, None)
        p = p / p.sum(axis=1, keepdims=True)
        return pd.DataFrame(p, columns=["p_small", "p_fit", "p_large"])

    def predict(self, data: pd.DataFrame) -> np.ndarray:
        """Labels (small/fit/large) using the decision weights picked for macro-F1."""
        p = self.predict_proba(data).to_numpy()
        return np.array(FIT_CLASSES)[np.argmax(p * self.weights, axis=1)]

    def recommend_size(self, user_id: str, item_id: str, sizes: Sequence[int | float], *,
                       category: str = "", body: dict[str, Any] | None = None) -> tuple[int | float, dict[Any, dict[str, float]]]:
        """The size with the highest ``p_fit`` for this shopper and item, and the probabilities per size.

        ``body`` gives measurements (``height_in``, ``weight_lbs``, ``bust_size_num``,
        ``bust_size_letter``, ``age``, ``body_type``) for shoppers the model has not seen.
        """
        if not sizes:
            raise InvalidInput("recommend_size needs at least one candidate size")
        rows = [{"user_id": user_id, "item_id": item_id, "size": s, "category": category, **(body or {})} for s in sizes]
        p = self.predict_proba(prepare_rentals(pd.DataFrame(rows))).to_numpy()
        probs = {s: dict(zip(("small", "fit", "large"), map(float, p[k]), strict=True)) for k, s in enumerate(sizes)}
        best = max(range(len(sizes)), key=lambda k: (p[k, 1], -abs(p[k, 0] - p[k, 2])))
        return sizes[best], probs

    # -- bundle
    def save(self, folder: str | Path) -> Path:
        """Write ``model.json``, ``arrays.npz`` and (with stage 2) ``stage2.lgb.txt`` into ``folder``."""
        lat = self._check()
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        arrays = lat.to_arrays("lat_")
        h = self.history
        arrays.update({
            "hist_user_ids": h.user.index.to_numpy(dtype=str), "hist_user": h.user.to_numpy(float),
            "hist_item_ids": h.item.index.to_numpy(dtype=str), "hist_item": h.item.to_numpy(float),
            "hist_us_user": h.user_size.index.get_level_values(0).to_numpy(dtype=str),
            "hist_us_size": h.user_size.index.get_level_values(1).to_numpy(float),
            "hist_us": h.user_size.to_numpy(float),
            "hist_med_ids": h.user_median.index.to_numpy(dtype=str), "hist_med": h.user_median.to_numpy(float),
            "seen_user": self.seen_sizes["user_id"].to_numpy(dtype=str), "seen_size": self.seen_sizes["size"].to_numpy(float),
            "prior": self.prior, "weights": self.weights,
        })
        np.savez_compressed(folder / "arrays.npz", allow_pickle=False, **arrays)
        if self.booster is not None:
            self.booster.save_model(str(folder / "stage2.lgb.txt"))
        doc = {"kind": "fitloop.size_fit", "version": BUNDLE_VERSION, "config": asdict(self.config),
               "vocab": self.vocab, "meta": self.meta, "stage2": self.booster is not None,
               "features": list(self.FEATURES)}
        (folder / "model.json").write_text(json.dumps(doc, indent=2))
        return folder

    @classmethod
    def load(cls, folder: str | Path) -> SizeFitModel:
        """Read a bundle written by :meth:`save`; raises :class:`ModelBundleError` when it is not one."""
        folder = Path(folder)
        try:
            doc = json.loads((folder / "model.json").read_text())
            if doc.get("kind") != "fitloop.size_fit" or doc.get("version") != BUNDLE_VERSION:
                raise ModelBundleError(f"{folder} is not a fitloop size-fit bundle of version {BUNDLE_VERSION}")
            known = {f.name for f in fields(SizeFitConfig)}
            m = cls(SizeFitConfig(**{k: v for k, v in doc["config"].items() if k in known}))
            with np.load(folder / "arrays.npz", allow_pickle=False) as a:
                m.latent = LatentSizeModel.from_arrays(a, "lat_", m.config)
                m.prior, m.weights = a["prior"], a["weights"]
                cols = list(FIT_CLASSES)
                m.history = _History.from_frames(
                    pd.DataFrame(a["hist_user"], index=pd.Index(a["hist_user_ids"].astype(object)), columns=cols),
                    pd.DataFrame(a["hist_item"], index=pd.Index(a["hist_item_ids"].astype(object)), columns=cols),
                    pd.DataFrame(a["hist_us"], columns=cols, index=pd.MultiIndex.from_arrays(
                        [a["hist_us_user"].astype(object), a["hist_us_size"]])),
                    pd.Series(a["hist_med"], index=pd.Index(a["hist_med_ids"].astype(object))),
                    m.prior, m.config.prior_strength,
                )
                m.seen_sizes = pd.DataFrame({"user_id": a["seen_user"].astype(object), "size": a["seen_size"]})
            m.vocab, m.meta = doc["vocab"], doc["meta"]
            if doc["stage2"]:
                import lightgbm as lgb

                m.booster = lgb.Booster(model_file=str(folder / "stage2.lgb.txt"))
        except ModelBundleError:
            raise
        except (OSError, KeyError, ValueError, TypeError) as e:
            raise ModelBundleError(f"cannot read size-fit bundle at {folder}: {e}") from e
        return m


def best_weights(p: np.ndarray, y: np.ndarray, grid: Sequence[float] | None = None) -> np.ndarray:
    """Class weights ``(w_small, 1, w_large)`` for ``argmax(p * w)`` that maximise macro-F1 on ``(p, y)``."""
    from sklearn.metrics import f1_score

    grid = grid or [0.5, 0.75, 1.0, 1.25, 1.5, 1.75, 2.0, 2.5, 3.0, 3.5, 4.0, 5.0, 6.0]
    best, best_w = -1.0, np.ones(3)
    for ws in grid:
        for wl in grid:
            w = np.array([ws, 1.0, wl])
            f = f1_score(y, np.argmax(p * w, axis=1), labels=[0, 1, 2], average="macro", zero_division=0)
            if f > best + 1e-12:
                best, best_w = f, w
    return best_w


def synthetic_rentals(n_users: int = 500, n_items: int = 60, n_rentals: int = 5000, seed: int = 0,
                      start: str = "2015-01-01", days: int = 365) -> pd.DataFrame:
    """Rentals where the truth is known: shoppers have a true size tied to weight, items run large or
    small, and the label follows the gap (ordering under the true size -> *small*).

    >>> df = synthetic_rentals(n_rentals=100)
    >>> sorted(df["fit"].unique()) == sorted(FIT_CLASSES)
    True
    """
    rng = np.random.default_rng(seed)
    true = rng.normal(12, 4, n_users)
    weight = 100 + 6 * true + rng.normal(0, 4, n_users)
    bias = rng.normal(0, 1.0, n_items)
    u = rng.integers(0, n_users, n_rentals)
    i = rng.integers(0, n_items, n_rentals)
    size = np.clip(np.round(true[u] + rng.normal(0, 2.0, n_rentals)), 0, 40)
    gap = size + bias[i] - true[u]
    fit = np.where(gap < -1.2, "small", np.where(gap > 1.2, "large", "fit"))
    dates = pd.Timestamp(start) + pd.to_timedelta(rng.integers(0, days, n_rentals), unit="D")
    return pd.DataFrame({
        "fit": fit, "user_id": [f"u{k}" for k in u], "item_id": [f"i{k}" for k in i], "size": size.astype(int),
        "category": np.where(i % 2 == 0, "dress", "gown"), "weight_lbs": weight[u], "height_in": 66.0,
        "bust_size_num": 34.0, "bust_size_letter": "c", "age": 30.0, "body_type": "hourglass",
        "rented_for": "party", "review_date": dates.strftime("%Y-%m-%d"),
    })
