"""A synthetic log in the Open Bandit format whose click probabilities are known."""

from __future__ import annotations

import numpy as np
import pandas as pd

USER_TYPES = ("aaaa", "bbbb")


def true_ctr(n_items: int, len_list: int = 3) -> np.ndarray:
    """``ctr[user_type, item, position]``: item 1 wins for user type 0, item 2 for type 1."""
    ctr = np.full((2, n_items, len_list), 0.02)
    ctr[:, 0, :] = 0.10  # a decent item for everyone
    ctr[0, 1, :] = 0.30
    ctr[1, 2, :] = 0.30
    ctr *= np.array([1.0, 0.8, 0.6])[:len_list]  # lower positions get fewer clicks
    return ctr


def synthetic_obd_log(
    n: int, n_items: int = 10, len_list: int = 3, seed: int = 0, pscore: np.ndarray | None = None
) -> pd.DataFrame:
    """Uniform-random logging (or ``pscore[item, position]`` when given), OBD column names, 1-based positions."""
    rng = np.random.default_rng(seed)
    user = rng.integers(0, 2, n)
    position = rng.integers(0, len_list, n)
    if pscore is None:
        item = rng.integers(0, n_items, n)
        ps = np.full(n, 1.0 / n_items)
    else:
        item = np.array([rng.choice(n_items, p=pscore[:, k]) for k in position])
        ps = pscore[item, position]
    ctr = true_ctr(n_items, len_list)
    click = (rng.random(n) < ctr[user, item, position]).astype(int)
    df = pd.DataFrame(
        {
            "timestamp": pd.Timestamp("2024-01-01", tz="UTC") + pd.to_timedelta(np.arange(n), unit="s"),
            "item_id": item,
            "position": position + 1,
            "click": click,
            "propensity_score": ps,
            "user_feature_0": [USER_TYPES[u] for u in user],
            "user_feature_1": "x",
            "user_feature_2": np.where(rng.random(n) < 0.5, "p", "q"),
            "user_feature_3": "z",
        }
    )
    for a in range(n_items):
        df[f"user-item_affinity_{a}"] = 0.0
    return df


def synthetic_item_context(n_items: int = 10) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "item_id": np.arange(n_items),
            "item_feature_0": np.linspace(-1, 1, n_items),
            "item_feature_1": [f"c{a % 3}" for a in range(n_items)],
            "item_feature_2": "k",
            "item_feature_3": [f"t{a % 2}" for a in range(n_items)],
        }
    )
