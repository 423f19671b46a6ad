"""Experiments from the console: plan (power and sample size), record looks, read always-valid results,
check the return-rate guardrail, and estimate a new strategy off-policy before it ever serves.

Looks are cumulative counts per arm (A = control, B = treatment). The fixed-horizon z-test is shown
for the latest look, but the decision uses the mSPRT's always-valid p-value over *all* looks, so
looking after every batch does not inflate false positives. A campaign-linked experiment fills its
looks from the event store (recipients = B, holdout = A).

A strategy experiment on **live traffic** splits the shoppers served by ``GET /v1/recommendations``
between two strategies (:mod:`fitloop.services.traffic_split`) and reads its looks from the impression
log and the event log (:func:`fitloop.marketing.splits.attribute_arms`): shoppers exposed per arm, and
their clicks, cart adds, orders, returns and revenue on recommended items within the attribution window.
Ending it (or a failed return-rate guardrail) restores normal serving.
"""

from __future__ import annotations

import re
import uuid
import warnings
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from fitloop.errors import Conflict, FitloopError, InvalidInput, NotFound
from fitloop.evaluate.ope import estimate_all
from fitloop.marketing.experiments import (
    SequentialTest,
    guardrail_return_rate,
    revenue_test,
    sample_size_two_proportions,
    two_proportion_test,
)
from fitloop.marketing.splits import attribute_arms, look_counts
from fitloop.store import Stores
from fitloop.store.protocols import ConsoleDocument

if TYPE_CHECKING:
    from fitloop.services.traffic_split import TrafficSplitService

__all__ = ["ExperimentService", "STRATEGIES", "parse_plan_form", "parse_look_form", "parse_live_form"]

_NAME = re.compile(r"^[\w .,:!&'()/-]{2,120}$")
#: Candidate strategies the off-policy pre-flight can evaluate on logged impressions.
STRATEGIES = {
    "popular": "most ordered items first",
    "newest": "newest arrivals first",
    "cheapest": "lowest price first",
}


def _num(form: dict[str, str], key: str, label: str, lo: float, hi: float, problems: list[str], *,
         integer: bool = False) -> float:
    raw = (form.get(key) or "").strip()
    try:
        v = int(raw) if integer else float(raw)
        if not lo <= v <= hi:
            raise ValueError
        return v
    except ValueError:
        problems.append(f"{label}: a {'whole ' if integer else ''}number between {lo:g} and {hi:g}")
        return lo


def parse_plan_form(form: dict[str, str]) -> tuple[dict[str, Any], list[str]]:
    """Name, hypothesis and the power plan; returns ``(values, problems)``."""
    problems: list[str] = []
    name = (form.get("name") or "").strip()
    if not _NAME.match(name):
        problems.append("name: 2 to 120 letters, digits, spaces or simple punctuation")
    kind = form.get("kind") or "strategy"
    if kind not in ("strategy", "campaign"):
        problems.append("kind: strategy or campaign")
    base = _num(form, "baseline_pct", "baseline conversion %", 0.01, 99, problems)
    lift = _num(form, "mde_pct", "smallest lift worth detecting %", 0.5, 500, problems)
    alpha = _num(form, "alpha", "significance level", 0.001, 0.2, problems)
    power = _num(form, "power", "power", 0.5, 0.99, problems)
    guard = _num(form, "guardrail_pts", "return-rate guardrail (points)", 0, 20, problems)
    values: dict[str, Any] = {"name": name, "kind": kind, "hypothesis": (form.get("hypothesis") or "").strip()[:500],
              "campaign_id": (form.get("campaign_id") or "").strip() or None,
              "baseline": base / 100, "mde": lift / 100, "alpha": alpha, "power": power, "guardrail": guard / 100}
    if not problems:
        p_b = values["baseline"] * (1 + values["mde"])
        if p_b >= 1:
            problems.append("smallest lift worth detecting %: baseline × (1 + lift) must stay below 100 %")
    if kind == "campaign" and not values["campaign_id"]:
        problems.append("campaign: choose the launched campaign this experiment measures")
    return values, problems


def parse_live_form(form: dict[str, str], available: dict[str, str], slots: tuple[str, ...]
                    ) -> tuple[dict[str, Any], list[str]]:
    """The live split of a strategy experiment: both arms' strategies (of ``available``), B's share of
    traffic, the slot (``*`` = all) and the attribution window; returns ``(values, problems)``."""
    problems: list[str] = []
    arm_a, arm_b = form.get("arm_a") or "current", form.get("arm_b") or ""
    for label, v in (("arm A (control)", arm_a), ("arm B (treatment)", arm_b)):
        if v not in available:
            problems.append(f"{label}: choose one of {', '.join(available)}")
    if not problems and arm_a == arm_b:
        problems.append("arm B (treatment): must serve a different strategy from arm A")
    share = _num(form, "share_b_pct", "traffic to B %", 1, 99, problems)
    window = _num(form, "window_h", "attribution window (hours)", 1, 24 * 60, problems)
    slot = form.get("slot") or "*"
    if slot != "*" and slot not in slots:
        problems.append(f"slot: all slots or one of {', '.join(slots)}")
    return {"arms": {"A": arm_a, "B": arm_b}, "share_b": share / 100, "slot": slot, "window_h": window}, problems


def parse_look_form(form: dict[str, str]) -> tuple[dict[str, int], list[str]]:
    """Cumulative counts of one look; returns ``(counts, problems)``."""
    problems: list[str] = []
    c = {k: int(_num(form, k, label, 0, 1e9, problems, integer=True)) for k, label in (
        ("n_a", "A shoppers"), ("x_a", "A conversions"), ("n_b", "B shoppers"), ("x_b", "B conversions"),
        ("orders_a", "A orders"), ("returns_a", "A returns"), ("orders_b", "B orders"), ("returns_b", "B returns"))}
    if not problems:
        if c["n_a"] < 1 or c["n_b"] < 1:
            problems.append("shoppers: each arm needs at least one shopper")
        if c["x_a"] > c["n_a"] or c["x_b"] > c["n_b"]:
            problems.append("conversions: cannot exceed the number of shoppers in that arm")
        if c["returns_a"] > c["orders_a"] or c["returns_b"] > c["orders_b"]:
            problems.append("returns: cannot exceed the orders of that arm")
    return c, problems


class ExperimentService:
    """Experiment documents; ``splits`` (the installation's live traffic split) enables live strategy tests."""

    def __init__(self, stores: Stores, splits: TrafficSplitService | None = None) -> None:
        if stores.documents is None:
            raise InvalidInput("these stores have no console tables; run `fitloop db upgrade`")
        self._stores = stores
        self._docs = stores.documents
        self.splits = splits

    def create(self, values: dict[str, Any], *, by: str, now: datetime | None = None) -> ConsoleDocument:
        now = now or datetime.now(UTC)
        n = sample_size_two_proportions(values["baseline"], values["baseline"] * (1 + values["mde"]),
                                        alpha=values["alpha"], power=values["power"])
        doc = ConsoleDocument(uuid.uuid4().hex[:16], "experiment", values["name"], "running", by, now, now,
                              {**values, "n_per_arm": n, "looks": []})
        self._docs.put(doc)
        return doc

    def get(self, experiment_id: str) -> ConsoleDocument:
        doc = self._docs.get(experiment_id)
        if doc is None or doc.kind != "experiment":
            raise NotFound(f"no experiment {experiment_id!r}")
        return doc

    def list(self) -> list[ConsoleDocument]:
        return list(self._docs.list("experiment"))

    def add_look(self, experiment_id: str, counts: dict[str, int], *, now: datetime | None = None,
                 extra: dict[str, Any] | None = None) -> ConsoleDocument:
        doc = self.get(experiment_id)
        looks = list(doc.data.get("looks", []))
        if looks and (counts["n_a"] < looks[-1]["n_a"] or counts["n_b"] < looks[-1]["n_b"]):
            raise InvalidInput("looks are cumulative: shoppers per arm cannot go down from the previous look")
        now = now or datetime.now(UTC)
        looks.append({**(extra or {}), **counts, "at": now.isoformat()})
        data = {**doc.data, "looks": looks}
        res = self.result(data)
        status = "decided" if res and res["decided"] else "stopped (guardrail)" if res and not res["guardrail_ok"] \
            else "running"
        if status == "running" and (doc.data.get("live") or {}).get("ended_at"):
            status = "ended"  # a live split that was ended: later looks only collect late orders and returns
        new = ConsoleDocument(doc.doc_id, doc.kind, doc.name, status, doc.created_by, doc.created_at, now, data)
        self._docs.put(new)
        return new

    # ------------------------------------------------------------------ live traffic split
    def start_live(self, values: dict[str, Any], live: dict[str, Any], *, by: str,
                   now: datetime | None = None) -> ConsoleDocument:
        """Create a strategy experiment and start splitting live traffic between its two arms."""
        if self.splits is None:
            raise InvalidInput("this server has no live traffic split; measure with looks entered by hand")
        running = self.splits.stored()
        if running is not None and running.live:
            other = self._docs.get(running.experiment_id)
            raise Conflict(f"experiment {other.name if other else running.experiment_id!r} is splitting live traffic; "
                           "end it first (only one live split runs at a time)", code="split_running")
        now = now or datetime.now(UTC)
        salt = uuid.uuid4().hex[:16]
        doc = self.create({**values, "kind": "strategy"}, by=by, now=now)
        data = {**doc.data, "live": {**live, "salt": salt, "started_at": now.isoformat(), "ended_at": None}}
        doc = ConsoleDocument(doc.doc_id, doc.kind, doc.name, "running", by, doc.created_at, now, data)
        self._docs.put(doc)
        self.splits.start(doc.doc_id, doc.name, arms=live["arms"], share_b=live["share_b"], slot=live["slot"],
                          by=by, salt=salt, now=now)
        return doc

    def live_arms(self, doc: ConsoleDocument, *, now: datetime | None = None) -> dict[str, Any]:
        """Per-arm attribution of a live experiment from the impression and event logs (see
        :func:`~fitloop.marketing.splits.attribute_arms`)."""
        live = doc.data.get("live")
        if not live:
            raise InvalidInput("this experiment does not split live traffic")
        started = datetime.fromisoformat(live["started_at"])
        window = timedelta(hours=float(live["window_h"]))
        until = datetime.fromisoformat(live["ended_at"]) + window if live.get("ended_at") else None
        rows = [(imp.request_id, imp.user_id, imp.arm, str(it["item_id"]), imp.ts)
                for imp in self._stores.impressions.scan(experiment_id=doc.doc_id) for it in imp.items]
        shown = pd.DataFrame(rows, columns=["request_id", "user_id", "arm", "item_id", "ts"])
        # Purpose "personalisation": the arms differ in personalisation, and only consenting shoppers take part.
        events = self._stores.events.frame(since=started, until=until, purpose="personalisation",
                                           types=["product_clicked", "cart_added", "order_completed",
                                                  "product_returned"])
        stats = attribute_arms(shown, events, window=window)
        out: dict[str, Any] = {"counts": look_counts(stats), "arms": {a: s.as_dict() for a, s in stats.items()},
                               "at": (now or datetime.now(UTC)).isoformat()}
        a, b = stats["A"].revenue_per_shopper, stats["B"].revenue_per_shopper
        if len(a) >= 2 and len(b) >= 2 and (a.any() or b.any()):
            with warnings.catch_warnings():  # identical revenues (early on, one price) make the t-test say so
                warnings.simplefilter("ignore", RuntimeWarning)
                out["revenue"] = asdict(revenue_test(a, b, alpha=doc.data["alpha"]))
        return out

    def look_from_live(self, experiment_id: str, *, now: datetime | None = None) -> ConsoleDocument:
        """A look read from live traffic; a failed return-rate guardrail ends the split at once."""
        doc = self.get(experiment_id)
        now = now or datetime.now(UTC)
        reading = self.live_arms(doc, now=now)
        counts = reading["counts"]
        if counts["n_a"] < 1 or counts["n_b"] < 1:
            raise InvalidInput("no shopper has been served in both arms yet: let traffic arrive, then read again")
        new = self.add_look(experiment_id, counts, now=now,
                            extra={"source": "live", "arms": reading["arms"], "revenue": reading.get("revenue")})
        if new.status.startswith("stopped") and new.data["live"].get("ended_at") is None:
            new = self.end_live(experiment_id, by="guardrail", now=now, final_look=False)
        return new

    def end_live(self, experiment_id: str, *, by: str, now: datetime | None = None,
                 final_look: bool = True) -> ConsoleDocument:
        """Stop splitting traffic (every process serves normally within a second) and take a last look."""
        doc = self.get(experiment_id)
        live = doc.data.get("live")
        if not live:
            raise InvalidInput("this experiment does not split live traffic")
        if live.get("ended_at"):
            return doc
        now = now or datetime.now(UTC)
        if self.splits is not None:
            self.splits.end(experiment_id, by=by, now=now)
        data = {**doc.data, "live": {**live, "ended_at": now.isoformat(), "ended_by": by}}
        doc = ConsoleDocument(doc.doc_id, doc.kind, doc.name, "ended" if doc.status == "running" else doc.status,
                              doc.created_by, doc.created_at, now, data)
        self._docs.put(doc)
        if final_look:
            try:
                doc = self.look_from_live(experiment_id, now=now)
            except FitloopError:  # no traffic yet, or looks not cumulative after an erasure: ended all the same
                pass
        return doc

    def look_from_campaign(self, experiment_id: str, campaign: ConsoleDocument) -> ConsoleDocument:
        """A look from the event store: conversions, orders and returns of recipients (B) and holdout (A)."""
        since = datetime.fromisoformat(campaign.data["launched_at"])
        ev = self._stores.events.frame(since=since, types=["order_completed", "product_returned"])
        counts: dict[str, int] = {}
        for arm, users in (("a", campaign.data["holdout"]), ("b", campaign.data["recipients"])):
            sub = ev[ev["user_id"].isin(set(users))]
            orders = sub[sub["kind"] == "order_completed"]
            counts[f"n_{arm}"] = len(users)
            counts[f"x_{arm}"] = int(orders["user_id"].nunique())
            counts[f"orders_{arm}"] = len(orders)
            counts[f"returns_{arm}"] = int((sub["kind"] == "product_returned").sum())
        return self.add_look(experiment_id, counts)

    @staticmethod
    def result(data: dict[str, Any]) -> dict[str, Any] | None:
        """The reading of an experiment document's looks (None before the first look)."""
        looks = data.get("looks") or []
        if not looks:
            return None
        seq = SequentialTest(alpha=data["alpha"], tau=max(data["baseline"] * data["mde"], 1e-3))
        for lk in looks:
            seq.update(lk["x_a"], lk["n_a"], lk["x_b"], lk["n_b"])
        last = looks[-1]
        fixed = two_proportion_test(last["x_a"], last["n_a"], last["x_b"], last["n_b"], alpha=data["alpha"])
        g_ok, g_msg = guardrail_return_rate(last["returns_a"], last["orders_a"], last["returns_b"], last["orders_b"],
                                           max_increase=data["guardrail"], alpha=data["alpha"])
        reached = min(last["n_a"], last["n_b"]) >= data["n_per_arm"]
        decided = seq.decided
        if not g_ok:
            verdict = "Stop: B raises the return rate beyond the guardrail."
        elif decided:
            verdict = f"Decided: B {'beats' if fixed.difference > 0 else 'trails'} A (always-valid p = {seq.p_value:.3g})."
        elif reached:
            verdict = "Planned sample reached without a significant difference: no detectable effect of the planned size."
        else:
            verdict = (f"Keep running: {min(last['n_a'], last['n_b']):,} of {data['n_per_arm']:,} shoppers per arm so far; "
                       "the always-valid p-value may be read after every look.")
        return {"fixed": asdict(fixed), "sequential_p": seq.p_value, "decided": decided, "looks": seq.looks,
                "guardrail_ok": g_ok, "guardrail": g_msg, "reached_plan": reached, "verdict": verdict}

    # ------------------------------------------------------------------ off-policy pre-flight
    def logged_rounds(self, *, max_rounds: int = 20_000) -> pd.DataFrame:
        """Logged impressions with propensities (``user_id, item_id, ts, position, propensity, reward``).

        Sources: impression events (the browser SDK, the simulator) and lists served by fitloop.
        Reward: the shopper clicked the item within a day of seeing it.
        """
        rows: list[tuple[str, str, datetime, int, float]] = []
        for e in self._stores.events.scan(types=["impression"]):
            p = e.properties.get("propensity")
            if e.item_id and isinstance(p, int | float) and 0 < float(p) <= 1:
                rows.append((e.user_id, e.item_id, e.ts, int(e.properties.get("position", 0) or 0), float(p)))
        for imp in self._stores.impressions.scan(limit=max_rounds):
            for it in imp.items:
                p = float(it.get("propensity", 1.0))
                if 0 < p < 1:  # a deterministic list (propensity 1) carries no exploration to learn from
                    rows.append((imp.user_id, str(it["item_id"]), imp.ts, int(it.get("position", 0)), p))
        df = pd.DataFrame(rows, columns=["user_id", "item_id", "ts", "position", "propensity"]).tail(max_rounds)
        if df.empty:
            return df.assign(reward=pd.Series(dtype=float))
        df["ts"] = pd.to_datetime(df["ts"], utc=True)
        clicks = self._stores.events.frame(since=df["ts"].min().to_pydatetime(), types=["product_clicked"])
        clicks["ts"] = pd.to_datetime(clicks["ts"], utc=True)
        m = df.reset_index().merge(clicks[["user_id", "item_id", "ts"]], on=["user_id", "item_id"], how="left",
                                   suffixes=("", "_c"))
        hit = (m["ts_c"] >= m["ts"]) & (m["ts_c"] - m["ts"] <= timedelta(days=1))
        df["reward"] = hit.groupby(m["index"]).any().reindex(df.index, fill_value=False).astype(float).to_numpy()
        return df.reset_index(drop=True)

    def preflight(self, strategy: str, *, max_rounds: int = 20_000, n_bootstrap: int = 300) -> dict[str, Any]:
        """IPS/SNIPS estimate of ``strategy``'s click rate on the logged impressions, next to the logged one."""
        if strategy not in STRATEGIES:
            raise InvalidInput(f"strategy: choose one of {', '.join(STRATEGIES)}")
        df = self.logged_rounds(max_rounds=max_rounds)
        if len(df) < 50:
            raise InvalidInput("too few logged impressions with propensities (need 50) for an off-policy estimate; "
                               "serve a randomised slot or load the simulated shop (`fitloop demo`) first")
        actions = sorted(df["item_id"].unique())
        idx = {a: i for i, a in enumerate(actions)}
        n_pos = int(df["position"].max()) + 1
        ranking = _rank(self._stores, strategy, actions)
        # A deterministic policy: position k shows its k-th choice among the logged items.
        dist = np.zeros((len(df), len(actions), n_pos))
        for k in range(n_pos):
            dist[:, idx[ranking[min(k, len(ranking) - 1)]], k] = 1.0
        est = estimate_all(reward=df["reward"].to_numpy(), action=df["item_id"].map(idx).to_numpy(),
                           pscore=df["propensity"].to_numpy(), action_dist=dist, position=df["position"].to_numpy(),
                           n_bootstrap=n_bootstrap)
        logged = float(df["reward"].mean())
        snips = est["snips"]
        return {"strategy": strategy, "description": STRATEGIES[strategy], "rounds": len(df), "actions": len(actions),
                "logged_ctr": logged, "estimates": {k: asdict(v) for k, v in est.items()},
                "summary": f"{STRATEGIES[strategy]}: estimated click rate {snips.value * 100:.2f} % "
                           f"(95 % CI {snips.ci_low * 100:.2f}–{snips.ci_high * 100:.2f} %) vs "
                           f"{logged * 100:.2f} % logged, on {len(df):,} logged impressions"}


def _rank(stores: Stores, strategy: str, actions: list[str]) -> list[str]:
    """The logged items in the order ``strategy`` would show them."""
    if strategy == "popular":
        orders = stores.events.frame(types=["order_completed"])
        counts = orders["item_id"].value_counts()
        return sorted(actions, key=lambda a: (-int(counts.get(a, 0)), a))
    items = stores.catalog.get_items(actions)
    if strategy == "newest":
        def arrived(a: str) -> float:
            at = items[a].created_at if a in items else None
            return at.timestamp() if at is not None else 0.0

        return sorted(actions, key=lambda a: (-arrived(a), a))
    return sorted(actions, key=lambda a: (items[a].price if a in items else 1e12, a))
