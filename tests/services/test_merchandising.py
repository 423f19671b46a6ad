"""Merchandising rules: invariants of apply_rules, and the at-most-one-second freshness in serving."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from fitloop.config import Settings
from fitloop.data import Item, ScoredItem
from fitloop.services.merchandising import PIN_REASON, MerchandisingService, apply_rules, validate_rule
from fitloop.store.protocols import MerchRule
from fitloop.wiring import build_stores

T = datetime(2026, 1, 1, tzinfo=UTC)
IDS = [f"i{n}" for n in range(12)]


def rule(action: str, item: str, slot: str = "*", segment: str = "*", **kw: object) -> MerchRule:
    return MerchRule(f"r-{action}-{item}-{slot}-{segment}", action, item, slot, segment, "m", T, **kw)  # type: ignore[arg-type]


@settings(max_examples=200, deadline=None)
@given(
    ranked=st.lists(st.sampled_from(IDS), unique=True, max_size=10),
    rules=st.lists(st.tuples(st.sampled_from(["pin", "bury", "block"]), st.sampled_from(IDS),
                             st.sampled_from(["*", "home", "cart"])), max_size=6),
    k=st.integers(1, 8),
    out_of_stock=st.sets(st.sampled_from(IDS), max_size=4),
)
def test_apply_rules_invariants(ranked: list[str], rules: list[tuple[str, str, str]], k: int,
                                out_of_stock: set[str]) -> None:
    items = [ScoredItem(i, float(10 - n)) for n, i in enumerate(ranked)]
    rs = [rule(a, i, s) for a, i, s in rules]
    got = apply_rules(items, rs, slot="home", segment=None, k=k, in_stock=lambda i: i not in out_of_stock)
    ids = [g.item_id for g in got]
    active = [r for r in rs if r.slot in ("*", "home")]
    blocked = {r.item_id for r in active if r.action == "block"}
    pins = [r.item_id for r in active if r.action == "pin" and r.item_id not in blocked
            and (r.item_id in ranked or r.item_id not in out_of_stock)]
    assert len(ids) == len(set(ids)) <= k
    assert not set(ids) & blocked
    assert set(ids) <= set(ranked) | set(pins)
    expected_pins = list(dict.fromkeys(pins))[:k]
    assert ids[: len(expected_pins)] == expected_pins
    assert all(g.reason == PIN_REASON for g in got[: len(expected_pins)])
    # Without rules for this slot the model's list is kept as it was.
    if not active:
        assert ids == ranked[:k]


def test_bury_goes_last_and_new_arrivals_move_up() -> None:
    items = [ScoredItem(i, 5.0 - n) for n, i in enumerate(["a", "b", "c", "d"])]
    got = apply_rules(items, [rule("bury", "a"), rule("boost_new", "", days=7)], slot="home", segment=None, k=4,
                      is_new=lambda i, days: i == "c" and days == 7)
    assert [g.item_id for g in got] == ["c", "b", "d", "a"] and "new arrival" in got[0].reason


def test_segment_scoped_rule_applies_only_to_that_segment() -> None:
    items = [ScoredItem("a", 2.0), ScoredItem("b", 1.0)]
    r = [rule("block", "a", segment="seg-1")]
    assert [g.item_id for g in apply_rules(items, r, slot="home", segment="seg-1", k=2)] == ["b"]
    assert [g.item_id for g in apply_rules(items, r, slot="home", segment="seg-2", k=2)] == ["a", "b"]
    expired = [MerchRule("x", "block", "a", "*", "*", "m", T, expires_at=T + timedelta(days=1))]
    assert [g.item_id for g in apply_rules(items, expired, slot="home", segment=None, k=2, now=T + timedelta(days=2))] \
        == ["a", "b"]


def test_validate_rule_messages() -> None:
    assert validate_rule("pin", "", "*", "*", 0) == ["item: enter the id of the item to pin, bury or block"]
    assert any(p.startswith("action:") for p in validate_rule("promote", "a", "*", "*", 0))
    assert any(p.startswith("slot:") for p in validate_rule("pin", "a", "Home Page", "*", 0))
    assert validate_rule("boost_new", "", "*", "*", 14) == []


def test_service_rules_are_seen_within_a_second_by_every_process() -> None:
    stores = build_stores(Settings(database_url="sqlite:///:memory:", demo=True))
    try:
        stores.catalog.upsert_items([Item("a", "A", "tops", "shirt", 10.0, created_at=T)])
        writer = MerchandisingService(stores)
        reader = MerchandisingService(stores, max_age_s=0.2)  # another API process over the same store
        assert reader.current().rules == ()
        writer.add(action="pin", item_id="a", by="m@shop.io")
        assert [r.item_id for r in writer.current().rules] == ["a"]  # the writer invalidates its own cache
        time.sleep(0.25)
        assert [r.item_id for r in reader.current().rules] == ["a"]
    finally:
        stores.close()


def test_outfit_rule_pairs_only_on_the_anchor_page() -> None:
    from fitloop.services.merchandising import PAIR_REASON

    items = [ScoredItem("a", 3.0), ScoredItem("b", 2.0), ScoredItem("c", 1.0)]
    pair = [rule("pair", "c", slot="product", anchor="d")]
    on_page = apply_rules(items, pair, slot="product", segment=None, k=3, context_item="d")
    assert [g.item_id for g in on_page] == ["c", "a", "b"] and on_page[0].reason == PAIR_REASON
    assert [g.item_id for g in apply_rules(items, pair, slot="product", segment=None, k=3, context_item="e")] \
        == ["a", "b", "c"]
    assert [g.item_id for g in apply_rules(items, pair, slot="product", segment=None, k=3)] == ["a", "b", "c"]
    # A pin outranks a pairing; the anchor itself is never suggested on its own page.
    both = pair + [rule("pin", "b"), rule("pair", "d", slot="product", anchor="d")]
    assert [g.item_id for g in apply_rules(items, both, slot="product", segment=None, k=3, context_item="d")] \
        == ["b", "c", "a"]
    assert validate_rule("pair", "c", "*", "*", 0, anchor="c") == [
        "outfit: an item cannot complete its own look; pick a different item"]
    assert validate_rule("pair", "c", "*", "*", 0)[0].startswith("outfit: enter")
