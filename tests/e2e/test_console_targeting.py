"""In real headless Chromium: a strategy experiment that splits live traffic (created in the console, fed by
shoppers through the API, read and ended in the console), and coupon targeting from chart to CSV.

Set ``FITLOOP_SCREENSHOTS=docs/img`` to also write ``console-experiment-live.png`` and ``console-coupons.png``.
"""

from __future__ import annotations

import base64
import csv
import io
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.test_console import shot, sign_in

pytestmark = pytest.mark.e2e

from fitloop.api import create_app  # noqa: E402
from fitloop.testing.console_shop import ConsoleShop, build_console_shop  # noqa: E402
from fitloop.testing.server import serve_in_thread  # noqa: E402


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, ConsoleShop]]:
    # Larger than the other console suite's shop: coupon targeting learns from 1,500 shoppers' histories.
    cs = build_console_shop(Path(tmp_path_factory.mktemp("e2e-targeting")), n_items=300, n_shoppers=1500,
                            n_events=40_000)
    app = create_app(cs.container.settings, container=cs.container, configure_logs=False)
    with serve_in_thread(app, log_level="warning", lifespan="on") as base:
        yield base, cs
    cs.container.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    """A fresh browser context per test (``browser``: tests/e2e/conftest.py)."""
    ctx = browser.new_context(viewport={"width": 1280, "height": 900})
    pg = ctx.new_page()
    pg.set_default_timeout(30_000)
    yield pg
    ctx.close()


def _arms_table(page: Any) -> dict[str, list[str]]:
    rows = page.locator('[data-testid="arms"] tr')
    out = {}
    for i in range(1, rows.count()):
        cells = [c.strip() for c in rows.nth(i).locator("td").all_inner_texts()]
        out[cells[0][0]] = cells
    return out


def test_live_split_experiment_from_plan_to_end(server: tuple[str, ConsoleShop], page: Any) -> None:
    base, cs = server
    sign_in(page, base, "analyst", next_path="/console/experiments")
    page.fill("#e-name", "Personal lists vs popular for everyone")
    page.fill("#e-hyp", "Personal lists sell more than the popular list")
    page.select_option("#e-kind", "strategy")
    page.select_option("#e-traffic", "live")
    page.select_option("#e-arm-a", "current")
    page.select_option("#e-arm-b", "popularity")
    page.fill("#e-share", "50")
    page.fill("#e-window", "24")
    page.fill("#e-base", "10")
    page.fill("#e-mde", "50")
    page.click('[data-testid="experiment-form"] button')
    page.wait_for_selector('[data-testid="live-split"]')
    assert page.inner_text('[data-testid="split-state"]') == "splitting now"
    exp_id = page.url.rsplit("/", 1)[1]

    # Traffic through the public API: shoppers consent, get lists, and act on them (arm A converts more often).
    _, key, _ = cs.container.ingest.add_source("e2e-web", "ops@shop.example")  # type: ignore[union-attr]
    auth = {"Authorization": "Basic " + base64.b64encode(f"{key}:".encode()).decode()}
    stores = cs.container.stores
    served = {}
    with httpx.Client(base_url=base, timeout=10) as http:
        for i in range(160):
            user = cs.shop.shoppers[i].user_id  # the shop's own ids: the API pseudonymises them
            assert http.post("/v1/consent", json={"user_id": user, "purposes": {"personalisation": True}}).is_success
            served[user] = http.get("/v1/recommendations", params={"user_id": user, "k": 6}).json()
        deadline = time.monotonic() + 10
        while len(stores.impressions.scan(experiment_id=exp_id)) < len(served) and time.monotonic() < deadline:
            time.sleep(0.1)
        arm_of = {imp.request_id: imp.arm for imp in stores.impressions.scan(experiment_id=exp_id)}
        batch = []
        for n, (user, rec) in enumerate(served.items()):
            arm = arm_of[rec["request_id"]]
            item = rec["items"][0]["item_id"]
            batch.append({"type": "track", "event": "Product Clicked", "userId": user, "messageId": f"c{n}",
                          "properties": {"item_id": item}})
            if n % 4 == 0:
                batch.append({"type": "track", "event": "Product Added", "userId": user, "messageId": f"a{n}",
                              "properties": {"item_id": item}})
            if n % 10 < (5 if arm == "A" else 2):
                batch.append({"type": "track", "event": "Order Completed", "userId": user, "messageId": f"o{n}",
                              "properties": {"order_id": f"o{n}", "products": [
                                  {"item_id": item, "price": 30.0 + n % 7, "quantity": 1}]}})
        assert http.post("/v1/batch", json={"batch": batch}, headers=auth).json()["stored"] == len(batch)

    page.click('[data-testid="live-refresh"] button')
    page.wait_for_selector('[data-testid="arms"]')
    page.wait_for_selector("#looks-chart[data-drawn='1'] .main-svg")
    arms = _arms_table(page)
    assert set(arms) == {"A", "B"}
    assert int(arms["A"][1]) + int(arms["B"][1]) == len(served)  # every shopper counted once, in one arm
    assert int(arms["A"][7]) > int(arms["B"][7]) > 0  # buyers
    assert page.locator('[data-testid="verdict"]').is_visible()
    shot(page, "experiment-live")

    page.click('[data-testid="live-end"] button')
    page.wait_for_selector('[data-testid="split-state"]')
    assert page.inner_text('[data-testid="split-state"]') == "ended"
    before = len(stores.impressions.scan(experiment_id=exp_id))
    httpx.get(f"{base}/v1/recommendations", params={"user_id": cs.shop.shoppers[0].user_id, "k": 6})
    time.sleep(0.5)
    assert len(stores.impressions.scan(experiment_id=exp_id)) == before  # normal serving again


def test_coupon_targeting_from_chart_to_csv(server: tuple[str, ConsoleShop], page: Any) -> None:
    base, _ = server
    sign_in(page, base, "marketer", next_path="/console/coupons")
    page.wait_for_selector("#chart-qini[data-drawn='1'] .main-svg")
    page.select_option("#cp-ch", "email")
    page.fill("#cp-disc", "25")
    page.fill("#cp-margin", "50")
    page.click('[data-testid="coupon-form"] button')
    page.wait_for_selector("#chart-profit[data-drawn='1'] .main-svg")
    page.wait_for_selector("#chart-uplift[data-drawn='1'] .main-svg")
    share = page.inner_text('[data-testid="recommended-share"]')
    n_targets = int(page.inner_text('[data-testid="n-targets"]').replace(",", ""))
    assert share.endswith("%") and page.locator('[data-testid="targets"] tr').count() >= 1
    page.locator('[data-testid="recommended-share"]').scroll_into_view_if_needed()
    page.evaluate("window.scrollBy(0, document.querySelector('[data-testid=\"recommended-share\"]')"
                  ".getBoundingClientRect().top - 90)")
    shot(page, "coupons")
    if n_targets == 0:
        page.fill("#cp-share", "20")  # the trial said no share pays; the marketer may still choose one
        page.click('[data-testid="coupon-form"] button')
        page.wait_for_selector('[data-testid="n-targets"]')
        n_targets = int(page.inner_text('[data-testid="n-targets"]').replace(",", ""))
    with page.expect_download() as dl:
        page.click('[data-testid="coupon-export"]')
    rows = list(csv.DictReader(io.StringIO(Path(dl.value.path()).read_text())))
    assert len(rows) == n_targets > 0
    assert all(r["channel"] == "email" and r["user_id"].startswith("p1_") for r in rows)
