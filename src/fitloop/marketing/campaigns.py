"""Campaigns: a consent-filtered audience, a random holdout, personalised content, attribution.

The pure logic; storage and sending live in services. A recipient is included only when the
shopper has consent for the channel's purpose — the function that decides consent is passed in,
so the rule cannot be skipped.

>>> c = CampaignSpec(name="Spring linen", channel="email", holdout_share=0.5, seed=1)
>>> aud = build_audience(c, ["u1", "u2", "u3", "u4"], has_consent=lambda u, p: u != "u4")
>>> sorted(aud.recipients + aud.holdout), aud.no_consent
(['u1', 'u2', 'u3'], ['u4'])
"""

from __future__ import annotations

import csv
import hashlib
import io
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
import pandas as pd

from fitloop.errors import InvalidInput
from fitloop.marketing.experiments import ComparisonResult, revenue_test, two_proportion_test

__all__ = [
    "CHANNEL_PURPOSE",
    "CampaignSpec",
    "Audience",
    "build_audience",
    "in_holdout",
    "personalise",
    "export_csv",
    "CampaignOutcome",
    "attribute_outcomes",
]

#: The consent purpose a channel needs (see the privacy manifest).
CHANNEL_PURPOSE: dict[str, str] = {"email": "marketing_email", "push": "marketing_push", "in_app": "personalisation"}


@dataclass(frozen=True, slots=True)
class CampaignSpec:
    """What a marketer defines. ``holdout_share`` of the audience receives nothing, to measure the effect."""

    name: str
    channel: str
    holdout_share: float = 0.1
    k_items: int = 4
    seed: int = 0
    scheduled_at: datetime | None = None
    message: str = ""

    def __post_init__(self) -> None:
        if not self.name.strip():
            raise InvalidInput("a campaign needs a name")
        if self.channel not in CHANNEL_PURPOSE:
            raise InvalidInput(f"channel must be one of {', '.join(CHANNEL_PURPOSE)}; got {self.channel!r}")
        if not 0.0 <= self.holdout_share < 1.0:
            raise InvalidInput("holdout_share must be at least 0 and below 1 (e.g. 0.1 for a 10 % holdout)")
        if not 1 <= self.k_items <= 20:
            raise InvalidInput("k_items must be between 1 and 20")

    @property
    def purpose(self) -> str:
        return CHANNEL_PURPOSE[self.channel]


@dataclass(frozen=True, slots=True)
class Audience:
    recipients: list[str]
    holdout: list[str]
    no_consent: list[str] = field(default_factory=list)


def in_holdout(user_id: str, campaign_name: str, seed: int, share: float) -> bool:
    """Deterministic random assignment: the same shopper lands in the same group on every rerun."""
    h = hashlib.sha256(f"{seed}:{campaign_name}:{user_id}".encode()).digest()
    return int.from_bytes(h[:8], "big") / 2**64 < share


def build_audience(spec: CampaignSpec, members: Iterable[str], *, has_consent: Callable[[str, str], bool]) -> Audience:
    """Split segment members into recipients and holdout; drop (and list) those without consent."""
    recipients: list[str] = []
    holdout: list[str] = []
    refused: list[str] = []
    for uid in dict.fromkeys(members):
        if not has_consent(uid, spec.purpose):
            refused.append(uid)
        elif in_holdout(uid, spec.name, spec.seed, spec.holdout_share):
            holdout.append(uid)
        else:
            recipients.append(uid)
    return Audience(recipients, holdout, refused)


def personalise(recipients: Sequence[str], recommend: Callable[[str, int], Sequence[str]], k: int) -> dict[str, list[str]]:
    """The engine's top ``k`` items for each recipient."""
    return {u: list(recommend(u, k))[:k] for u in recipients}


def export_csv(spec: CampaignSpec, content: Mapping[str, Sequence[str]],
               customer_ids: Mapping[str, str | None] | None = None) -> str:
    """CSV for the shop's sending tool: ``user_id,channel,campaign,item_1..item_k``.

    ``user_id`` is the pseudonym. With ``customer_ids`` (pseudonym → the shop's customer id, identity data:
    only for roles that may see it), a ``customer_id`` column follows it; empty where the id is unknown.
    """
    buf = io.StringIO()
    w = csv.writer(buf)
    extra = ["customer_id"] if customer_ids is not None else []
    w.writerow(["user_id", *extra, "channel", "campaign", *[f"item_{i + 1}" for i in range(spec.k_items)]])
    for uid, items in content.items():
        row = list(items)[: spec.k_items]
        cid = [customer_ids.get(uid) or ""] if customer_ids is not None else []
        w.writerow([uid, *cid, spec.channel, spec.name, *row, *[""] * (spec.k_items - len(row))])
    return buf.getvalue()


@dataclass(frozen=True, slots=True)
class CampaignOutcome:
    recipients: int
    holdout: int
    conversion: ComparisonResult
    revenue: ComparisonResult | None
    incremental_orders: float
    incremental_revenue: float
    summary: str


def attribute_outcomes(audience: Audience, orders: pd.DataFrame, *, since: datetime, until: datetime) -> CampaignOutcome:
    """Compare recipients with the holdout over ``[since, until)``.

    ``orders``: one row per order line with ``user_id``, ``ts``, and ``revenue`` (price × quantity).
    The holdout makes the difference causal: recipients and holdout were split at random.
    """
    if not audience.recipients or not audience.holdout:
        raise InvalidInput("attribution needs both recipients and a holdout group; set holdout_share above 0")
    ts = pd.to_datetime(orders["ts"], utc=True) if len(orders) else pd.Series([], dtype="datetime64[ns, UTC]")
    window = orders[(ts >= pd.Timestamp(since)) & (ts < pd.Timestamp(until))] if len(orders) else orders
    rev = window.groupby("user_id")["revenue"].sum() if len(window) else pd.Series(dtype=float)
    r_rev = np.array([float(rev.get(u, 0.0)) for u in audience.recipients])
    h_rev = np.array([float(rev.get(u, 0.0)) for u in audience.holdout])
    conv = two_proportion_test(int((h_rev > 0).sum()), len(h_rev), int((r_rev > 0).sum()), len(r_rev))
    revenue = revenue_test(h_rev, r_rev) if len(r_rev) > 1 and len(h_rev) > 1 else None
    inc_orders = (conv.treatment - conv.control) * len(r_rev)
    inc_rev = (r_rev.mean() - h_rev.mean()) * len(r_rev)
    summary = (f"{len(r_rev):,} recipients vs {len(h_rev):,} holdout: conversion "
               f"{conv.control * 100:.1f} % → {conv.treatment * 100:.1f} %, about {inc_orders:+.0f} extra buyers and "
               f"{inc_rev:+,.0f} revenue caused by the campaign ({'significant' if conv.significant else 'not significant'})")
    return CampaignOutcome(len(r_rev), len(h_rev), conv, revenue, float(inc_orders), float(inc_rev), summary)
