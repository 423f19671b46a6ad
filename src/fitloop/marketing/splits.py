"""Live traffic splits for A/B tests of recommendation strategies: sticky assignment and attribution.

- :func:`assign_arm`: each shopper lands in arm ``"A"`` or ``"B"`` by a salted hash of the experiment
  id and the shopper id — deterministic (the same shopper always sees the same arm, in every process,
  without storing anything) and independent between experiments (each has its own salt).
- :func:`attribute_arms`: from the impressions an experiment logged and the event log, per arm: shoppers
  exposed, clicks / cart adds / ordered lines / returned lines on *recommended* items within an
  attribution window after the item was shown, revenue, converted shoppers and revenue per shopper.

The functions are pure (pandas in, numbers out); the services feed them from the stores.

>>> [assign_arm("exp1", u, 0.5, salt="s") for u in ("u1", "u2", "u3", "u4")]
['B', 'B', 'B', 'A']
>>> assign_arm("exp1", "u1", 0.5, salt="s") == assign_arm("exp1", "u1", 0.5, salt="s")
True
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import timedelta

import numpy as np
import pandas as pd

from fitloop.errors import InvalidInput

__all__ = ["ARMS", "ArmStats", "assign_arm", "bucket", "attribute_arms", "look_counts"]

#: Arm names: A is the control, B the treatment (the statistics compare B against A).
ARMS = ("A", "B")

_ATTRIBUTED = ("product_clicked", "cart_added", "order_completed")


def bucket(experiment_id: str, user_id: str, *, salt: str) -> float:
    """A uniform number in ``[0, 1)`` from SHA-256 of salt, experiment and shopper (64 bits used).

    >>> 0.0 <= bucket("e", "u", salt="x") < 1.0
    True
    """
    digest = hashlib.sha256(f"{salt}\x1f{experiment_id}\x1f{user_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2.0**64


def assign_arm(experiment_id: str, user_id: str, share_b: float, *, salt: str) -> str:
    """``"B"`` for a ``share_b`` fraction of shoppers, ``"A"`` for the rest; sticky per shopper."""
    if not 0.0 < share_b < 1.0:
        raise InvalidInput(f"share_b must be strictly between 0 and 1, got {share_b}")
    return "B" if bucket(experiment_id, user_id, salt=salt) < share_b else "A"


@dataclass(frozen=True, slots=True)
class ArmStats:
    """What one arm's shoppers did with the items recommended to them."""

    arm: str
    shoppers: int = 0
    lists: int = 0
    items_shown: int = 0
    clicks: int = 0
    carts: int = 0
    orders: int = 0  # ordered lines of recommended items
    buyers: int = 0  # shoppers with at least one attributed ordered line
    returns: int = 0  # returned lines among those ordered lines
    revenue: float = 0.0
    revenue_per_shopper: np.ndarray = field(default_factory=lambda: np.zeros(0), repr=False, compare=False)

    @property
    def click_rate(self) -> float:
        return self.clicks / self.items_shown if self.items_shown else 0.0

    @property
    def conversion(self) -> float:
        return self.buyers / self.shoppers if self.shoppers else 0.0

    def as_dict(self) -> dict[str, float | int | str]:
        return {"arm": self.arm, "shoppers": self.shoppers, "lists": self.lists, "items_shown": self.items_shown,
                "clicks": self.clicks, "carts": self.carts, "orders": self.orders, "buyers": self.buyers,
                "returns": self.returns, "revenue": round(self.revenue, 2), "click_rate": self.click_rate,
                "conversion": self.conversion}


def _naive_utc(s: pd.Series) -> pd.Series:
    ts = pd.to_datetime(s, utc=True)
    return ts.dt.tz_localize(None).astype("datetime64[ns]")


def attribute_arms(shown: pd.DataFrame, events: pd.DataFrame, *, window: timedelta) -> dict[str, ArmStats]:
    """Per-arm outcomes of a live split.

    ``shown``: one row per item shown (``request_id, user_id, arm, item_id, ts``), from the impression log.
    ``events``: the event log's frame (``user_id, item_id, ts, kind, value`` (quantity), ``price``).

    A click, cart add or ordered line counts for an arm when the same shopper was shown that item in that
    arm at most ``window`` before it. A return counts when it comes after an attributed order of the same
    item by the same shopper (returns arrive late, so no window), at most as many as were ordered. A shopper
    who somehow appears in both arms (an allocation changed mid-test) counts in the arm of their first list.

    >>> t = pd.Timestamp("2026-03-01T10:00", tz="UTC")
    >>> shown = pd.DataFrame({"request_id": ["r1", "r2"], "user_id": ["u1", "u2"], "arm": ["A", "B"],
    ...                       "item_id": ["i1", "i1"], "ts": [t, t]})
    >>> ev = pd.DataFrame({"user_id": ["u1", "u2", "u2"], "item_id": ["i1", "i1", "i9"],
    ...                    "ts": [t + pd.Timedelta(hours=1)] * 3, "kind": ["order_completed"] * 3,
    ...                    "value": [1.0, 2.0, 1.0], "price": [10.0, 10.0, 99.0]})
    >>> r = attribute_arms(shown, ev, window=timedelta(days=1))
    >>> r["A"].orders, r["A"].revenue, r["B"].orders, r["B"].revenue, r["B"].buyers
    (1, 10.0, 1, 20.0, 1)
    """
    if window <= timedelta(0):
        raise InvalidInput("the attribution window must be positive")
    out: dict[str, ArmStats] = {a: ArmStats(a) for a in ARMS}
    if shown.empty:
        return out
    sh = shown[["request_id", "user_id", "arm", "item_id", "ts"]].copy()
    sh["ts"] = _naive_utc(sh["ts"])
    sh = sh.sort_values("ts", kind="stable")
    # One arm per shopper: the arm of their first list.
    arm_of = sh.drop_duplicates("user_id").set_index("user_id")["arm"]
    sh = sh[sh["arm"].to_numpy() == arm_of.reindex(sh["user_id"]).to_numpy()]
    ev = events[events["kind"].isin((*_ATTRIBUTED, "product_returned"))].copy() if len(events) else events.copy()
    ev = ev[ev["user_id"].isin(arm_of.index)] if len(ev) else ev
    attributed = pd.DataFrame(columns=["user_id", "item_id", "ts", "kind", "value", "price", "arm"])
    if len(ev):
        ev["ts"] = _naive_utc(ev["ts"])
        ev = ev.sort_values("ts", kind="stable").reset_index(drop=True)
        main = ev[ev["kind"].isin(_ATTRIBUTED)]
        if len(main):
            # The latest showing of the same item to the same shopper at or before the event, within the window.
            m = pd.merge_asof(main, sh[["user_id", "item_id", "ts", "arm"]].rename(columns={"ts": "shown_at"}),
                              left_on="ts", right_on="shown_at", by=["user_id", "item_id"], direction="backward",
                              tolerance=pd.Timedelta(window))
            attributed = m[m["arm"].notna()]
    per_user_rev = pd.Series(dtype=float)
    orders = attributed[attributed["kind"] == "order_completed"]
    if len(orders):
        orders = orders.assign(line_revenue=orders["price"].fillna(0.0) * orders["value"].fillna(1.0))
        per_user_rev = orders.groupby("user_id")["line_revenue"].sum()
    returns_by_arm: dict[str, int] = {}
    if len(ev) and len(orders):
        rets = ev[ev["kind"] == "product_returned"]
        if len(rets):
            first_order = orders.groupby(["user_id", "item_id"]).agg(first=("ts", "min"), lines=("ts", "size"),
                                                                     arm=("arm", "first"))
            r = rets.merge(first_order.reset_index(), on=["user_id", "item_id"], how="inner")
            r = r[r["ts"] >= r["first"]]
            if len(r):
                per_pair = r.groupby(["user_id", "item_id"]).agg(n=("ts", "size"), lines=("lines", "first"),
                                                                arm=("arm", "first"))
                per_pair["n"] = np.minimum(per_pair["n"], per_pair["lines"])
                returns_by_arm = {str(k): int(v) for k, v in per_pair.groupby("arm")["n"].sum().items()}
    for arm in ARMS:
        users = arm_of.index[arm_of.to_numpy() == arm]
        s = sh[sh["arm"] == arm]
        a = attributed[attributed["arm"] == arm]
        o = orders[orders["arm"] == arm] if len(orders) else orders
        rev = per_user_rev.reindex(users, fill_value=0.0).to_numpy(dtype=float)
        out[arm] = ArmStats(
            arm=arm, shoppers=len(users), lists=int(s["request_id"].nunique()), items_shown=len(s),
            clicks=int((a["kind"] == "product_clicked").sum()), carts=int((a["kind"] == "cart_added").sum()),
            orders=len(o), buyers=int(o["user_id"].nunique()) if len(o) else 0,
            returns=returns_by_arm.get(arm, 0), revenue=float(rev.sum()), revenue_per_shopper=rev)
    return out


def look_counts(stats: dict[str, ArmStats]) -> dict[str, int]:
    """The cumulative counts of one experiment look (``n_a, x_a, orders_a, returns_a`` and the same for B)."""
    out: dict[str, int] = {}
    for arm in ARMS:
        s = stats[arm]
        k = arm.lower()
        out |= {f"n_{k}": s.shoppers, f"x_{k}": s.buyers, f"orders_{k}": s.orders, f"returns_{k}": s.returns}
    return out
