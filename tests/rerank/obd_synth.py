"""A synthetic log in the Open Bandit format whose click probabilities are known."""

from __future__ import annotations

import numpy as np
import pandas as pd

from fitloop.rerank.offpolicy import ObdLog

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


class ObdLikeWorld:
    """A world shaped like the Open Bandit campaign "all" whose click probabilities are known.

    80 items whose click rates are log-normal around ``base_rate`` (the best few about twice the
    average, as BTS's 0.50 % against random's 0.35 % suggests), a small position effect, a user
    feature that scales everyone's rate, item rates that drift over the week (``drift``), and sparse
    user-item affinities that multiply the rate of that item by ``affinity_lift``. Logs are written by
    the uniform-random policy, like ``random_all.csv``.
    """

    def __init__(
        self, *, n_items: int = 80, len_list: int = 3, base_rate: float = 0.0035, spread: float = 0.5,
        drift: float = 0.3, affinity_rate: float = 0.003, affinity_lift: float = 3.0, seed: int = 0,
    ) -> None:
        rng = np.random.default_rng(seed)
        self.n_items, self.len_list = n_items, len_list
        self.base = base_rate * np.exp(spread * rng.standard_normal(n_items) - spread**2 / 2)
        self.drift = drift * rng.standard_normal(n_items)
        self.pos = np.array([1.1, 1.0, 0.9])[:len_list]
        self.user_mult = np.array([1.2, 0.8, 1.0])
        self.affinity_rate, self.affinity_lift = affinity_rate, affinity_lift

    def ctr(self, t: np.ndarray, user: np.ndarray, affinity: np.ndarray) -> np.ndarray:
        """``ctr[i, a, k]`` for rounds at week fraction ``t`` (0..1) with user type and affinity rows."""
        item = self.base[None, :] * np.exp(self.drift[None, :] * (t[:, None] - 0.5))
        item = item * self.user_mult[user][:, None] * np.where(affinity > 0, self.affinity_lift, 1.0)
        return np.clip(item[:, :, None] * self.pos[None, None, :], 0.0, 1.0)

    def log(self, n: int, *, seed: int) -> ObdLog:
        """``n`` uniformly-random rounds spread over the week, in time order."""
        rng = np.random.default_rng(seed)
        t = np.sort(rng.random(n))
        user = rng.integers(0, 3, n)
        affinity = (rng.random((n, self.n_items)) < self.affinity_rate).astype(float)
        action = rng.integers(0, self.n_items, n)
        position = rng.integers(0, self.len_list, n)
        p = self.ctr(t, user, affinity)[np.arange(n), action, position]
        return ObdLog(
            action=action, position=position, reward=(rng.random(n) < p).astype(float),
            pscore=np.full(n, 1.0 / self.n_items),
            timestamp=(np.datetime64("2019-11-24T00:00:00") + (t * 7 * 86400e6).astype("timedelta64[us]")),
            user_features=np.column_stack([np.array(["u0", "u1", "u2"])[user], np.full(n, "x")]),
            user_feature_names=("user_feature_0", "user_feature_1"), affinity=affinity,
            row_index=np.arange(n),
        )

    def true_value(self, action_dist: np.ndarray, log: ObdLog) -> float:
        """The expected click rate of a policy ``action_dist`` on ``log``'s contexts (positions averaged)."""
        t = (log.timestamp - np.datetime64("2019-11-24T00:00:00")) / np.timedelta64(7 * 86400, "s")
        user = np.searchsorted(np.array(["u0", "u1", "u2"]), log.user_features[:, 0])
        ctr = self.ctr(np.asarray(t, dtype=float), user, log.affinity)
        return float(np.einsum("iak,iak->", action_dist, ctr) / (len(log) * self.len_list))
