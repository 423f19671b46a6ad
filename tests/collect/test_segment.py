"""Segment payload normalisation: ids, clock skew, context, order lines, identity links."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fitloop.collect import InvalidEvent, corrected_ts, keep_context, normalise
from fitloop.data import EventType

NOW = datetime(2025, 6, 1, 12, 0, 0, tzinfo=UTC)


def track(event: str = "Product Viewed", props: dict[str, Any] | None = None, **kw: Any) -> dict[str, Any]:
    return {"type": "track", "event": event, "messageId": "m1", "anonymousId": "anon-1",
            "properties": props if props is not None else {"item_id": "sku-1"}, **kw}


@settings(max_examples=100, deadline=None)
@given(event_offset=st.integers(-10**6, 0), skew=st.integers(-10**6, 10**6), lag=st.integers(0, 10**4))
def test_clock_skew_correction(event_offset: int, skew: int, lag: int) -> None:
    # The client's clock is `skew` seconds off; the event happened `event_offset` s before sending; sending took `lag` s.
    received = NOW
    sent_true = received - timedelta(seconds=lag)
    event_true = sent_true + timedelta(seconds=event_offset)
    client = timedelta(seconds=skew)
    got = corrected_ts(event_true + client, sent_true + client, received)
    assert got == event_true + timedelta(seconds=lag)  # exact up to the transfer time, as Segment's
    assert got <= received


def test_timestamp_defaults_and_clamp() -> None:
    assert corrected_ts(None, None, NOW) == NOW
    assert corrected_ts(NOW + timedelta(days=3), None, NOW) == NOW  # a client clock in the future is clamped
    naive = datetime(2025, 6, 1, 11, 0, 0)
    assert corrected_ts(naive, None, NOW) == datetime(2025, 6, 1, 11, 0, tzinfo=UTC)


def test_event_ids_are_namespaced_by_source() -> None:
    a = normalise(track(), source="shop-a", received_at=NOW).events[0]
    b = normalise(track(), source="shop-b", received_at=NOW).events[0]
    assert (a.event_id, b.event_id) == ("shop-a:m1", "shop-b:m1")
    assert a.user_id == "anon-1" and a.anonymous_id == "anon-1" and a.type is EventType.PRODUCT_VIEWED


def test_numeric_user_ids_and_logins_link_identities() -> None:
    n = normalise(track(userId=42), source="s", received_at=NOW)
    assert n.events[0].user_id == "42" and n.link == ("anon-1", "42")
    n = normalise({"type": "identify", "userId": "u1", "anonymousId": "a1", "traits": {"city": "Lyon"}},
                  source="s", received_at=NOW)
    assert n.link == ("a1", "u1") and n.events[0].type is EventType.IDENTIFY
    n = normalise({"type": "alias", "userId": "u1", "previousId": "a9"}, source="s", received_at=NOW)
    assert n.events == () and n.link == ("a9", "u1")


def test_order_lines_become_one_event_each() -> None:
    n = normalise(track("Order Completed", {"order_id": "o7", "currency": "EUR", "products": [
        {"product_id": "a", "size": "S", "price": 10.0, "quantity": 2},
        {"item_id": "b", "price": 30.0, "discount": 5.0}]}, userId="u1"), source="s", received_at=NOW)
    assert [e.event_id for e in n.events] == ["s:m1#0", "s:m1#1"]
    assert [(e.item_id, e.size, e.quantity, e.price) for e in n.events] == [("a", "S", 2, 10.0), ("b", None, 1, 30.0)]
    assert n.events[1].properties["discount"] == 5.0 and n.events[1].properties["order_id"] == "o7"
    assert all(e.user_id == "u1" for e in n.events)


def test_context_keeps_only_what_is_needed() -> None:
    ctx = {"ip": "203.0.113.9", "userAgent": "Mozilla", "consent": {"categoryPreferences": {"analytics": True, "ads": False}},
           "page": {"path": "/p", "url": "https://shop/p?email=x", "referrer": "https://other"}, "library": {"name": "x", "version": "1"}}
    assert keep_context(ctx) == {"consent": ["analytics"], "page": {"path": "/p"}, "library": "x/1"}
    e = normalise(track(context=ctx), source="s", received_at=NOW).events[0]
    assert e.properties["context"]["consent"] == ["analytics"] and "ip" not in str(e.properties)


def test_batch_context_and_sent_at_apply_when_missing() -> None:
    n = normalise(track(timestamp="2025-06-01T11:00:00Z"), source="s", received_at=NOW,
                  batch_sent_at=datetime(2025, 6, 1, 13, 0, tzinfo=UTC), batch_context={"gpc": True})
    assert n.events[0].ts == datetime(2025, 6, 1, 10, 0, tzinfo=UTC)
    assert n.events[0].properties["context"] == {"gpc": True}


@pytest.mark.parametrize(("msg", "code"), [
    ({"type": "track", "event": "Product Viewed", "properties": {"item_id": "s"}}, "missing_identity"),
    ({"type": "group", "anonymousId": "a"}, "invalid_envelope"),
    ({"type": "track", "anonymousId": "a"}, "invalid_envelope"),
    ({"type": "track", "event": "x", "anonymousId": "a", "messageId": "bad id with spaces"}, "invalid_envelope"),
    ({"type": "track", "event": "Teleported", "anonymousId": "a"}, "unknown_event"),
    ({"type": "track", "event": "Search", "anonymousId": "a", "properties": {"query": ""}}, "invalid_properties"),
    ({"type": "track", "event": "Search", "anonymousId": "a", "context": {"schema_version": "one"}}, "invalid_envelope"),
    ([1, 2], "invalid_envelope"),
])
def test_invalid_messages_raise_with_a_code(msg: Any, code: str) -> None:
    with pytest.raises(InvalidEvent) as info:
        normalise(msg, source="s", received_at=NOW)
    assert info.value.code == code


def test_missing_message_id_gets_one() -> None:
    m = track()
    del m["messageId"]
    n = normalise(m, source="s", received_at=NOW)
    assert n.message_id.startswith("gen-") and n.events[0].event_id == f"s:{n.message_id}"


json_values = st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=12),
                           lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=8), c, max_size=3),
                           max_leaves=12)


@settings(max_examples=200, deadline=None)
@given(msg=st.dictionaries(st.sampled_from(["type", "event", "messageId", "userId", "anonymousId", "timestamp",
                                            "sentAt", "properties", "traits", "context", "previousId"]),
                           json_values, max_size=8))
def test_any_json_message_normalises_or_raises_invalid_event(msg: dict[str, Any]) -> None:
    try:
        n = normalise(msg, source="s", received_at=NOW)
    except InvalidEvent:
        return
    for e in n.events:
        assert e.event_id.startswith("s:") and len(e.event_id) <= 128 and e.ts <= NOW
