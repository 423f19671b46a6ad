"""Side-by-side evaluation of the size & fit model and its baselines on a time-based split.

Train on reviews before ``cut``, test on reviews from ``cut`` on. Every method gives probabilities
of small/fit/large; its labels come from decision weights picked on the latest slice of the
*training* reviews (to maximise macro-F1; the test data never tunes anything). Metrics: macro-F1,
per-class F1, AUC of small-vs-rest and large-vs-rest, and multiclass log loss.

Methods:

- ``majority``: always *fit* (probabilities = training class shares, so AUC is 0.5).
- ``user_size``: per-user-size baseline: the shopper's past fit feedback at this size, else at the
  nearest size they rented; population shares for shoppers without history.
- ``latent``: the latent "true size" ordinal model alone (Sembium et al. 2017 / Misra et al. 2018).
- ``latent+gbm``: the latent model stacked with a LightGBM classifier (:class:`SizeFitModel`).

>>> from fitloop.profile.size_fit import synthetic_rentals
>>> rep = evaluate_size_fit(synthetic_rentals(n_rentals=3000), cut="2015-10-01",
...                         config=SizeFitConfig(n_trees=30))
>>> [r["method"] for r in rep["rows"]]
['majority', 'user_size', 'latent', 'latent+gbm']
"""

from __future__ import annotations

import time
from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import f1_score, log_loss, roc_auc_score

from fitloop.errors import InvalidInput
from fitloop.profile.size_fit import FIT_CLASSES, SizeFitConfig, SizeFitModel, best_weights, prepare_rentals

__all__ = ["UserSizeBaseline", "evaluate_size_fit", "metrics", "format_report"]


class UserSizeBaseline:
    """The shopper's past fit shares at the same size (else the nearest size they rented), smoothed."""

    def __init__(self, prior_strength: float = 1.0) -> None:
        self.prior_strength = prior_strength

    def train(self, data: pd.DataFrame) -> None:
        df = data[data["y"] >= 0]
        self.prior = np.bincount(df["y"], minlength=3) / max(len(df), 1)
        onehot = pd.DataFrame(np.eye(3)[df["y"].to_numpy()], columns=list(FIT_CLASSES))
        onehot["user_id"], onehot["size"] = df["user_id"].to_numpy(), df["size"].to_numpy()
        self.table = onehot.groupby(["user_id", "size"])[list(FIT_CLASSES)].sum()
        self.by_user: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        for uid, g in self.table.groupby(level=0):
            self.by_user[str(uid)] = (g.index.get_level_values(1).to_numpy(float), g.to_numpy(float))

    def predict_proba(self, data: pd.DataFrame) -> np.ndarray:
        out = np.tile(self.prior, (len(data), 1))
        for k, (u, s) in enumerate(zip(data["user_id"].to_numpy(), data["size"].to_numpy(float), strict=True)):
            hit = self.by_user.get(u)
            if hit is None:
                continue
            sizes, counts = hit
            d = np.abs(sizes - s) if np.isfinite(s) else np.zeros_like(sizes)
            c = counts[d == d.min()].sum(axis=0)
            out[k] = (c + self.prior_strength * self.prior) / (c.sum() + self.prior_strength)
        return out


def metrics(y: np.ndarray, p: np.ndarray, labels: np.ndarray) -> dict[str, float]:
    """macro-F1, per-class F1, AUC small-vs-rest and large-vs-rest, log loss."""
    f1 = f1_score(y, labels, labels=[0, 1, 2], average=None, zero_division=0)
    out = {"macro_f1": float(np.mean(f1)), "f1_small": float(f1[0]), "f1_fit": float(f1[1]), "f1_large": float(f1[2])}
    for k, name in ((0, "auc_small"), (2, "auc_large")):
        yk = (y == k).astype(int)
        out[name] = float(roc_auc_score(yk, p[:, k])) if 0 < yk.sum() < len(yk) else float("nan")
    out["log_loss"] = float(log_loss(y, np.clip(p, 1e-9, 1), labels=[0, 1, 2]))
    return out


def _tail_split(df: pd.DataFrame, frac: float) -> tuple[pd.DataFrame, pd.DataFrame]:
    cut = int(round(len(df) * (1 - frac)))
    return df.iloc[:cut].reset_index(drop=True), df.iloc[cut:].reset_index(drop=True)


def evaluate_size_fit(rentals: pd.DataFrame, cut: str, config: SizeFitConfig | None = None,
                      methods: tuple[str, ...] = ("majority", "user_size", "latent", "latent+gbm")) -> dict[str, Any]:
    """Train every method on reviews before ``cut`` (YYYY-MM-DD) and score the reviews from ``cut`` on."""
    cfg = config or SizeFitConfig()
    df = prepare_rentals(rentals, require_fit=True)
    df = df[df["size"].notna() & df["review_date"].notna()].sort_values("review_date", kind="stable")
    cut_ts = pd.Timestamp(cut)
    train = df[df["review_date"] < cut_ts].reset_index(drop=True)
    test = df[df["review_date"] >= cut_ts].reset_index(drop=True)
    if len(train) < 50 or len(test) < 10:
        raise InvalidInput(f"cut {cut} leaves {len(train)} training and {len(test)} test reviews; pick another date")
    y = test["y"].to_numpy()
    rows: list[dict[str, Any]] = []
    seen_users = set(train["user_id"])
    for name in methods:
        t0 = time.perf_counter()
        if name == "majority":
            prior = np.bincount(train["y"], minlength=3) / len(train)
            p = np.tile(prior, (len(test), 1))
            labels = np.ones(len(test), dtype=int)
        elif name == "user_size":
            early, late = _tail_split(train, cfg.val_fraction)
            b = UserSizeBaseline()
            b.train(early)
            w = best_weights(b.predict_proba(late), late["y"].to_numpy())
            b.train(train)
            p = b.predict_proba(test)
            labels = np.argmax(p * w, axis=1)
        elif name in ("latent", "latent+gbm"):
            m = SizeFitModel(cfg if name == "latent+gbm" else replace(cfg, n_trees=0))
            m.train(train)
            p = m.predict_proba(test).to_numpy()
            labels = np.argmax(p * m.weights, axis=1)
        else:
            raise InvalidInput(f"unknown method {name!r}; choose from majority, user_size, latent, latent+gbm")
        row: dict[str, Any] = {"method": name, **metrics(y, p, labels), "seconds": time.perf_counter() - t0}
        known = test["user_id"].isin(seen_users).to_numpy()
        if known.any() and (~known).any():
            row["macro_f1_known_users"] = metrics(y[known], p[known], labels[known])["macro_f1"]
            row["macro_f1_new_users"] = metrics(y[~known], p[~known], labels[~known])["macro_f1"]
        rows.append(row)
    return {
        "cut": cut, "n_train": int(len(train)), "n_test": int(len(test)),
        "test_known_user_share": float(test["user_id"].isin(seen_users).mean()),
        "test_class_shares": (np.bincount(y, minlength=3) / len(y)).tolist(), "rows": rows,
    }


def format_report(rep: dict[str, Any]) -> str:
    """A Markdown table of :func:`evaluate_size_fit`'s result."""
    cols = ["macro_f1", "f1_small", "f1_fit", "f1_large", "auc_small", "auc_large", "log_loss",
            "macro_f1_known_users", "macro_f1_new_users", "seconds"]
    head = (f"train < {rep['cut']}: {rep['n_train']} reviews; test: {rep['n_test']} reviews "
            f"({rep['test_known_user_share'] * 100:.0f} % by shoppers seen in training); test shares small/fit/large "
            + "/".join(f"{x * 100:.1f} %" for x in rep["test_class_shares"]))
    lines = [head, "", "| method | " + " | ".join(cols) + " |", "|---" * (len(cols) + 1) + "|"]
    for r in rep["rows"]:
        cells = [f"{r[c]:.3f}" if c in r and c != "seconds" else (f"{r[c]:.1f}" if c in r else "") for c in cols]
        lines.append(f"| {r['method']} | " + " | ".join(cells) + " |")
    return "\n".join(lines)
