"""The trained pipeline: serving invariants, cold start, reasons, configs, and training on simulator items."""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fitloop.data import Context
from fitloop.errors import InvalidInput
from fitloop.recommend import Recommender, RecommenderConfig, items_frame, train_recommender
from fitloop.recommend.explain import REASONS
from tests.recommend.synthetic import shop_interactions, shop_items, small_config


@lru_cache(maxsize=1)
def _shop() -> tuple[pd.DataFrame, pd.DataFrame]:
    items = shop_items()
    return items, shop_interactions(items)


@lru_cache(maxsize=1)
def _trained() -> Recommender:
    items, ev = _shop()
    return train_recommender(ev, items, small_config())


def test_ranker_is_trained_and_reports_importance() -> None:
    rec = _trained()
    assert rec.ranker is not None and rec.ranker.is_trained
    assert rec.feature_importance and all(v >= 0 for v in rec.feature_importance.values())
    assert rec.info["n_positives"] > 0
    assert rec.policy_version == rec.version and rec.version


@settings(max_examples=60, deadline=None)
@given(
    user=st.sampled_from([f"u{i:03d}" for i in range(0, 90, 3)]),  # known and unknown shoppers
    k=st.integers(1, 30),
    excluded=st.sets(st.integers(0, 79), max_size=40),
    out_of_stock=st.sets(st.integers(0, 79), max_size=40),
)
def test_recommend_invariants(user: str, k: int, excluded: set[int], out_of_stock: set[int]) -> None:
    rec = _trained()
    ids = rec.item_ids
    exclude = {ids[i] for i in excluded}
    oos = {ids[i] for i in out_of_stock}
    got = rec.recommend(user, k=k, exclude=exclude, in_stock=lambda i: i not in oos)
    got_ids = [s.item_id for s in got]
    assert len(got_ids) <= k
    assert len(set(got_ids)) == len(got_ids)
    assert set(got_ids) <= set(ids)
    assert not set(got_ids) & exclude
    assert not set(got_ids) & oos
    assert all(s.propensity == 1.0 and s.reason for s in got)
    # Filters only remove: with enough eligible popular items the list is full.
    eligible = [i for i in ids if i not in exclude and i not in oos]
    sold = {ids[i] for i in rec.popular[""][0]}
    if len(set(eligible) & sold) >= k:
        assert len(got_ids) == k


def test_scores_do_not_increase_down_the_list() -> None:
    rec = _trained()
    for u in rec.user_ids[:20]:
        scores = [s.score for s in rec.recommend(u, k=20)]
        assert scores == sorted(scores, reverse=True)


def test_unknown_shopper_gets_popular_list_and_reason_says_so() -> None:
    rec = _trained()
    got = rec.recommend("never-seen", k=12)
    assert [s.item_id for s in got] == [rec.item_ids[i] for i in rec.popular[""][0][:12]]
    assert all(s.reason == "popular this week — we don't know you yet" for s in got)
    assert not rec.is_known("never-seen")


def test_cold_start_uses_the_channel_list() -> None:
    rec = _trained()
    store = rec.recommend("never-seen", k=5, context=Context(channel="store"))
    assert [s.item_id for s in store] == [rec.item_ids[i] for i in rec.popular["channel:store"][0][:5]]
    web = rec.recommend("never-seen", k=5, context=Context(channel="web"))
    assert [s.item_id for s in web] == [rec.item_ids[i] for i in rec.popular["channel:online"][0][:5]]


def test_known_shopper_gets_personal_reasons() -> None:
    rec = _trained()
    reasons = {s.reason for u in rec.user_ids for s in rec.recommend(u, k=12)}
    assert "bought before" in reasons
    assert any(r.startswith("same style as") for r in reasons)
    assert all(r in {t.split("{")[0] for t in REASONS} or any(r.startswith(t.split("{")[0]) for t in REASONS) for r in reasons)


def test_repurchases_rank_high_for_repeat_buyers() -> None:
    items, ev = _shop()
    rec = _trained()
    # In this shop 40 % of purchases repeat an own item: most lists start with one.
    first = [rec.recommend(u, k=1)[0].item_id for u in rec.user_ids]
    own = ev.groupby("user_id")["item_id"].agg(set)
    share = np.mean([i in own[u] for u, i in zip(rec.user_ids, first, strict=True)])
    assert share > 0.5


def test_homogeneity_cap_limits_the_last_items_type() -> None:
    items, ev = _shop()
    capped = train_recommender(ev, items, small_config(homogeneity_cap=0.25, ranker=RecommenderConfig().ranker.__class__(enabled=False)))
    type_of = dict(zip(items["item_id"], items["product_type"], strict=True))
    last = ev.sort_values("ts").drop_duplicates("user_id", keep="last").set_index("user_id")["item_id"].map(type_of)
    for u in capped.user_ids:
        got = [s.item_id for s in capped.recommend(u, k=12)]
        assert sum(type_of[i] == last[u] for i in got) <= 3


def test_invalid_k_is_refused_with_a_clear_message() -> None:
    with pytest.raises(InvalidInput, match="k must be"):
        _trained().recommend("u000", k=0)


def test_training_respects_as_of() -> None:
    items, ev = _shop()
    cut = pd.Timestamp("2024-02-15")
    rec = train_recommender(ev, items, small_config(), as_of="2024-02-15")
    assert rec.trained_until == "2024-02-15"
    later_only = set(ev.loc[ev["ts"] > cut + pd.Timedelta(days=1), "user_id"]) - set(ev.loc[ev["ts"] <= cut, "user_id"])
    assert all(not rec.is_known(u) for u in later_only)


def test_without_ranker_rank_fusion_serves() -> None:
    items, ev = _shop()
    from fitloop.recommend import RankerConfig

    rec = train_recommender(ev, items, small_config(ranker=RankerConfig(enabled=False)))
    assert rec.ranker is None and rec.feature_importance == {}
    assert len(rec.recommend("u001", k=12)) == 12


def test_config_roundtrip_and_unknown_keys() -> None:
    cfg = small_config(bpr=None)
    assert RecommenderConfig.from_dict(cfg.to_dict()) == cfg
    with pytest.raises(InvalidInput, match="unknown recommender config keys"):
        RecommenderConfig.from_dict({"lerning_rate": 1})


def test_bad_inputs_are_refused() -> None:
    items, ev = _shop()
    with pytest.raises(InvalidInput, match="item_id"):
        train_recommender(ev, items.drop(columns=["item_id"]))
    with pytest.raises(InvalidInput, match="more than once"):
        train_recommender(ev, pd.concat([items, items.head(1)]))
    with pytest.raises(InvalidInput, match="as-of"):
        train_recommender(ev, items, small_config(), as_of="2000-01-01")


def test_trains_on_the_simulated_shop_items() -> None:
    from fitloop.evaluate.simulator.catalog import build_items, generate_catalog

    cat = generate_catalog(150, 40, 0.25, 14.0, np.random.default_rng(3))
    items = items_frame(build_items(cat, pd.Timestamp("2024-01-01").date()))
    assert {"item_id", "title", "product_code", "product_type", "created_at"} <= set(items.columns)
    ids = items["item_id"].tolist()
    rng = np.random.default_rng(0)
    n = 600
    ev = pd.DataFrame({
        "user_id": [f"s{int(u)}" for u in rng.integers(0, 60, n)],
        "item_id": [ids[int(i)] for i in rng.integers(0, 40, n)],
        "ts": pd.Timestamp("2024-02-01") + pd.to_timedelta(rng.integers(0, 40 * 24, n), unit="h"),
        "kind": rng.choice(["product_viewed", "cart_added", "order_completed"], n, p=[0.6, 0.2, 0.2]),
        "value": 1.0,
        "price": 20.0,
    })
    rec = train_recommender(ev, items, small_config())
    got = rec.recommend("s1", k=12)
    assert len(got) == 12 and len({s.item_id for s in got}) == 12
    # Views count: co-view and "new arrival" reasons can appear in the simulated shop.
    assert {s.source for u in rec.user_ids for s in rec.recommend(u, k=12)} >= {"repeat", "popular"}
