"""Profiles follow the event log in real time, and a rebuild from raw events gives the identical result."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from fitloop.config import Settings
from fitloop.data import Event, EventType, Item, Variant
from fitloop.services.profiles import OFFSET_DOC, ProfileService
from fitloop.store import Stores
from fitloop.wiring import build_stores

T0 = datetime(2025, 4, 1, 9, tzinfo=UTC)


@pytest.fixture
def stores(tmp_path: Path) -> Iterator[Stores]:
    s = build_stores(Settings(data_dir=tmp_path, demo=True))
    s.catalog.upsert_items([
        Item("d1", "Floral dress", "dresses", "dress", 49.0, colour="red", pattern="floral", style="romantic",
             material="cotton", variants=(Variant("M", 3),)),
        Item("j1", "Denim jacket", "outerwear", "jacket", 79.0, colour="blue", style="casual", material="denim",
             eco=True, variants=(Variant("M", 1),)),
    ])
    yield s
    s.close()


def _events(n: int) -> list[Event]:
    kinds = [EventType.PRODUCT_VIEWED, EventType.PRODUCT_CLICKED, EventType.CART_ADDED, EventType.ORDER_COMPLETED]
    out = []
    for i in range(n):
        kind = kinds[i % len(kinds)]
        out.append(Event(f"e{i}", kind, f"u{i % 3}", T0 + timedelta(hours=i), item_id="d1" if i % 2 else "j1",
                         size="M", price=49.0 if kind is EventType.ORDER_COMPLETED else None,
                         properties={"discount": 0.2} if kind is EventType.ORDER_COMPLETED else {}))
    out.append(Event("ret", EventType.PRODUCT_RETURNED, "u0", T0 + timedelta(hours=n), item_id="j1", size="M",
                     properties={"reason": "too_small"}))
    return out


def test_incremental_equals_rebuild(stores: Stores) -> None:
    svc = ProfileService(stores)
    events = _events(30)
    for chunk in (events[:7], events[7:20], events[20:]):
        stores.events.append(chunk)
        svc.poll_once()
    incremental = {u: svc.profile(u, as_of=T0 + timedelta(days=3)) for u in ("u0", "u1", "u2")}
    assert svc.rebuild() == 3
    rebuilt = {u: svc.profile(u, as_of=T0 + timedelta(days=3)) for u in ("u0", "u1", "u2")}
    assert incremental == rebuilt
    assert incremental["u0"]["known"] and incremental["u0"]["summary"]


def test_replaying_never_double_counts(stores: Stores) -> None:
    svc = ProfileService(stores)
    stores.events.append(_events(8))
    svc.poll_once()
    before = svc.profile("u0")
    assert svc.poll_once() == 0  # nothing new: the stored position prevents a second application
    assert svc.profile("u0") == before
    assert stores.profiles.get(OFFSET_DOC) == {"seq": stores.events.max_seq()}
    assert OFFSET_DOC not in dict(stores.profiles.iter_profiles())


def test_unknown_shopper_gets_an_empty_profile_that_says_so(stores: Stores) -> None:
    p = ProfileService(stores).profile("nobody")
    assert p["known"] is False and p["features"]


def test_background_updater_reflects_an_event_within_a_second(stores: Stores) -> None:
    svc = ProfileService(stores, poll_interval_s=0.05)
    svc.start()
    try:
        stores.events.append(_events(4))
        deadline = time.monotonic() + 1.0
        while time.monotonic() < deadline and not svc.profile("u0")["known"]:
            time.sleep(0.02)
        assert svc.profile("u0")["known"], "profile not updated within 1 s"
    finally:
        svc.stop()


def test_events_not_consented_for_personalisation_do_not_shape_the_profile(stores: Stores) -> None:
    def usable(ev: Event) -> bool:
        tags = ev.properties.get("_purposes")
        return tags is None or "personalisation" in tags

    svc = ProfileService(stores, usable=usable)
    analytics_only = [Event(f"a{i}", EventType.PRODUCT_CLICKED, "u7", T0 + timedelta(minutes=i), item_id="d1",
                            properties={"_purposes": ["analytics"]}) for i in range(5)]
    stores.events.append(analytics_only)
    svc.poll_once()
    assert svc.profile("u7")["known"] is False  # analytics consent does not allow a personalisation profile
    stores.events.append([Event("p1", EventType.PRODUCT_CLICKED, "u7", T0 + timedelta(hours=1), item_id="d1",
                                properties={"_purposes": ["analytics", "personalisation"]})])
    svc.poll_once()
    assert svc.profile("u7")["known"] is True
    assert svc.rebuild() == 1
