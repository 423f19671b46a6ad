"""Uplift targeting for a coupon on the simulated shop, where the truth is known.

Run: ``/work/venv/bin/python benchmarks/uplift_simulated.py [--shoppers 6000] [--events 200000] [--rounds 8] [--seed 0]``

A randomised coupon campaign (20 % off, half the shoppers get it) is simulated on top of a
:class:`~fitloop.evaluate.simulator.SimulatedShop`. The coupon-response model (hidden from the
models, documented in docs/evaluation/uplift.md):

- without a coupon a shopper buys in the campaign week with ``p0 = 0.02 + 0.10 · b`` where ``b`` is
  their hidden buy propensity scaled to 0..1 ("sure things" buy anyway);
- a coupon adds ``tau = 0.20 · s · (1 - b)`` where ``s = sigmoid((median log price of the catalog −
  price_centre) / price_width)``: it persuades price-sensitive shoppers whose favourite price sits
  below what the shop charges, and hardly moves loyal high-propensity ones.

Models see only what a shop observes in the event history before the campaign (mean log price viewed
and bought, orders, events, active days, recency, return share, cart share). Each shopper takes part in
``--rounds`` campaign weeks with fresh random assignment; train/test split is by shopper. Printed:
Qini coefficient and uplift in the top 30 % for the T-learner, the transformed-outcome learner, a
"response" model (targets who is likeliest to buy with the coupon — the usual mistake), random targeting
and the oracle (true ``tau``).
"""

from __future__ import annotations

import argparse
import os
import platform
import time

import lightgbm as lgb
import numpy as np
import pandas as pd

from fitloop.evaluate.simulator import ShopConfig, SimulatedShop
from fitloop.marketing.uplift import UpliftConfig, UpliftModel, qini_coefficient, qini_curve, uplift_at_k


def observed_features(shop: SimulatedShop) -> pd.DataFrame:
    ev = shop.events.to_frame() if hasattr(shop.events, "to_frame") else pd.DataFrame(
        [{"user_id": e.user_id, "item_id": e.item_id, "ts": e.ts, "type": str(e.type), "price": e.price}
         for e in shop.events.to_events()])
    kind = "type" if "type" in ev.columns else "kind"
    price = {it.item_id: it.price for it in shop.items}
    ev = ev[ev["item_id"].notna()].copy()
    ev["logp"] = np.log(ev["item_id"].map(price).astype(float))
    ev["day"] = pd.to_datetime(ev["ts"]).dt.floor("D")
    end = pd.to_datetime(ev["ts"]).max()
    g = ev.groupby("user_id")
    orders = ev[ev[kind].astype(str) == "order_completed"].groupby("user_id")
    f = pd.DataFrame({
        "events": g.size(),
        "days": g["day"].nunique(),
        "mean_logp_seen": g["logp"].mean(),
        "recency_days": (end - pd.to_datetime(g["ts"].max())).dt.total_seconds() / 86400,
        "orders": orders.size(),
        "mean_logp_bought": orders["logp"].mean(),
        "returns": ev[ev[kind].astype(str) == "product_returned"].groupby("user_id").size(),
        "carts": ev[ev[kind].astype(str) == "cart_added"].groupby("user_id").size(),
    })
    f = f.reindex([u.user_id for u in shop.shoppers])
    f[["events", "days", "orders", "returns", "carts"]] = f[["events", "days", "orders", "returns", "carts"]].fillna(0)
    f["mean_logp_seen"] = f["mean_logp_seen"].fillna(f["mean_logp_seen"].median())
    f["mean_logp_bought"] = f["mean_logp_bought"].fillna(f["mean_logp_seen"])
    f["recency_days"] = f["recency_days"].fillna(f["recency_days"].max())
    f["return_share"] = f["returns"] / f["orders"].clip(lower=1)
    f["cart_share"] = f["carts"] / f["events"].clip(lower=1)
    return f


def coupon_truth(shop: SimulatedShop) -> tuple[np.ndarray, np.ndarray]:
    t = shop.hidden_tastes
    b = (t.buy_propensity - t.buy_propensity.min()) / max(np.ptp(t.buy_propensity), 1e-9)
    med = float(np.median(np.log([it.price for it in shop.items])))
    s = 1.0 / (1.0 + np.exp(-(med - t.price_centre) / np.maximum(t.price_width, 1e-3)))
    p0 = 0.02 + 0.10 * b
    tau = 0.20 * s * (1.0 - b)
    return p0, tau


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--shoppers", type=int, default=6000)
    ap.add_argument("--items", type=int, default=800)
    ap.add_argument("--events", type=int, default=200_000)
    ap.add_argument("--rounds", type=int, default=8)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    t0 = time.perf_counter()
    shop = SimulatedShop.generate(ShopConfig(n_items=a.items, n_shoppers=a.shoppers, n_events=a.events, n_days=60,
                                             seed=a.seed))
    feats = observed_features(shop)
    p0, tau = coupon_truth(shop)
    rng = np.random.default_rng(a.seed + 1)
    n = len(feats)
    X = np.tile(feats.to_numpy(dtype=float), (a.rounds, 1))
    user = np.tile(np.arange(n), a.rounds)
    T = rng.random(len(X)) < 0.5
    Y = (rng.random(len(X)) < p0[user] + T * tau[user]).astype(int)
    test_users = rng.random(n) < 0.4
    te = test_users[user]
    tr = ~te
    rows: list[tuple[str, np.ndarray]] = []
    # Strong regularisation: the outcome is a rare binary event and the uplift a few points.
    for name, cfg in (("T-learner (LightGBM)", UpliftConfig("t_learner", 60, 0.05, 4, 400)),
                      ("transformed outcome (LightGBM)", UpliftConfig("transformed", 60, 0.05, 4, 800))):
        m = UpliftModel(cfg)
        m.train(X[tr], T[tr], Y[tr])
        rows.append((name, m.score(X[te])))
    resp = lgb.LGBMClassifier(n_estimators=60, learning_rate=0.05, num_leaves=4, min_child_samples=400,
                              random_state=0, verbose=-1, n_jobs=1).fit(X[tr & T], Y[tr & T])
    rows.append(("response model (buy | coupon)", np.asarray(resp.predict_proba(X[te]))[:, 1]))
    rows.append(("random targeting", rng.random(int(te.sum()))))
    rows.append(("oracle (true uplift)", tau[user[te]]))
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, python "
          f"{platform.python_version()}")
    print(f"simulated shop: {n:,} shoppers, {len(shop.items):,} items, {len(shop.events):,} events; "
          f"{a.rounds} campaign weeks each → {len(X):,} rows, test {int(te.sum()):,} (by shopper)")
    print(f"coupon: mean true uplift {tau.mean() * 100:.2f} points; conversion without {p0.mean() * 100:.2f} %")
    print()
    print(f"{'targeting':34s} {'Qini coef.':>11s} {'observed uplift':>16s} {'true uplift':>12s} {'corr. with':>11s}")
    print(f"{'':34s} {'(observed)':>11s} {'in top 30 %':>16s} {'in top 30 %':>12s} {'true uplift':>11s}")
    k = int(te.sum() * 0.3)
    for name, score in rows:
        q = qini_coefficient(score, T[te], Y[te])
        u = uplift_at_k(score, T[te], Y[te], 0.3)
        true_top = float(tau[user[te]][np.argsort(-score, kind="stable")[:k]].mean())
        corr = float(np.corrcoef(score, tau[user[te]])[0, 1]) if np.std(score) > 0 else 0.0
        print(f"{name:34s} {q:11.4f} {u * 100:15.2f}% {true_top * 100:11.2f}% {corr:11.2f}")
    fractions, gains = qini_curve(rows[0][1], T[te], Y[te], n_points=10)
    print()
    print("Qini curve of the T-learner (share targeted → extra buyers):",
          ", ".join(f"{xi:.0%}: {qi:+.0f}" for xi, qi in zip(fractions, gains, strict=True)))
    print(f"\n{time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()
