from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest

from fitloop.data import Context, Event, EventType, Item, ScoredItem
from fitloop.errors import InvalidInput
from fitloop.rerank.bandit import Feedback
from fitloop.rerank.exposure import ExplorationBudget, ExplorationConfig, ExposureMemory, is_engagement

CAT = {
    "a1": Item("a1", "Dress", "c", "Dress", 1, colour="red", product_code="A"),
    "a2": Item("a2", "Dress", "c", "Dress", 1, colour="blue", product_code="A"),
    "b": Item("b", "Dress", "c", "Dress", 1, colour="red", product_code="B"),  # same type + colour as a1
    "c": Item("c", "Skirt", "c", "Skirt", 1, colour="green", product_code="C"),
}
T = datetime(2026, 6, 1)
CTX = Context(extra={"user_id": "u1"})


def _show(mem: ExposureMemory, item: str, times: int, user: str = "u1") -> None:
    for k in range(times):
        mem.learn_one(Event(f"imp-{item}-{k}", EventType.IMPRESSION, user, T + timedelta(minutes=k), item))


def test_repeated_ignored_items_and_near_duplicates_sink() -> None:
    mem = ExposureMemory(CAT, free_impressions=2, damping=0.5)
    _show(mem, "a1", 5)
    out = mem.rerank(CTX, [ScoredItem(i, 1) for i in ("a1", "a2", "b", "c")], 4)
    assert [s.item_id for s in out][-3:] != ["a2", "b", "c"]
    assert out[0].item_id == "c"  # the only item nothing like a1
    reasons = {s.item_id: s.reason for s in out}
    assert "shown 5 times without a click" in reasons["a1"]
    assert mem.ignored("u1", "a2") == (5, "the same style")
    assert mem.ignored("u1", "b") == (5, "items much like it")
    # Another shopper is unaffected.
    other = mem.rerank(Context(extra={"user_id": "u2"}), [ScoredItem(i, 1) for i in ("a1", "c")], 2)
    assert [s.item_id for s in other] == ["a1", "c"]


def test_free_impressions_are_not_damped() -> None:
    mem = ExposureMemory(CAT, free_impressions=2)
    _show(mem, "a1", 2)
    assert [s.item_id for s in mem.rerank(CTX, [ScoredItem("a1", 1), ScoredItem("c", 0.5)], 2)] == ["a1", "c"]


@pytest.mark.parametrize("event", [
    Event("e", EventType.PRODUCT_CLICKED, "u1", T, "a2"),
    Event("e", EventType.CART_ADDED, "u1", T, "a1"),
    Event("e", EventType.DWELL, "u1", T, "a1", properties={"surface": "buyer_show", "dwell_ms": 4000}),
])
def test_engagement_resets_including_long_dwell_on_buyer_show_photos(event: Event) -> None:
    mem = ExposureMemory(CAT, free_impressions=0)
    _show(mem, "a1", 4)
    mem.learn_one(event)
    assert mem.ignored("u1", "a1")[0] == 0 or event.item_id == "a2" and mem.ignored("u1", "a2")[0] == 0


def test_short_dwell_is_not_engagement() -> None:
    assert not is_engagement(Event("e", EventType.DWELL, "u", T, "a1", properties={"surface": "buyer_show",
                                                                                     "dwell_ms": 1000}))
    assert not is_engagement(Event("e", EventType.DWELL, "u", T, "a1", properties={"dwell_ms": 4000}))
    assert is_engagement(Event("e", EventType.DWELL, "u", T, "a1", properties={"dwell_ms": 12000}))


def test_bandit_feedback_counts_too() -> None:
    mem = ExposureMemory(CAT, free_impressions=0)
    for _ in range(3):
        mem.learn_one(Feedback("a1", CTX, (), user_id="u1"))
    assert mem.ignored("u1", "a1")[0] == 3
    mem.learn_one(Feedback("a1", CTX, (EventType.PRODUCT_CLICKED,), user_id="u1"))
    assert mem.ignored("u1", "a1")[0] == 0
    with pytest.raises(InvalidInput):
        ExposureMemory(CAT, damping=0)


def test_exploration_budget_share_propensity_and_replay() -> None:
    cands = [ScoredItem(f"x{i}", 100 - i) for i in range(50)]
    ctx = Context(day=date(2026, 6, 1), extra={"user_id": "new", "request_id": "r1"})
    b = ExplorationBudget(ExplorationConfig(share=0.1, new_shopper_share=0.2, rng=7))
    out = b.rerank(ctx, cands, 10)
    explored = [s for s in out if s.reason == "something new to explore"]
    assert len(explored) == 2  # 20 % of 10 slots for a new shopper
    assert all(int(s.item_id[1:]) >= 10 and s.propensity == pytest.approx(2 / 40) for s in explored)
    # Same (rng, user, request) → same list.
    again = ExplorationBudget(ExplorationConfig(share=0.1, new_shopper_share=0.2, rng=7)).rerank(ctx, cands, 10)
    assert [s.item_id for s in again] == [s.item_id for s in out]
    # A known shopper gets the smaller share.
    for k in range(5):
        b.learn_one(Event(f"c{k}", EventType.PRODUCT_CLICKED, "known", T, "x1"))
    assert b.share_for("known") == 0.1 and b.share_for("new") == 0.2


def test_exploration_daily_cap() -> None:
    b = ExplorationBudget(ExplorationConfig(share=0.5, new_shopper_share=0.5, max_per_day=3))
    cands = [ScoredItem(f"x{i}", 1) for i in range(30)]
    total = 0
    for r in range(5):
        out = b.rerank(Context(day=date(2026, 6, 1), extra={"user_id": "u", "request_id": str(r)}), cands, 4)
        total += sum(1 for s in out if s.reason)
    assert total == 3 and b.spent_today("u", date(2026, 6, 1)) == 3
