"""Invariants every non-bandit policy keeps, and the Chain that composes them."""

from __future__ import annotations

from datetime import date, datetime

import pandas as pd
from hypothesis import HealthCheck, given, settings

from fitloop.catalog import ItemFeatures
from fitloop.context.weather import ClimateNormalsProvider, FallbackWeather
from fitloop.data import Context, Event, EventType, ScoredItem, make_interactions
from fitloop.rerank.context_boost import ContextBoost
from fitloop.rerank.diagnosis import ClickNoBuyDiagnoser
from fitloop.rerank.diversity import DPPDiversifier, MMRDiversifier
from fitloop.rerank.exposure import ExplorationBudget, ExposureMemory
from fitloop.rerank.outfits import OutfitCompleter, OutfitConfig
from fitloop.rerank.policy import Chain, InStockFilter, Policy
from tests.rerank.policy_cases import CATALOG, check_invariants, requests


def _policies() -> list[Policy]:
    feats = ItemFeatures.fit(CATALOG.values())
    outfits = OutfitCompleter(CATALOG, OutfitConfig(min_pair_count=1))
    ids = sorted(CATALOG)
    outfits.train(make_interactions(["a", "a", "b", "b", "c", "c"], [ids[0], ids[4], ids[0], ids[5], ids[1], ids[6]],
                                    [pd.Timestamp("2026-01-01")] * 6))
    exposure = ExposureMemory(CATALOG, free_impressions=0)
    diag = ClickNoBuyDiagnoser(CATALOG)
    for k in range(4):
        ev = Event(f"x{k}", EventType.IMPRESSION, "u1", datetime(2026, 1, 1), ids[k % 3])
        exposure.learn_one(ev)
        diag.learn_one(Event(f"c{k}", EventType.PRODUCT_CLICKED, "u1", datetime(2026, 1, 1), ids[0], size="M"))
    boost = ContextBoost(CATALOG, weather=FallbackWeather(ClimateNormalsProvider(), budget_ms=200))
    policies: list[Policy] = [
        boost, MMRDiversifier(feats, 0.6, catalog=CATALOG), DPPDiversifier(feats, catalog=CATALOG),
        exposure, ExplorationBudget(catalog=CATALOG), outfits, diag, InStockFilter(CATALOG),
    ]
    return policies + [Chain(policies)]


POLICIES = _policies()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(requests())
def test_every_policy_returns_an_in_stock_subset_no_longer_than_n(req: tuple[Context, list[ScoredItem], int]) -> None:
    ctx, cands, n = req
    for p in POLICIES:
        out = p.rerank(ctx, cands, n)
        check_invariants(out, ctx, cands, n)


def test_policies_follow_the_protocol() -> None:
    for p in POLICIES:
        assert isinstance(p, Policy)


def test_chain_runs_in_order_and_keeps_reasons() -> None:
    cat = CATALOG
    # Find a coat and a shorts that are in stock.
    coat = next(i for i, it in cat.items() if it.article_type == "Coat" and it.in_stock())
    shorts = next(i for i, it in cat.items() if it.article_type == "Shorts" and it.in_stock())
    chain = Chain([ContextBoost(cat), InStockFilter(cat)])
    out = chain.rerank(Context(temperature_c=30.0, day=date(2026, 7, 1)), [ScoredItem(coat, 2), ScoredItem(shorts, 1)], 2)
    assert [s.item_id for s in out] == [shorts, coat]
    assert "30 °C" in out[0].reason and "too warm" in out[1].reason


def test_in_stock_filter_puts_in_size_items_first() -> None:
    a = next(i for i, it in CATALOG.items() if it.in_stock() and not it.in_stock("XXL"))
    b = next(i for i, it in CATALOG.items() if it.in_stock("XXL"))
    out = InStockFilter(CATALOG).rerank(Context(extra={"size": "XXL"}), [ScoredItem(a, 2), ScoredItem(b, 1)], 2)
    assert [s.item_id for s in out] == [b, a] and out[0].reason == "in stock in your size XXL"
    strict = InStockFilter(CATALOG, require_size=True).rerank(Context(extra={"size": "XXL"}),
                                                              [ScoredItem(a, 2), ScoredItem(b, 1)], 2)
    assert [s.item_id for s in strict] == [b]
