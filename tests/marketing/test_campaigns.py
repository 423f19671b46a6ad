"""Campaign audiences never include a shopper without consent; holdouts are random and stable; attribution is causal."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from fitloop.errors import InvalidInput
from fitloop.marketing.campaigns import (
    CampaignSpec,
    attribute_outcomes,
    build_audience,
    export_csv,
    personalise,
)
from fitloop.marketing.stock import best_shoppers_for, slow_movers


@given(
    members=st.lists(st.text(min_size=1, max_size=6), max_size=60),
    consented=st.sets(st.text(min_size=1, max_size=6), max_size=60),
    channel=st.sampled_from(["email", "push", "in_app"]),
    share=st.floats(0, 0.9),
)
def test_no_recipient_or_holdout_without_consent(members: list[str], consented: set[str], channel: str, share: float) -> None:
    spec = CampaignSpec("c", channel, holdout_share=share)
    seen: list[tuple[str, str]] = []

    def has_consent(u: str, purpose: str) -> bool:
        seen.append((u, purpose))
        return u in consented

    aud = build_audience(spec, members, has_consent=has_consent)
    assert set(aud.recipients) | set(aud.holdout) <= consented
    assert set(aud.recipients).isdisjoint(aud.holdout)
    assert set(aud.recipients) | set(aud.holdout) | set(aud.no_consent) == set(members)
    assert all(p == spec.purpose for _, p in seen)


def test_holdout_share_and_stability() -> None:
    spec = CampaignSpec("spring", "email", holdout_share=0.2, seed=3)
    users = [f"u{i}" for i in range(10_000)]
    a1 = build_audience(spec, users, has_consent=lambda u, p: True)
    a2 = build_audience(spec, list(reversed(users)), has_consent=lambda u, p: True)
    assert 0.18 < len(a1.holdout) / len(users) < 0.22
    assert set(a1.holdout) == set(a2.holdout)


def test_spec_validation_says_what_to_fix() -> None:
    with pytest.raises(InvalidInput, match="channel must be one of"):
        CampaignSpec("x", "fax")
    with pytest.raises(InvalidInput, match="holdout_share"):
        CampaignSpec("x", "email", holdout_share=1.0)


def test_personalised_export() -> None:
    spec = CampaignSpec("x", "push", k_items=3)
    content = personalise(["u1", "u2"], lambda u, k: [f"{u}-i{j}" for j in range(k + 2)], spec.k_items)
    text = export_csv(spec, content)
    lines = text.strip().splitlines()
    assert lines[0] == "user_id,channel,campaign,item_1,item_2,item_3"
    assert lines[1] == "u1,push,x,u1-i0,u1-i1,u1-i2"


def test_attribution_recovers_a_known_effect() -> None:
    rng = np.random.default_rng(0)
    spec = CampaignSpec("x", "email", holdout_share=0.3, seed=1)
    aud = build_audience(spec, [f"u{i}" for i in range(6000)], has_consent=lambda u, p: True)
    t0 = datetime(2025, 5, 1, tzinfo=UTC)
    rows = []
    for u in aud.recipients:
        if rng.random() < 0.12:
            rows.append((u, t0, 40.0))
    for u in aud.holdout:
        if rng.random() < 0.08:
            rows.append((u, t0, 40.0))
    orders = pd.DataFrame(rows, columns=["user_id", "ts", "revenue"])
    out = attribute_outcomes(aud, orders, since=t0, until=datetime(2025, 5, 8, tzinfo=UTC))
    assert out.conversion.significant and 0.02 < out.conversion.difference < 0.06
    assert out.incremental_orders > 0 and "caused by the campaign" in out.summary


def test_slow_movers_and_their_shoppers() -> None:
    now = pd.Timestamp("2025-03-01")
    sales = pd.DataFrame({"item_id": ["fast"] * 40 + ["slow"], "ts": now - pd.Timedelta(days=3)})
    slow = slow_movers({"fast": 20, "slow": 30, "dead": 10}, sales, now=now)
    assert [s.item_id for s in slow] == ["dead", "slow"]
    assert "no sales" in slow[0].reason
    best = best_shoppers_for(["dead"], ["a", "b", "c"], lambda u, items: np.array([{"a": 0.1, "b": 0.9, "c": 0.5}[u]]), per_item=2)
    assert [u for u, _ in best["dead"]] == ["b", "c"]
