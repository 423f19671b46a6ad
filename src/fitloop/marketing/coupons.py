"""Coupon targeting: who buys *only with* the coupon, how well the model finds them, and how many to target.

Pure logic over a randomised coupon trial (:class:`CouponTrial`: who got the coupon, who bought) and the
shoppers' history before it (:func:`shopper_features`, what any shop observes):

- :func:`evaluate_targeting` splits the trial *by shopper*, trains an :class:`~fitloop.marketing.uplift.UpliftModel`
  (T-learner on LightGBM) on one part and judges it on the held-out part: the Qini curve and coefficient
  against random targeting, the uplift among the top share, and — where the trial is simulated and the
  truth is known — the *true* uplift of those targeted, next to the oracle's.
- Profit by share targeted: a coupon of ``discount`` (share of the order value) sent to the top ``φ``
  earns the margin on the *extra* buyers and costs the discount on *every* buyer who redeems it, sure
  things included: ``profit(φ) ∝ N_φ · [(p₁ − p₀) · margin − p₁ · discount]`` with ``p₁``, ``p₀`` the
  treated and untreated conversion among the top ``φ``. The recommended share maximises it on the
  held-out shoppers (0 % when no share pays for its coupons).

>>> import numpy as np, pandas as pd
>>> rng = np.random.default_rng(0)
>>> users = [f"u{i}" for i in range(3000)]
>>> X = pd.DataFrame({"price_sensitive": rng.random(3000)}, index=users)
>>> ids = users * 4; t = rng.random(len(ids)) < 0.5; tau = 0.3 * (X.loc[ids, "price_sensitive"].to_numpy() > 0.5)
>>> y = (rng.random(len(ids)) < 0.05 + t * tau).astype(int)
>>> trial = CouponTrial("t1", "toy", "simulated", ids, t, y, true_p0=np.full(len(ids), 0.05), true_tau=tau)
>>> ev, model = evaluate_targeting(X, trial, discount=0.2, margin=0.5)
>>> bool(ev.qini_coefficient > ev.random_qini_coefficient), 0.3 <= ev.recommended_share <= 0.7
(True, True)
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
import pandas as pd

from fitloop.errors import InvalidInput
from fitloop.marketing.uplift import UpliftConfig, UpliftModel, qini_coefficient, qini_curve, uplift_at_k

__all__ = ["FEATURES", "CouponTrial", "TargetingEvaluation", "shopper_features", "evaluate_targeting",
           "uplift_model_for", "profit_curve", "targets_csv", "SHARES"]

#: What the model sees of each shopper: their history before the campaign, as any shop observes it.
FEATURES = ("events", "days", "mean_logp_seen", "recency_days", "orders", "mean_logp_bought", "returns", "carts",
            "return_share", "cart_share")
#: Shares of the audience at which targeting is evaluated (0 %, 10 %, …, 100 %).
SHARES = np.round(np.linspace(0.0, 1.0, 11), 2)
MIN_ROWS_PER_GROUP = 30


@dataclass(frozen=True, slots=True)
class CouponTrial:
    """A randomised coupon campaign: one row per shopper and campaign round.

    ``true_p0`` / ``true_tau`` (probability of buying without the coupon, and the coupon's true uplift) are
    known only for a simulated trial.
    """

    trial_id: str
    label: str
    source: str  # "simulated" | "campaign"
    user_ids: Sequence[str]
    treated: np.ndarray
    bought: np.ndarray
    start: datetime | None = None
    true_p0: np.ndarray | None = None
    true_tau: np.ndarray | None = None

    def __post_init__(self) -> None:
        n = len(self.user_ids)
        if not (len(self.treated) == len(self.bought) == n):
            raise InvalidInput("a coupon trial needs one treatment flag and one outcome per row")
        for name, arr in (("true_p0", self.true_p0), ("true_tau", self.true_tau)):
            if arr is not None and len(arr) != n:
                raise InvalidInput(f"{name}: one value per row")

    @property
    def truth_known(self) -> bool:
        return self.true_tau is not None and self.true_p0 is not None

    def check(self) -> None:
        """Refuse a trial too small or one-sided to learn from, with the numbers that fall short."""
        t = np.asarray(self.treated, dtype=bool)
        n_t, n_c = int(t.sum()), int((~t).sum())
        if n_t < MIN_ROWS_PER_GROUP or n_c < MIN_ROWS_PER_GROUP:
            raise InvalidInput(f"the coupon trial {self.label!r} has {n_t} shoppers with and {n_c} without the "
                               f"coupon; uplift needs at least {MIN_ROWS_PER_GROUP} in each group (a larger holdout)")
        if int(np.asarray(self.bought).sum()) < 10:
            raise InvalidInput(f"the coupon trial {self.label!r} has fewer than 10 buyers: too few to learn who "
                               "the coupon persuades; wait for more orders")


def shopper_features(events: pd.DataFrame, price_of: Mapping[str, float], user_ids: Sequence[str]) -> pd.DataFrame:
    """:data:`FEATURES` per shopper (rows in the order of ``user_ids``; shoppers without history get neutral values).

    ``events``: the event log's frame (``user_id, item_id, ts, kind, …``) up to the moment that matters (the
    campaign start for training, now for scoring); ``price_of``: catalog price per item (views carry no price).
    """
    ev = events[events["item_id"].notna()] if len(events) else events
    ev = ev[ev["item_id"].isin(price_of.keys())] if len(ev) else ev
    out = pd.DataFrame(index=pd.Index(list(dict.fromkeys(user_ids)), name="user_id"))
    if len(ev):
        ev = ev.assign(logp=np.log(ev["item_id"].map(price_of).astype(float).clip(lower=0.01)),
                       day=pd.to_datetime(ev["ts"]).dt.floor("D"), ts=pd.to_datetime(ev["ts"]))
        end = ev["ts"].max()
        g = ev.groupby("user_id")
        kind = ev["kind"].astype(str)
        orders = ev[kind == "order_completed"].groupby("user_id")
        f = pd.DataFrame({
            "events": g.size(), "days": g["day"].nunique(), "mean_logp_seen": g["logp"].mean(),
            "recency_days": (end - g["ts"].max()).dt.total_seconds() / 86400,
            "orders": orders.size(), "mean_logp_bought": orders["logp"].mean(),
            "returns": ev[kind == "product_returned"].groupby("user_id").size(),
            "carts": ev[kind == "cart_added"].groupby("user_id").size(),
        })
        out = out.join(f, how="left")
    for col in ("events", "days", "mean_logp_seen", "recency_days", "orders", "mean_logp_bought", "returns", "carts"):
        if col not in out:
            out[col] = np.nan
    counts = ["events", "days", "orders", "returns", "carts"]
    out[counts] = out[counts].fillna(0.0)
    median_price = float(np.median(np.log(np.clip(list(price_of.values()), 0.01, None)))) if price_of else 0.0
    out["mean_logp_seen"] = out["mean_logp_seen"].fillna(out["mean_logp_seen"].median()).fillna(median_price)
    out["mean_logp_bought"] = out["mean_logp_bought"].fillna(out["mean_logp_seen"])
    out["recency_days"] = out["recency_days"].fillna(out["recency_days"].max()).fillna(0.0)
    out["return_share"] = out["returns"] / out["orders"].clip(lower=1)
    out["cart_share"] = out["carts"] / out["events"].clip(lower=1)
    return out[list(FEATURES)].astype(float)


def uplift_model_for(n_rows: int, *, rng: int = 0) -> UpliftModel:
    """A T-learner regularised for a rare outcome and a small effect: few shallow trees and large leaves, the
    leaf size growing with the data (400 rows per leaf at the benchmark's 29,000 training rows)."""
    min_leaf = int(np.clip(n_rows / 2 / 36, 20, 400))
    return UpliftModel(UpliftConfig("t_learner", n_estimators=60, learning_rate=0.05, num_leaves=4,
                                    min_child_samples=min_leaf, rng=rng))


def profit_curve(score: np.ndarray, treated: np.ndarray, bought: np.ndarray, *, discount: float, margin: float,
                 shares: np.ndarray = SHARES) -> np.ndarray:
    """Observed profit per 1,000 shoppers of the audience (in order values) when the top ``share`` by ``score``
    gets the coupon; NaN where the top share holds no treated or no untreated row to compare."""
    order = np.argsort(-np.asarray(score), kind="stable")
    t = np.asarray(treated, dtype=bool)[order]
    y = np.asarray(bought, dtype=float)[order]
    n = len(order)
    out = np.zeros(len(shares))
    for i, share in enumerate(shares):
        k = int(round(share * n))
        if k == 0:
            continue
        tk, yk = t[:k], y[:k]
        if tk.sum() == 0 or (~tk).sum() == 0:
            out[i] = np.nan
            continue
        p1, p0 = yk[tk].mean(), yk[~tk].mean()
        out[i] = 1000.0 * share * ((p1 - p0) * margin - p1 * discount)
    return out


def _true_profit(score: np.ndarray, p0: np.ndarray, tau: np.ndarray, *, discount: float, margin: float,
                 shares: np.ndarray = SHARES) -> np.ndarray:
    order = np.argsort(-np.asarray(score), kind="stable")
    per = (tau * margin - (p0 + tau) * discount)[order]
    cum = np.concatenate([[0.0], np.cumsum(per)])
    n = len(order)
    return np.array([1000.0 * cum[int(round(s * n))] / n for s in shares])


@dataclass
class TargetingEvaluation:
    """How well the model targets, measured on shoppers it never saw (plus the truth, when simulated)."""

    trial_label: str
    truth_known: bool
    n_train: int
    n_test: int
    qini_x: list[float]
    qini_model: list[float]
    qini_random: list[float]
    qini_coefficient: float
    random_qini_coefficient: float
    uplift_top30: float  # observed treated − untreated conversion in the model's top 30 %
    conversion_without: float  # untreated conversion on the held-out rows
    shares: list[float]
    profit: list[float | None]  # observed, per 1,000 shoppers, in order values
    recommended_share: float
    qini_oracle: list[float] | None = None
    uplift_x: list[float] = field(default_factory=list)
    true_uplift_model: list[float] | None = None  # mean true uplift among the top share, by the model's ranking
    true_uplift_oracle: list[float] | None = None
    true_uplift_mean: float | None = None  # … and at random (everyone's mean)
    true_profit: list[float] | None = None  # true profit per 1,000 shoppers by the model's ranking
    best_true_share: float | None = None
    oracle_qini_coefficient: float | None = None


def evaluate_targeting(features: pd.DataFrame, trial: CouponTrial, *, discount: float, margin: float,
                       test_share: float = 0.4, seed: int = 0) -> tuple[TargetingEvaluation, UpliftModel]:
    """Held-out evaluation of uplift targeting on ``trial``, and the model refitted on the whole trial.

    ``features``: :func:`shopper_features` indexed by user id, covering every shopper of the trial.
    """
    if not 0 < discount < 1 or not 0 < margin <= 1:
        raise InvalidInput("coupon and margin: shares of the order value, coupon between 0 and 1, margin up to 1")
    trial.check()
    missing = set(trial.user_ids) - set(features.index)
    if missing:
        raise InvalidInput(f"{len(missing)} shoppers of the trial have no features (erased since?)")
    X = features.loc[list(trial.user_ids)].to_numpy(dtype=float)
    t = np.asarray(trial.treated, dtype=bool)
    y = np.asarray(trial.bought, dtype=int)
    shoppers = np.array(sorted(set(trial.user_ids)))
    rng = np.random.default_rng(seed)
    test_users = set(shoppers[rng.random(len(shoppers)) < test_share])
    te = np.array([u in test_users for u in trial.user_ids])
    tr = ~te
    if t[tr].sum() < MIN_ROWS_PER_GROUP or (~t[tr]).sum() < MIN_ROWS_PER_GROUP or te.sum() < 2 * MIN_ROWS_PER_GROUP:
        raise InvalidInput("the coupon trial is too small to hold shoppers out for an honest evaluation")
    model = uplift_model_for(int(tr.sum()), rng=seed)
    model.train(X[tr], t[tr], y[tr])
    score = model.score(X[te])
    random_score = rng.random(int(te.sum()))
    qx, qm = qini_curve(score, t[te], y[te], n_points=20)
    _, qr = qini_curve(random_score, t[te], y[te], n_points=20)
    profit = profit_curve(score, t[te], y[te], discount=discount, margin=margin)
    finite = np.where(np.isnan(profit), -np.inf, profit)
    best = int(np.argmax(finite))
    recommended = float(SHARES[best]) if finite[best] > 0 else 0.0
    ev = TargetingEvaluation(
        trial_label=trial.label, truth_known=trial.truth_known, n_train=int(tr.sum()), n_test=int(te.sum()),
        qini_x=[float(v) for v in qx], qini_model=[float(v) for v in qm], qini_random=[float(v) for v in qr],
        qini_coefficient=qini_coefficient(score, t[te], y[te]),
        random_qini_coefficient=qini_coefficient(random_score, t[te], y[te]),
        uplift_top30=uplift_at_k(score, t[te], y[te], 0.3), conversion_without=float(y[te][~t[te]].mean()),
        shares=[float(s) for s in SHARES], profit=[None if np.isnan(v) else float(v) for v in profit],
        recommended_share=recommended)
    if trial.true_tau is not None and trial.true_p0 is not None:
        tau, p0 = np.asarray(trial.true_tau)[te], np.asarray(trial.true_p0)[te]
        _, qo = qini_curve(tau, t[te], y[te], n_points=20)
        ev.qini_oracle = [float(v) for v in qo]
        ev.oracle_qini_coefficient = qini_coefficient(tau, t[te], y[te])
        xs = np.linspace(0.05, 1.0, 20)
        by_model, by_oracle = tau[np.argsort(-score, kind="stable")], np.sort(tau)[::-1]
        ev.uplift_x = [float(x) for x in xs]
        ev.true_uplift_model = [float(by_model[: max(1, int(x * len(tau)))].mean()) for x in xs]
        ev.true_uplift_oracle = [float(by_oracle[: max(1, int(x * len(tau)))].mean()) for x in xs]
        ev.true_uplift_mean = float(tau.mean())
        tp = _true_profit(score, p0, tau, discount=discount, margin=margin)
        ev.true_profit = [float(v) for v in tp]
        ev.best_true_share = float(SHARES[int(np.argmax(tp))]) if tp.max() > 0 else 0.0
    final = uplift_model_for(len(y), rng=seed)
    final.train(X, t, y)
    return ev, final


def targets_csv(rows: Sequence[tuple[str, float]], *, channel: str, label: str) -> str:
    """``user_id, channel, coupon_campaign, estimated_uplift_pts, rank`` for the shop's sending tool."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["user_id", "channel", "coupon_campaign", "estimated_uplift_pts", "rank"])
    for rank, (user_id, uplift) in enumerate(rows, start=1):
        w.writerow([user_id, channel, label, f"{uplift * 100:.2f}", rank])
    return buf.getvalue()
