"""Coupon targeting in the console: learn from a randomised coupon trial who buys only with the coupon,
show how well that works on held-out shoppers, and export the consenting shoppers worth a coupon.

Trials come from two places:

- **the shop's own past campaign**: a launched console campaign with a holdout is a randomised trial
  (recipients got the message with the coupon, the holdout nothing); a shopper "bought" when they ordered
  within ``window_days`` after the launch. Features are their history before the launch.
- **the simulated shop** (``fitloop demo``, the test shop): :func:`record_simulated_trial` runs the documented
  coupon-response model (:mod:`fitloop.evaluate.coupon_trial`) and stores the trial *with the hidden truth*,
  so the console can show the true uplift of those the model targets next to the oracle's.

The consent rule of campaigns applies: only shoppers with consent for the channel's purpose are scored
(profiling for an offer needs that consent) and exported, by their pseudonymous ids.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd

from fitloop.errors import InvalidInput, NotFound
from fitloop.evaluate.coupon_trial import simulate_coupon_trial
from fitloop.evaluate.simulator import SimulatedShop
from fitloop.marketing.campaigns import CHANNEL_PURPOSE
from fitloop.marketing.coupons import (
    CouponTrial,
    TargetingEvaluation,
    evaluate_targeting,
    shopper_features,
    targets_csv,
)
from fitloop.marketing.uplift import UpliftModel
from fitloop.store import Stores
from fitloop.store.protocols import ConsoleDocument

__all__ = ["CouponTargetingService", "TargetingResult", "record_simulated_trial", "parse_targeting_form", "TRIAL_KIND",
           "ALL_SHOPPERS"]

TRIAL_KIND = "coupon_trial"
ALL_SHOPPERS = "*"
MAX_AUDIENCE = 200_000
CAMPAIGN_WINDOW_DAYS = 14


def record_simulated_trial(stores: Stores, shop: SimulatedShop, *, rounds: int = 8, seed: int = 0,
                           pseudonymise: Callable[[str], str] | None = None,
                           now: datetime | None = None) -> ConsoleDocument:
    """Run the simulated coupon campaign on ``shop`` (already loaded into ``stores``) and keep it as a trial.

    ``pseudonymise``: the mapping the loader used for the shop's ids, so the trial names stored shoppers.
    """
    if stores.documents is None:
        raise InvalidInput("these stores have no console tables; run `fitloop db upgrade`")
    sim = simulate_coupon_trial(shop, rounds=rounds, seed=seed)
    to_id = pseudonymise or (lambda u: u)
    users = list(dict.fromkeys(sim.user_ids))
    index = {u: i for i, u in enumerate(users)}
    truth: dict[str, tuple[float, float]] = {}
    for u, p0, tau in zip(sim.user_ids, sim.p0, sim.tau, strict=True):
        truth.setdefault(u, (float(p0), float(tau)))
    now = now or datetime.now(UTC)
    data = {"source": "simulated", "start": now.isoformat(), "rounds": rounds, "seed": seed,
            "users": [to_id(u) for u in users], "u": [index[u] for u in sim.user_ids],
            "t": [int(v) for v in sim.treated], "y": [int(v) for v in sim.bought],
            "p0": [round(truth[u][0], 6) for u in users], "tau": [round(truth[u][1], 6) for u in users],
            "note": "simulated 20 %-off coupon, half the shoppers each week; the true uplift is known"}
    doc = ConsoleDocument(f"ctrial-{uuid.uuid4().hex[:9]}", TRIAL_KIND,
                          f"Simulated coupon trial ({rounds} weeks, {len(users):,} shoppers)", "recorded",
                          "simulator", now, now, data)
    stores.documents.put(doc)
    return doc


@dataclass
class TargetingResult:
    """One audience scored: who to send the coupon, and the evaluation behind the recommendation."""

    evaluation: TargetingEvaluation
    audience: int  # shoppers in the segment
    no_consent: int  # … without consent for the channel (neither scored nor exported)
    ranked: list[tuple[str, float]]  # consenting shoppers, highest estimated uplift first
    share: float  # the share targeted (the recommended one unless the marketer chose another)
    channel: str

    @property
    def targets(self) -> list[tuple[str, float]]:
        return self.ranked[: int(round(self.share * len(self.ranked)))]


class CouponTargetingService:
    """Trials, evaluations (cached per trial and economics) and scored audiences for the console."""

    def __init__(self, stores: Stores, *, members_of: Callable[[str], list[str]],
                 has_consent: Callable[[str, str], bool], cache_s: float = 300.0) -> None:
        if stores.documents is None:
            raise InvalidInput("these stores have no console tables; run `fitloop db upgrade`")
        self._stores = stores
        self._docs = stores.documents
        self._members_of = members_of
        self._has_consent = has_consent
        self._cache_s = cache_s
        self._lock = threading.Lock()
        self._cache: dict[tuple[Any, ...], tuple[float, Any]] = {}

    # ------------------------------------------------------------------ trials
    def trials(self) -> list[tuple[str, str]]:
        """``(trial id, label)``: recorded trials, then launched campaigns with a holdout."""
        out = [(d.doc_id, d.name) for d in self._docs.list(TRIAL_KIND)]
        for c in self._docs.list("campaign"):
            if c.status == "launched" and c.data.get("holdout"):
                out.append((f"campaign:{c.doc_id}", f"Campaign “{c.name}”: recipients vs holdout, orders within "
                                                    f"{CAMPAIGN_WINDOW_DAYS} days of the launch"))
        return out

    def trial(self, trial_id: str, *, now: datetime | None = None) -> CouponTrial:
        if trial_id.startswith("campaign:"):
            return self._campaign_trial(trial_id.split(":", 1)[1], now=now)
        doc = self._docs.get(trial_id)
        if doc is None or doc.kind != TRIAL_KIND:
            raise NotFound(f"no coupon trial {trial_id!r}")
        d = doc.data
        users = list(d["users"])
        rows = np.asarray(d["u"], dtype=int)
        return CouponTrial(doc.doc_id, doc.name, str(d.get("source", "simulated")), [users[i] for i in rows],
                           np.asarray(d["t"], dtype=bool), np.asarray(d["y"], dtype=int),
                           start=datetime.fromisoformat(d["start"]),
                           true_p0=np.asarray(d["p0"], dtype=float)[rows] if d.get("p0") else None,
                           true_tau=np.asarray(d["tau"], dtype=float)[rows] if d.get("tau") else None)

    def _campaign_trial(self, campaign_id: str, *, now: datetime | None = None) -> CouponTrial:
        c = self._docs.get(campaign_id)
        if c is None or c.kind != "campaign" or c.status != "launched":
            raise NotFound(f"no launched campaign {campaign_id!r}")
        launched = datetime.fromisoformat(c.data["launched_at"])
        until = launched + timedelta(days=CAMPAIGN_WINDOW_DAYS)
        orders = self._stores.events.frame(since=launched, until=until, types=["order_completed"])
        buyers = set(orders["user_id"])
        treated_ids, holdout = list(c.data["recipients"]), list(c.data["holdout"])
        users = treated_ids + holdout
        return CouponTrial(f"campaign:{campaign_id}", f"Campaign “{c.name}”", "campaign", users,
                           np.array([True] * len(treated_ids) + [False] * len(holdout)),
                           np.array([int(u in buyers) for u in users]), start=launched)

    # ------------------------------------------------------------------ features
    def _prices(self) -> dict[str, float]:
        return {it.item_id: float(it.price) for it in self._stores.catalog.iter_items(batch_size=5000)
                if it.price and it.price > 0}

    def _features(self, users: Sequence[str], until: datetime | None) -> pd.DataFrame:
        # The history usable for personalisation (the same events segments and training use), before ``until``.
        frame = self._stores.events.frame(until=until, purpose="personalisation")
        return shopper_features(frame, self._prices(), users)

    # ------------------------------------------------------------------ evaluation and scoring
    def evaluate(self, trial_id: str, *, discount: float, margin: float) -> tuple[TargetingEvaluation, UpliftModel]:
        """Held-out evaluation and the refitted model; cached for ``cache_s`` per trial and economics."""
        key = ("eval", trial_id, round(discount, 4), round(margin, 4))
        hit: tuple[TargetingEvaluation, UpliftModel] | None = self._cached(key)
        if hit is not None:
            return hit
        trial = self.trial(trial_id)
        trial.check()
        feats = self._features(list(dict.fromkeys(trial.user_ids)), trial.start)
        result = evaluate_targeting(feats, trial, discount=discount, margin=margin)
        self._store(key, result)
        return result

    def target(self, trial_id: str, segment: str, channel: str, *, discount: float, margin: float,
               share: float | None = None) -> TargetingResult:
        """Score the consenting shoppers of ``segment`` (``*``: everyone) for a coupon sent by ``channel``."""
        if channel not in CHANNEL_PURPOSE:
            raise InvalidInput(f"channel: choose one of {', '.join(CHANNEL_PURPOSE)}")
        if share is not None and not 0.0 <= share <= 1.0:
            raise InvalidInput("share to target: a percentage between 0 and 100")
        evaluation, model = self.evaluate(trial_id, discount=discount, margin=margin)
        members = (list(self._stores.users.iter_user_ids()) if segment == ALL_SHOPPERS
                   else self._members_of(segment))
        if len(members) > MAX_AUDIENCE:
            raise InvalidInput(f"the audience has {len(members):,} shoppers; coupon targeting takes at most "
                               f"{MAX_AUDIENCE:,}: choose a segment")
        purpose = CHANNEL_PURPOSE[channel]
        # Consent first: nobody is profiled for an offer they did not agree to receive.
        consenting = [u for u in members if self._has_consent(u, purpose)]
        ranked: list[tuple[str, float]] = []
        if consenting:
            key = ("feats-now", len(consenting), hash(tuple(consenting)))
            feats = self._cached(key)
            if feats is None:
                feats = self._features(consenting, None)
                self._store(key, feats)
            scores = model.score(feats.loc[consenting].to_numpy(dtype=float))
            order = np.argsort(-scores, kind="stable")
            ranked = [(consenting[i], float(scores[i])) for i in order]
        return TargetingResult(evaluation, len(members), len(members) - len(consenting), ranked,
                               evaluation.recommended_share if share is None else share, channel)

    def export(self, result: TargetingResult, *, label: str) -> str:
        """The CSV of the shoppers targeted, consent checked again right now (a withdrawal since counts)."""
        purpose = CHANNEL_PURPOSE[result.channel]
        rows = [(u, s) for u, s in result.targets if self._has_consent(u, purpose)]
        return targets_csv(rows, channel=result.channel, label=label)

    def invalidate(self) -> None:
        with self._lock:
            self._cache.clear()

    def _cached(self, key: tuple[Any, ...]) -> Any:
        with self._lock:
            hit = self._cache.get(key)
            if hit is not None and time.monotonic() - hit[0] < self._cache_s:
                return hit[1]
            return None

    def _store(self, key: tuple[Any, ...], value: Any) -> None:
        with self._lock:
            if len(self._cache) > 32:
                self._cache.clear()
            self._cache[key] = (time.monotonic(), value)


def parse_targeting_form(form: dict[str, str], trial_ids: Sequence[str], segment_ids: Sequence[str]
                         ) -> tuple[dict[str, Any], list[str]]:
    """The coupon-targeting form (trial, audience, channel, coupon %, margin %, optional share %);
    returns ``(values, problems)`` with one problem per bad field."""
    problems: list[str] = []
    trial = form.get("trial") or (trial_ids[0] if trial_ids else "")
    if trial not in trial_ids:
        problems.append("trial: choose one of the listed coupon trials" if trial_ids else
                        "trial: there is no coupon trial yet; launch a coupon campaign with a holdout first")
    segment = form.get("segment") or ALL_SHOPPERS
    if segment != ALL_SHOPPERS and segment not in segment_ids:
        problems.append("audience: all shoppers or one of the listed segments")
    channel = form.get("channel") or "email"
    if channel not in CHANNEL_PURPOSE:
        problems.append(f"channel: choose one of {', '.join(CHANNEL_PURPOSE)}")

    def pct(key: str, label: str, default: str, lo: float, hi: float) -> float:
        raw = (form.get(key) or default).strip()
        try:
            v = float(raw)
            if not lo <= v <= hi:
                raise ValueError
            return v / 100
        except ValueError:
            problems.append(f"{label}: a percentage between {lo:g} and {hi:g}")
            return lo / 100

    discount = pct("discount_pct", "coupon (% off)", "25", 1, 90)
    margin = pct("margin_pct", "gross margin %", "50", 1, 100)
    share = pct("share_pct", "share to target", form.get("share_pct") or "0", 0, 100) \
        if (form.get("share_pct") or "").strip() else None
    return {"trial": trial, "segment": segment, "channel": channel, "discount": discount, "margin": margin,
            "share": share}, problems
