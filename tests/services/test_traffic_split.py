"""The live A/B split in serving: each arm really serves its strategy, impressions carry experiment and arm,
only one split runs at a time, a slot-scoped split leaves other slots alone, and ending it restores serving."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from fitloop.errors import Conflict, InvalidInput
from fitloop.marketing.splits import assign_arm
from fitloop.services.recommend import RecommendationService
from fitloop.services.reranking import RerankConfig, ServingPolicies
from fitloop.services.traffic_split import STRATEGIES, TrafficSplitService, available_strategies
from fitloop.store import Impression
from fitloop.testing.console_shop import ConsoleShop, PopularityRecommender, build_console_shop

K = 8


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ConsoleShop]:
    cs = build_console_shop(Path(tmp_path_factory.mktemp("split")), n_items=120, n_shoppers=90, n_events=4000)
    yield cs
    cs.container.close()


def _service(cs: ConsoleShop, state: Path, config: RerankConfig) -> RecommendationService:
    """A serving stack with real re-ranking (deterministic: no bandit exploration, no exposure memory)."""
    stores = cs.container.stores
    rs = RecommendationService(stores, lambda _p: PopularityRecommender(stores), reload_interval_s=60)
    rs.personalised = cs.container.recommendations.personalised
    rs.policies = ServingPolicies(stores, state, config)
    return rs


@pytest.fixture
def serving(shop: ConsoleShop, tmp_path: Path) -> Iterator[tuple[RecommendationService, TrafficSplitService]]:
    rs = _service(shop, tmp_path / "b", RerankConfig(bandit=False, exposure=False))
    splits = TrafficSplitService(shop.container.stores)
    rs.split = splits.assignment
    rs.start()
    yield rs, splits
    running = splits.current()
    if running is not None:
        splits.end(running.experiment_id, by="test")
    rs.stop()


def _ids(rs: RecommendationService, user: str, **kw: object) -> list[str]:
    return [it.item_id for it in rs.recommend(user, k=K, **kw).items]  # type: ignore[arg-type]


def _impressions(shop: ConsoleShop, experiment_id: str, n: int) -> list[Impression]:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:  # the impression writer flushes every 0.2 s
        got = shop.container.stores.impressions.scan(experiment_id=experiment_id)
        if len(got) >= n:
            return got
        time.sleep(0.05)
    return shop.container.stores.impressions.scan(experiment_id=experiment_id)


def _shoppers(shop: ConsoleShop) -> list[str]:
    """The stored shopper ids (pseudonyms: the loader pseudonymises the simulated shop's ids)."""
    return sorted(shop.container.stores.users.iter_user_ids())


def _personal(shop: ConsoleShop, rs: RecommendationService) -> list[str]:
    assert rs.personalised is not None
    return [u for u in _shoppers(shop) if rs.personalised(u)]


def test_each_arm_serves_its_strategy_and_is_logged_with_it(shop: ConsoleShop, tmp_path: Path,
                                                              serving: tuple[RecommendationService,
                                                                             TrafficSplitService]) -> None:
    rs, splits = serving
    no_div = _service(shop, tmp_path / "nd", RerankConfig(bandit=False, exposure=False, diversity_lambda=None))
    no_div.policies.refresh()  # type: ignore[union-attr]
    users = _personal(shop, rs)[:60]
    control = {u: _ids(rs, u, log_impression=False) for u in users}  # previews never take part in a split
    without = {u: _ids(no_div, u, log_impression=False) for u in users}
    assert any(control[u] != without[u] for u in users), "diversity changes nothing here: the test could not fail"
    cfg = splits.start("exp-div", "diversity off", arms={"A": "current", "B": "no_diversity"}, share_b=0.5,
                       slot="*", by="test")
    served = {u: _ids(rs, u) for u in users}
    arms = {u: assign_arm("exp-div", u, 0.5, salt=cfg.salt) for u in users}
    assert set(arms.values()) == {"A", "B"}
    for u in users:
        assert served[u] == (without[u] if arms[u] == "B" else control[u]), u
    logged = _impressions(shop, "exp-div", len(users))
    assert len(logged) == len(users)
    assert {imp.user_id: imp.arm for imp in logged} == arms
    assert all([it["item_id"] for it in imp.items] == served[imp.user_id] for imp in logged)


def test_popularity_arm_serves_the_new_visitor_list(shop: ConsoleShop,
                                                    serving: tuple[RecommendationService, TrafficSplitService]) -> None:
    rs, splits = serving
    users = _personal(shop, rs)[:40]
    visitor = _ids(rs, "never-seen-before-visitor", log_impression=False)
    cfg = splits.start("exp-pop", "popularity", arms={"A": "current", "B": "popularity"}, share_b=0.5, slot="*",
                       by="test")
    b_users = [u for u in users if assign_arm("exp-pop", u, 0.5, salt=cfg.salt) == "B"]
    a_users = [u for u in users if u not in b_users]
    assert b_users and a_users
    popular = PopularityRecommender(shop.container.stores).recommend("__nobody__", k=K * 2)
    for u in b_users:
        recs = rs.recommend(u, k=K)
        assert recs.cold_start and "re-rank" not in recs.policy_version
        assert [it.item_id for it in recs.items] == [it.item_id for it in popular][:K]
    assert any(_ids(rs, u) != [it.item_id for it in popular][:K] for u in a_users)
    assert visitor  # a visitor's list exists; the popularity arm is that list for everyone


def test_opted_out_shoppers_and_other_slots_are_not_enrolled(shop: ConsoleShop,
                                                             serving: tuple[RecommendationService,
                                                                            TrafficSplitService]) -> None:
    rs, splits = serving
    assert rs.personalised is not None
    opted_out = [u for u in _shoppers(shop) if not rs.personalised(u)]
    assert opted_out, "the demo consents should include shoppers who declined personalisation"
    splits.start("exp-slot", "product page only", arms={"A": "current", "B": "popularity"}, share_b=0.5,
                 slot="product", by="test")
    personal = _personal(shop, rs)[:20]
    for u in personal:
        rs.recommend(u, k=K, slot="home")
    for u in opted_out[:5]:
        rs.recommend(u, k=K, slot="product")
    for u in personal:
        rs.recommend(u, k=K, slot="product")
    logged = _impressions(shop, "exp-slot", len(personal))
    assert len(logged) == len(personal)
    assert {imp.slot for imp in logged} == {"product"} and not {imp.user_id for imp in logged} & set(opted_out)


def test_one_split_at_a_time_and_ending_restores_serving(shop: ConsoleShop,
                                                         serving: tuple[RecommendationService,
                                                                        TrafficSplitService]) -> None:
    rs, splits = serving
    cfg = splits.start("exp-end", "to end", arms={"A": "current", "B": "popularity"}, share_b=0.5, slot="*",
                       by="test")
    with pytest.raises(Conflict):
        splits.start("exp-other", "second", arms={"A": "current", "B": "no_rerank"}, share_b=0.5, slot="*", by="t")
    assert splits.start("exp-end", "to end", arms={"A": "current", "B": "popularity"}, share_b=0.5, slot="*",
                        by="test").salt == cfg.salt  # starting the running one again keeps every shopper's arm
    b_user = next(u for u in _personal(shop, rs) if assign_arm("exp-end", u, 0.5, salt=cfg.salt) == "B")
    in_split = _ids(rs, b_user)
    ended = splits.end("exp-end", by="test")
    assert ended is not None and not ended.live and splits.current() is None
    after = rs.recommend(b_user, k=K)
    assert [it.item_id for it in after.items] == _ids(rs, b_user, log_impression=False) != in_split
    time.sleep(0.5)
    assert all(imp.request_id != after.request_id for imp in shop.container.stores.impressions.scan(
        experiment_id="exp-end"))
    assert splits.end("exp-end", by="test") is None  # already ended


def test_bad_split_settings_are_refused(shop: ConsoleShop) -> None:
    splits = TrafficSplitService(shop.container.stores)
    for arms, share in (({"A": "current", "B": "current"}, 0.5), ({"A": "current", "B": "teleport"}, 0.5),
                        ({"A": "current", "B": "popularity"}, 1.0), ({"B": "popularity"}, 0.5)):
        with pytest.raises(InvalidInput):
            splits.start("exp-bad", "bad", arms=arms, share_b=share, slot="*", by="test")


def test_strategies_offered_match_the_serving_configuration() -> None:
    assert available_strategies(None) == {"current": STRATEGIES["current"].label,
                                          "popularity": STRATEGIES["popularity"].label}
    full = available_strategies(frozenset({"context", "exposure", "diversity", "bandit"}))
    assert set(full) == set(STRATEGIES)


def test_a_failed_return_guardrail_ends_the_split(shop: ConsoleShop) -> None:
    from datetime import UTC, datetime, timedelta

    from fitloop.data import Event, EventType
    from fitloop.services.console_experiments import ExperimentService

    stores = shop.container.stores
    splits = TrafficSplitService(stores)
    experiments = ExperimentService(stores, splits)
    plan = {"name": "Returns guardrail", "hypothesis": "", "kind": "strategy", "campaign_id": None, "baseline": 0.3,
            "mde": 0.2, "alpha": 0.05, "power": 0.8, "guardrail": 0.01}
    t0 = datetime.now(UTC) - timedelta(hours=2)
    doc = experiments.start_live(plan, {"arms": {"A": "current", "B": "popularity"}, "share_b": 0.5, "slot": "*",
                                        "window_h": 24.0}, by="test", now=t0)
    assert splits.current() is not None
    # 120 shoppers per arm each bought the item they were shown; B's buyers sent 60 % of it back, A's 5 %.
    imps, events = [], []
    for i in range(240):
        arm, user = "AB"[i % 2], f"guard-{i}"
        imps.append(Impression(f"g{i}", user, "home", "v", t0 + timedelta(minutes=1), ({"item_id": "sku-g"},), {},
                               experiment_id=doc.doc_id, arm=arm))
        events.append(Event(f"go{i}", EventType.ORDER_COMPLETED, user, t0 + timedelta(minutes=5), "sku-g", price=30.0))
        if (arm == "B" and i % 10 < 6) or (arm == "A" and i % 20 == 0):
            events.append(Event(f"gr{i}", EventType.PRODUCT_RETURNED, user, t0 + timedelta(minutes=30), "sku-g",
                                properties={"reason": "too_small"}))
    stores.impressions.log(imps)
    stores.events.append(events)
    new = experiments.look_from_live(doc.doc_id)
    look = new.data["looks"][-1]
    assert (look["n_a"], look["n_b"], look["orders_a"], look["orders_b"]) == (120, 120, 120, 120)
    assert look["returns_b"] > look["returns_a"]
    assert new.status == "stopped (guardrail)" and new.data["live"]["ended_by"] == "guardrail"
    assert new.data["live"]["ended_at"] and splits.current() is None
