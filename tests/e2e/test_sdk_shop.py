"""fitloop.js on the demo shop in real headless Chromium: consent, auto-capture, GPC, offline queue."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest

from fitloop.data import Event
from tests.e2e.conftest import Server

pytestmark = pytest.mark.e2e

GPC_ON = "Object.defineProperty(Navigator.prototype, 'globalPrivacyControl', {get: () => true});"


def stored(server: Server, anonymous_id: str) -> list[Event]:
    """The browser's events: stored under the pseudonym of its anonymous id (never the id itself)."""
    assert server.container.privacy is not None
    pid = server.container.privacy.pseudonymise(anonymous_id)
    events = server.container.stores.events.scan()
    assert not any(anonymous_id in (e.user_id, e.anonymous_id) for e in events)
    return [e for e in events if e.anonymous_id == pid]


def wait_for(check: Callable[[], Any], timeout_s: float = 10.0) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        got = check()
        if got:
            return got
        time.sleep(0.1)
    return check()


def types(events: list[Event]) -> set[str]:
    return {e.type.value for e in events}


def test_nothing_is_sent_or_stored_on_the_device_before_consent(server: Server, browser: Any) -> None:
    ctx = browser.new_context(viewport={"width": 1200, "height": 700})
    page = ctx.new_page()
    batches: list[str] = []
    page.on("request", lambda r: batches.append(r.url) if "/v1/batch" in r.url else None)
    page.goto(server.base_url + "/shop")
    aid = page.evaluate("fitloop.anonymousId()")
    page.mouse.wheel(0, 3000)
    page.wait_for_timeout(1500)
    page.click("#card-1 a")  # a click, a navigation, a page hide: all before consent
    page.wait_for_load_state()
    page.wait_for_timeout(800)
    assert batches == []
    assert page.evaluate("localStorage.getItem('fitloop_aid')") is None
    assert stored(server, aid) == []
    ctx.close()


def test_impressions_clicks_dwell_and_scroll_arrive(server: Server, browser: Any) -> None:
    ctx = browser.new_context(viewport={"width": 1200, "height": 700})
    page = ctx.new_page()
    page.goto(server.base_url + "/shop")
    page.click("#consent-accept")
    aid = page.evaluate("fitloop.anonymousId()")
    page.wait_for_timeout(1600)  # cards visible >= 1 s
    page.mouse.wheel(0, 5000)  # to the bottom: 25/50/75/100 %
    page.wait_for_timeout(400)
    page.mouse.wheel(0, -5000)
    page.wait_for_timeout(300)
    page.click("#card-2 a")  # click -> detail page (sent by beacon as the page goes)
    page.wait_for_url("**/shop/items/**")
    page.wait_for_timeout(1800)  # dwell on the detail page
    page.click("#add-to-cart")
    page.goto(server.base_url + "/shop")  # page hide: dwell flushed with sendBeacon
    events = wait_for(lambda: (lambda ev: ev if {"impression", "scroll", "product_clicked", "dwell", "product_viewed",
                                                 "cart_added", "page"} <= types(ev) else None)(stored(server, aid)))
    assert events, f"missing events; got {sorted(types(stored(server, aid)))}"
    clicks = [e for e in events if e.type.value == "product_clicked"]
    assert clicks[0].item_id == "sku-002" and clicks[0].properties["position"] == 2
    depths = sorted(e.properties["depth_pct"] for e in events if e.type.value == "scroll")
    assert depths == [25, 50, 75, 100]
    # the detail page's dwell (its `surface` property is kept only where the privacy manifest lists it)
    dwell = [e for e in events if e.type.value == "dwell" and e.item_id == "sku-002"]
    assert dwell and max(e.properties["dwell_ms"] for e in dwell) >= 1000
    # one impression per card visible >= 1 s in the first viewport (>= 8 cards of 1200x700), none twice per view;
    # which properties are kept (item_id, position, visible_ms) is the privacy manifest's decision
    impressions = [e for e in events if e.type.value == "impression"]
    assert len(impressions) >= 8
    assert all(e.properties.get("visible_ms", 1000) >= 1000 for e in impressions)
    assert all(e.properties["context"]["consent"] == ["analytics", "personalisation"] for e in events)
    # the events panel of the demo shop shows them too
    page.wait_for_timeout(2200)
    assert int(page.inner_text("#events-count")) >= len(events)
    ctx.close()


def test_global_privacy_control_withdraws_sharing(server: Server, browser: Any) -> None:
    ctx = browser.new_context(viewport={"width": 1200, "height": 700})
    ctx.add_init_script(GPC_ON)
    page = ctx.new_page()
    page.goto(server.base_url + "/shop/items/sku-005")
    page.click("#consent-social")  # the shopper says yes to social sharing, but the browser sends GPC
    aid = page.evaluate("fitloop.anonymousId()")
    assert page.evaluate("fitloop.gpc()") is True
    assert page.evaluate("fitloop.track('social_engagement', {action: 'share', content_id: 'c1', content_type: 'influencer'})") is False
    page.click("#share")
    page.click("#favourite")
    page.evaluate("fitloop.flush()")
    events = wait_for(lambda: [e for e in stored(server, aid) if e.type.value == "favourited"])
    assert events and events[0].properties["context"]["gpc"] is True
    page.wait_for_timeout(500)
    assert "social_engagement" not in types(stored(server, aid))
    ctx.close()


def test_events_queued_offline_arrive_after_reconnect(server: Server, browser: Any) -> None:
    ctx = browser.new_context(viewport={"width": 1200, "height": 700})
    page = ctx.new_page()
    page.goto(server.base_url + "/shop/items/sku-007")
    page.click("#consent-accept")
    aid = page.evaluate("fitloop.anonymousId()")
    page.evaluate("fitloop.flush()")
    wait_for(lambda: stored(server, aid))
    ctx.set_offline(True)
    for _ in range(3):
        page.click("#add-to-cart")
    page.evaluate("fitloop.flush()")
    page.wait_for_timeout(1500)
    assert not [e for e in stored(server, aid) if e.type.value == "cart_added"]
    assert page.evaluate("fitloop.queueLength()") >= 3
    assert "cart_added" in page.evaluate("localStorage.getItem('fitloop_queue')")  # survives a reload too
    ctx.set_offline(False)
    carts = wait_for(lambda: (lambda c: c if len(c) == 3 else None)(
        [e for e in stored(server, aid) if e.type.value == "cart_added"]), timeout_s=15)
    assert carts and len(carts) == 3
    ctx.close()
