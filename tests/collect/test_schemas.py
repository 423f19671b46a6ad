"""The event catalogue: every fashion event validates, undeclared fields are reported, bad ones refused."""

from __future__ import annotations

from typing import Any, get_args

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fitloop.collect import CATALOGUE, InvalidEvent, resolve_event_type, validate_properties
from fitloop.collect.schemas import ReturnProps, catalogue_json_schema
from fitloop.data import RETURN_REASONS, EventType

EXAMPLES: dict[EventType, dict[str, Any]] = {
    EventType.PRODUCT_VIEWED: {"item_id": "sku-1", "price": 19.9, "position": 3},
    EventType.PRODUCT_CLICKED: {"product_id": "sku-1", "list_id": "home"},
    EventType.FAVOURITED: {"item_id": "sku-1"},
    EventType.IMPRESSION: {"item_id": "sku-1", "position": 0, "visible_ms": 1200},
    EventType.DWELL: {"item_id": "sku-1", "dwell_ms": 5400, "surface": "buyer_show"},
    EventType.SCROLL: {"depth_pct": 75, "path": "/shop"},
    EventType.CART_ADDED: {"item_id": "sku-1", "size": "M", "quantity": 2, "price": 29.0, "currency": "EUR"},
    EventType.CART_REMOVED: {"item_id": "sku-1", "size": "M"},
    EventType.ORDER_COMPLETED: {"order_id": "o1", "lines": [{"item_id": "sku-1", "size": "M", "price": 29.0,
                                                             "discount": 5.0, "quantity": 1}], "total": 24.0},
    EventType.ORDER_CANCELLED: {"order_id": "o1", "reason": "late"},
    EventType.PRODUCT_RETURNED: {"order_id": "o1", "item_id": "sku-1", "size": "M", "reason": "too_small"},
    EventType.SEARCH: {"query": "linen dress"},
    EventType.SOCIAL_ENGAGEMENT: {"action": "like", "content_id": "post-9", "content_type": "buyer_show",
                                  "item_ids": ["sku-1"], "style_tags": ["boho"]},
    EventType.PHOTO_UPLOADED: {"image_ref": "s3://photos/abc.jpg", "item_id": "sku-1"},
    EventType.PAGE: {"path": "/shop", "title": "Shop"},
    EventType.IDENTIFY: {"city": "Lyon", "usual_size": "M"},
}


def test_every_catalogued_event_has_a_valid_example() -> None:
    assert set(EXAMPLES) == set(CATALOGUE)
    for et, props in EXAMPLES.items():
        data, undeclared = validate_properties(et, props)
        assert undeclared == (), et
        assert data, et


def test_return_reasons_match_the_shared_list() -> None:
    reason = ReturnProps.model_fields["reason"].annotation
    assert get_args(reason) == RETURN_REASONS


def test_undeclared_fields_are_reported_not_kept() -> None:
    data, undeclared = validate_properties(EventType.PRODUCT_VIEWED, {"item_id": "s", "email": "a@b.c", "gps": [1, 2]})
    assert undeclared == ("email", "gps") and data == {"item_id": "s"}
    _, undeclared = validate_properties(EventType.ORDER_COMPLETED, {"order_id": "o", "lines": [
        {"item_id": "s", "price": 1.0, "gift_message": "x"}]})
    assert undeclared == ("lines.0.gift_message",)


@pytest.mark.parametrize(("et", "props", "field"), [
    (EventType.DWELL, {"item_id": "s", "dwell_ms": -5}, "dwell_ms"),
    (EventType.SCROLL, {"depth_pct": 140}, "depth_pct"),
    (EventType.PRODUCT_RETURNED, {"item_id": "s", "reason": "ugly"}, "reason"),
    (EventType.ORDER_COMPLETED, {"order_id": "o", "lines": []}, "lines"),
    (EventType.SOCIAL_ENGAGEMENT, {"action": "poke", "content_id": "c", "content_type": "buyer_show"}, "action"),
    (EventType.CART_ADDED, {"item_id": "s", "quantity": 0}, "quantity"),
    (EventType.PRODUCT_VIEWED, {}, "item_id"),
])
def test_schema_violations_are_refused_with_the_field(et: EventType, props: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidEvent) as info:
        validate_properties(et, props)
    assert info.value.code == "invalid_properties"
    assert any(p["field"].startswith(field) for p in info.value.details["fields"])


def test_unknown_schema_version() -> None:
    with pytest.raises(InvalidEvent) as info:
        validate_properties(EventType.SEARCH, {"query": "x"}, version=7)
    assert info.value.code == "unknown_schema_version"


@pytest.mark.parametrize(("name", "expected"), [
    ("Product Viewed", "product_viewed"), ("product_clicked", "product_clicked"), ("Product Added", "cart_added"),
    ("Product Removed", "cart_removed"), ("Product Added to Wishlist", "favourited"), ("Order Completed", "order_completed"),
    ("Products Searched", "search"), ("order-cancelled", "order_cancelled")])
def test_event_names_resolve(name: str, expected: str) -> None:
    assert resolve_event_type(name).value == expected


def test_unknown_event_name() -> None:
    with pytest.raises(InvalidEvent) as info:
        resolve_event_type("Coupon Applied")
    assert info.value.code == "unknown_event"
    with pytest.raises(InvalidEvent):
        resolve_event_type("identify")  # not a track event


def test_catalogue_is_published_as_json_schema() -> None:
    schemas = catalogue_json_schema()
    assert "order_completed@1" in schemas and "lines" in schemas["order_completed@1"]["properties"]


json_values = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
                           lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=10), c, max_size=3),
                           max_leaves=10)


@settings(max_examples=150, deadline=None)
@given(et=st.sampled_from(list(CATALOGUE)), props=st.dictionaries(
    st.sampled_from(["item_id", "product_id", "price", "lines", "query", "reason", "depth_pct", "dwell_ms", "x", "action"]),
    json_values, max_size=6))
def test_arbitrary_properties_validate_or_raise_invalid_event(et: EventType, props: dict[str, Any]) -> None:
    try:
        data, undeclared = validate_properties(et, props)
    except InvalidEvent as exc:
        assert exc.code == "invalid_properties"
        return
    assert set(undeclared) <= set(props) | {u for u in undeclared if "." in u}
    assert not set(undeclared) & set(data)
